"""What every export format shares: the error type, the input signature, calibration photos."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np


class ExportError(ValueError):
    """The export cannot be done (e.g. int8 without photos). One-line message."""


def input_spec():
    """Any batch, height and width of float32 RGB in [0, 1]."""
    import tensorflow as tf

    return tf.TensorSpec([None, None, None, 3], tf.float32, name="image")


def representative_images(data_dir: str | os.PathLike, count: int = 32, size: int = 256,
                          seed: int = 0) -> list[np.ndarray]:
    """Up to ``count`` photos from ``data_dir`` (recursively), centre-cropped squares of side ``size``.

    Unreadable files are skipped. Raises ExportError if none can be read.
    """
    from ..feedforward.data import centre_crops, find_images

    root = Path(data_dir)
    if not root.is_dir():
        raise ExportError(f"{root}: photo folder for int8 calibration does not exist (pass --data)")
    files = find_images(root)
    rng = np.random.default_rng(seed)
    rng.shuffle(files)
    out = centre_crops(files, count, size)
    if not out:
        raise ExportError(f"{root}: no readable photos for int8 calibration")
    return out


def replace_path(new: Path, out: Path) -> None:
    """Put ``new`` where ``out`` is; an existing folder is moved aside first and removed after."""
    if out.is_dir() and not out.is_symlink():
        old = out.with_name(f".{out.name}.{os.getpid()}.old")
        os.replace(out, old)
        os.replace(new, out)
        remove_path(old)
    else:
        os.replace(new, out)


def remove_path(path: Path) -> None:
    """Remove a file, a symlink or a folder tree, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


__all__ = ["ExportError", "input_spec", "representative_images", "replace_path", "remove_path"]
