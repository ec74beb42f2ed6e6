"""Helpers of the cluster tests: a tiny model folder and a collection of small images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Sizes of the collection's images: three shapes, so batches of equal sizes form and break.
SHAPES = ((32, 32), (48, 32), (40, 56))


def tiny_model(folder: Path, seed: int = 3, style: str = "/paintings/starry_night.jpg") -> Path:
    """The tiny transform network with random weights, instance-norm scales and shifts included (so
    that every weight matters), as a model folder whose style is ``style``."""
    from ffdata import TINY_NET, randomize_norms

    from tfstyle.feedforward.networks import build_transform_net, save_model_dir

    model = randomize_norms(build_transform_net(TINY_NET, seed=seed), seed)
    return save_model_dir(model, TINY_NET, folder, {"style": style})


def collection(folder: Path, n: int = 240, seed: int = 0) -> tuple[Path, list[str]]:
    """``n`` small images (PNG and JPEG, three sizes, three subfolders) and three unreadable files
    (garbage, empty, a PNG cut short). Returns the folder and the unreadable files' relative paths."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        d = folder / f"part{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        h, w = SHAPES[i % len(SHAPES)]
        small = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
        Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR).save(d / f"im{i:03d}.{('png', 'jpg')[i % 2]}")
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "part1" / "empty.png").write_bytes(b"")
    whole = (folder / "part0" / "im000.png").read_bytes()
    (folder / "part2" / "cut.png").write_bytes(whole[: len(whole) // 2])
    return folder, ["garbage.jpg", "part1/empty.png", "part2/cut.png"]


def same_pictures(out: Path, reference: Path) -> int:
    """Assert every image under ``reference`` has its twin under ``out`` (and no other): equal pixels
    up to one level of 8-bit rounding, PSNR >= 40 dB. Returns how many are bit-identical."""
    want = sorted(p.relative_to(reference) for p in reference.rglob("*.png"))
    got = sorted(p.relative_to(out) for p in out.rglob("*.png"))
    assert got == want, (set(got) ^ set(want))
    identical = 0
    for rel in want:
        a = np.asarray(Image.open(reference / rel), np.float64)
        b = np.asarray(Image.open(out / rel), np.float64)
        assert a.shape == b.shape, rel
        diff = np.abs(a - b)
        assert diff.max() <= 1, (rel, diff.max())
        mse = np.mean((diff / 255) ** 2)
        assert mse == 0 or 10 * np.log10(1 / mse) >= 40, rel
        identical += bool(mse == 0)
    return identical
