"""Photos for feed-forward training and application: finding them, checking them, the tf.data pipeline.

The training pipeline decodes with Pillow (any format; corrupt files are skipped and counted),
randomly resizes the shorter side to 1-1.5x the crop size, crops a random square, flips, shuffles and
batches (:func:`photo_dataset`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io import images


class DataError(ValueError):
    """The photo folder is missing, empty or holds no readable photo. One-line message."""


# Suffixes treated as images when a folder is given (any of them that Pillow can read).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm",
                  ".pnm", ".jfif", ".tga")


def find_images(folder: str | os.PathLike) -> list[Path]:
    """Every file under ``folder`` (recursively, sorted) whose suffix is a common image suffix."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def centre_crops(files, count: int, size: int) -> list[np.ndarray]:
    """Up to ``count`` centre-cropped squares of side ``size`` from ``files``, skipping unreadable ones.

    Returns:
        A list of (size, size, 3) float32 RGB [0, 1] arrays.
    """
    out = []
    for f in files:
        if len(out) >= count:
            break
        try:
            a = images.load_image(f, shrink_to=size)
        except images.ImageError:
            continue
        h, w = a.shape[:2]
        s = min(h, w)
        a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        out.append(images.resize(a, (size, size)))
    return out


def find_photos(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursive). Raises DataError if the folder is missing or empty."""
    root = Path(folder)
    if not root.exists():
        raise DataError(f"{root}: photo folder does not exist")
    if not root.is_dir():
        raise DataError(f"{root}: is not a folder of photos")
    files = find_images(root)
    if not files:
        raise DataError(f"{root}: holds no image files (.jpg, .png, .webp, ...)")
    return files


def scan_photos(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """Split files into (readable headers, unreadable) without decoding pixels.

    Raises DataError if none is readable. Files with a good header that fail to decode later are
    skipped by the pipeline and counted then.
    """
    from PIL import Image

    ok, bad = [], []
    for f in files:
        try:
            with Image.open(f) as im:
                w, h = im.size
            (ok if min(w, h) >= images.MIN_SIDE else bad).append(f)
        except Exception:  # noqa: BLE001 - any Pillow failure means "not a readable photo"
            bad.append(f)
    if not ok:
        raise DataError(f"{files[0].parent}: no readable photos among {len(files)} image files")
    return ok, bad


class _DecodeStats:
    """Files the pipeline could not decode (shared with the Python generators)."""

    def __init__(self):
        self.bad: set[Path] = set()


def _decoded(paths, load, workers: int):
    """``(path, image or None)`` for ``paths`` in order, decoded by ``workers`` threads (Pillow
    releases the GIL while it decodes) with at most ``2 * workers`` images in flight."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    if workers <= 1:
        for p in paths:
            yield p, load(p)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="tfstyle-decode") as pool:
        pending: deque = deque()
        for p in paths:
            pending.append((p, pool.submit(load, p)))
            if len(pending) >= 2 * workers:
                q, f = pending.popleft()
                yield q, f.result()
        while pending:
            q, f = pending.popleft()
            yield q, f.result()


def photo_dataset(files: list[Path], image_size: int, batch_size: int, accumulate: int, seed: int,
                  shard: tuple[int, int] = (0, 1), stats: _DecodeStats | None = None, augment=None,
                  decode_max: int | None = None, workers: int | None = None):
    """``tf.data`` pipeline of training crops.

    Decode (Pillow, any format, skipping corrupt files; ``workers`` threads, default one per core),
    random resize of the shorter side to 1..1.5 x ``image_size``, random square crop, random
    horizontal flip, ``augment`` if given, shuffle, batch, prefetch.

    Args:
        files: photo paths. shard: (index, count): this input pipeline reads files[index::count].
        batch_size: photos per micro-batch; accumulate: micro-batches per element.
        seed: seeds file order, crops, flips and shuffling.
        augment: ``augment(crop, seed) -> crop`` on each (image_size, image_size, 3) crop, ``seed`` a
            (2,) int32 stateless seed (the style augmentation of arbitrary-style training).
        decode_max: decode to at most this side (default: shrunk toward ``image_size``).

    Returns:
        A dataset of (accumulate, batch_size, image_size, image_size, 3) float32 RGB [0, 1].
    """
    import tensorflow as tf

    index, count = shard
    mine = files[index::count] or files
    stats = stats or _DecodeStats()
    workers = workers or max(1, min(8, os.cpu_count() or 1))

    def load(path):
        try:
            return images.load_image(path, shrink_to=decode_max or image_size)
        except images.ImageError:
            return None

    def gen():
        rng = np.random.default_rng([seed, index])
        while True:
            good = 0
            for path, a in _decoded([mine[i] for i in rng.permutation(len(mine))], load, workers):
                if a is None:
                    stats.bad.add(path)
                    continue
                good += 1
                yield a
            if good == 0:
                return  # nothing decodes: the dataset ends and the trainer reports it

    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec((None, None, 3), tf.float32))
    seeds = tf.data.Dataset.random(seed=seed * 7919 + index).batch(2)  # (2,) int64 per photo

    def crop(img, s):
        s = tf.cast(s, tf.int32) % (2**31 - 1)
        hw = tf.cast(tf.shape(img)[:2], tf.float32)
        target = image_size * tf.random.stateless_uniform([], s, 1.0, 1.5)
        scale = target / tf.reduce_min(hw)
        new_hw = tf.maximum(tf.cast(tf.math.ceil(hw * scale), tf.int32), image_size)
        img = tf.image.resize(img, new_hw, method="bilinear", antialias=True)
        img = tf.image.stateless_random_crop(img, [image_size, image_size, 3], seed=s + [0, 1])
        img = tf.image.stateless_random_flip_left_right(img, seed=s + [0, 2])
        if augment is not None:
            img = augment(img, s + [0, 3])
        return tf.clip_by_value(img, 0.0, 1.0)

    ds = tf.data.Dataset.zip((ds, seeds)).map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.shuffle(64, seed=seed).batch(batch_size, drop_remainder=True)
    return ds.batch(accumulate, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


__all__ = ["DataError", "IMAGE_SUFFIXES", "find_images", "centre_crops", "find_photos", "scan_photos",
           "photo_dataset"]
