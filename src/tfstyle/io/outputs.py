"""The checks every command makes of its output path before any work, written once.

A run that would fail to write its result after minutes of work fails first instead, in one line:
the output exists (without ``--overwrite``), is a folder where a file goes or a file where a folder
goes, or its parent folder is missing or not writable. Each caller raises its own error type.
"""

from __future__ import annotations

import os
from pathlib import Path


def refuse_existing(path: str | os.PathLike, overwrite: bool, error: type[Exception]) -> Path:
    """``path`` as a Path; ``error`` if something (a dangling link too) is there and not ``overwrite``."""
    p = Path(path)
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise error(f"{p}: already exists (pass --overwrite to replace it)")
    return p


def check_output(path: str | os.PathLike, overwrite: bool, error: type[Exception],
                 folder: bool | None = None) -> Path:
    """Check an output before any work; returns it as a Path.

    Args:
        path: the file or folder to write.
        overwrite: whether an existing output may be replaced.
        error: the exception class to raise (one-line message).
        folder: True: the output is a folder (an existing file there is refused); False: a file (an
            existing folder there is refused); None: either.

    Raises:
        error: the output exists (unless ``overwrite``) or has the wrong kind, or its parent folder
            does not exist or cannot be written in.
    """
    p = Path(path)
    if folder is False and p.is_dir():
        raise error(f"{p}: is a directory")
    refuse_existing(p, overwrite, error)
    if folder is True and p.exists() and not p.is_dir():
        raise error(f"{p}: exists and is not a folder")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise error(f"{p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise error(f"{p}: cannot write in folder {parent}")
    return p


__all__ = ["check_output", "refuse_existing"]
