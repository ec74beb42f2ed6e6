"""Helpers of the feed-forward tests: training photos and tiny configurations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from tfstyle.config import NetworkConfig, TrainConfig

# Few channels, one residual block: seconds per test, same code paths as the real presets.
TINY_NET = NetworkConfig(filters=(8, 16, 16), residual_blocks=1, separable=False, outer_kernel=3)
TINY_LIGHT_NET = NetworkConfig(filters=(8, 16, 16), residual_blocks=1, separable=True, outer_kernel=3)
# A shallow loss network (VGG19 truncated after block2_conv2) at 32 px crops.
TINY_TRAIN = TrainConfig(steps=10, batch_size=2, image_size=32, style_size=64, lr=1e-2, checkpoint_every=5,
                         content_layers=("block2_conv2",),
                         style_layers=(("block1_conv1", 1.0), ("block2_conv1", 1.0)),
                         backbone="random", precision="float32", strategy="default")


def make_photos(folder: Path, shared: Path, n: int = 12, seed: int = 0, corrupt: int = 1) -> Path:
    """Write ``n`` training photos (random crops, flips and colour jitter of the shared content
    photos) in several formats and subfolders, plus ``corrupt`` unreadable files."""
    rng = np.random.default_rng(seed)
    sources = sorted((shared / "content").iterdir())
    folder.mkdir(parents=True, exist_ok=True)
    formats = [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")]
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = int(min(w, h) * rng.uniform(0.5, 0.9))
            x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
            im = im.crop((x, y, x + s, y + s)).resize((96, 96), Image.Resampling.LANCZOS)
            if rng.random() < 0.5:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            im = ImageEnhance.Color(im).enhance(rng.uniform(0.6, 1.4))
            im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.8, 1.2))
            ext, fmt = formats[i % len(formats)]
            sub = folder / f"set{i % 2}"
            sub.mkdir(exist_ok=True)
            im.save(sub / f"photo{i:02d}.{ext}", format=fmt)
    for j in range(corrupt):
        (folder / f"broken{j}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def randomize_norms(model, seed: int):
    """Give the instance norms random scales and shifts (so that every weight of a random network
    matters to a parity test); returns the model."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.path.endswith("gamma"):
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
        elif w.path.endswith("beta"):
            w.assign(rng.normal(0, 0.3, w.shape).astype(np.float32))
    return model
