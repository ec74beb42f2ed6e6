"""Which paintings stylise which image: reproducible from a seed and the image's path alone.

The Stylized-ImageNet recipe gives each photo a painting chosen at random; here the choice is a pure
function of ``(seed, image key, paintings)`` so that any worker, any rerun and any machine agrees
without sharing state, and a subset of a collection gets the same paintings as the whole.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

from ..feedforward.data import find_images
from . import ClusterError


def choose_styles(seed: int, key: str, paintings: Sequence[str], k: int = 1) -> list[str]:
    """``k`` distinct paintings for the image named ``key``.

    Args:
        seed: the job's seed (a non-negative integer).
        key: the image's path relative to the folder it was found in (its output name without the
            suffix follows from it), so moving the collection keeps the choice.
        paintings: the candidates; their order does not matter (they are sorted first).
        k: how many, at most ``len(paintings)``.

    Returns:
        ``k`` paintings in the order chosen (the first is copy 0).

    The i-th draw is SHA-256 of (seed, key, i) modulo the number of paintings, repeated draws are
    redrawn: independent of NumPy's or Python's random streams, which may change between versions.
    """
    pool = sorted(paintings)
    if not pool:
        raise ClusterError("no paintings to choose from")
    if not 1 <= k <= len(pool):
        raise ClusterError(f"styles per image must be in 1..{len(pool)} (the paintings given), got {k}")
    chosen: list[str] = []
    taken: set[int] = set()
    i = 0
    while len(chosen) < k:
        digest = hashlib.sha256(f"{seed}\0{key}\0{i}".encode("utf-8", "surrogateescape")).digest()
        j = int.from_bytes(digest[:8], "big") % len(pool)
        i += 1
        if j not in taken:
            taken.add(j)
            chosen.append(pool[j])
    return chosen


def find_paintings(path: str | os.PathLike) -> list[Path]:
    """The paintings of ``--styles``: a folder (searched recursively) or one image file."""
    p = Path(path)
    if p.is_dir():
        found = find_images(p)
        if not found:
            raise ClusterError(f"{p}: style folder holds no images")
        return found
    if p.is_file():
        return [p]
    raise ClusterError(f"{p}: no such style file or folder")
