"""Applying a trained feed-forward model to images and folders, in batches.

The library never prints: :func:`apply_files` reports each written file to a callback and returns
an :class:`ApplyResult`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import ConfigError
from ..io.images import MIN_SIDE, ImageError, fit_size, load_image, resize, save_image
from ..io.outputs import refuse_existing
from .data import find_images
from .networks import load_model_dir, photo_batch

class StyleModel:
    """A loaded transform network.

    Args:
        model_dir: a folder written by ``tfstyle train`` (``model.json`` + ``model.weights.h5``).

    Raises:
        tfstyle.feedforward.networks.ModelError: the folder is missing or malformed.

    Calling it maps (H, W, 3) or (B, H, W, 3) float RGB in [0, 1] to the same shape, stylised.
    """

    def __init__(self, model_dir: str | os.PathLike):
        import tensorflow as tf

        self.model_dir = Path(model_dir)
        self.keras_model, self.network, self.meta = load_model_dir(model_dir)
        self._fn = tf.function(self.keras_model.__call__, reduce_retracing=True)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        a, single = photo_batch(images)
        out = np.asarray(self._fn(a))
        return out[0] if single else out


@dataclass
class ApplyResult:
    """What :func:`apply_files` did.

    Attributes:
        written: output paths, in input order.
        skipped: ``(path, reason)`` of folder images that could not be read.
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def check_plan(plan, overwrite: bool) -> None:
    """Before any work: ImageError for the first output of ``plan`` (:func:`plan_outputs`) that
    exists, unless ``overwrite``."""
    for _, dst, _ in plan:
        refuse_existing(dst, overwrite, ImageError)


def plan_outputs(inputs, out_dir: str | os.PathLike, suffix: str = ".png") -> list[tuple[Path, Path, bool]]:
    """Expand files and folders into ``(input, output, from_folder)`` triples.

    Folder inputs keep their relative layout under ``out_dir``; files go to ``out_dir/<stem><suffix>``.

    Raises:
        ImageError: an input does not exist, a folder holds no images, or two inputs map to one output.
    """
    out = Path(out_dir)
    plan: list[tuple[Path, Path, bool]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = find_images(p)
            if not found:
                raise ImageError(f"{p}: folder holds no images")
            plan += [(f, out / f.relative_to(p).with_suffix(suffix), True) for f in found]
        elif p.exists():
            plan.append((p, out / (p.stem + suffix), False))
        else:
            raise ImageError(f"{p}: no such file or folder")
    seen: dict[Path, Path] = {}
    for src, dst, _ in plan:
        if dst in seen:
            raise ImageError(f"{src} and {seen[dst]} would both be written to {dst}")
        seen[dst] = src
    return plan


def apply_files(model: StyleModel, inputs, out_dir: str | os.PathLike, size: int | None = None,
                batch_size: int = 4, suffix: str = ".png", overwrite: bool = False,
                callback: Callable[[Path], None] | None = None) -> ApplyResult:
    """Stylise image files and folders (recursively) into ``out_dir``.

    Images are resized so that the longest side is ``size`` (if given) and run in batches of up to
    ``batch_size`` images of equal size. An unreadable image named directly is an error; one found
    in a folder is skipped and listed in the result.

    Raises:
        ImageError: a missing input, an unreadable named image, an output that exists (unless
            ``overwrite``), an output folder that cannot be created.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if size is not None and size < MIN_SIDE:
        raise ConfigError(f"size must be >= {MIN_SIDE}, got {size}")
    plan = plan_outputs(inputs, out_dir, suffix)
    check_plan(plan, overwrite)
    result = ApplyResult()
    pending: list[tuple[np.ndarray, Path]] = []

    def flush():
        if not pending:
            return
        outs = model(np.stack([a for a, _ in pending]))
        for o, dst in zip(outs, (d for _, d in pending)):
            dst.parent.mkdir(parents=True, exist_ok=True)
            save_image(o, dst)
            result.written.append(dst)
            if callback is not None:
                callback(dst)
        pending.clear()

    for src, dst, from_folder in plan:
        try:
            a = load_image(src)
        except ImageError as e:
            if not from_folder:
                raise
            result.skipped.append((src, str(e)))
            continue
        if size is not None:
            a = resize(a, fit_size(a.shape[:2], size))
        if pending and (pending[0][0].shape != a.shape or len(pending) >= batch_size):
            flush()
        pending.append((a, dst))
    flush()
    return result
