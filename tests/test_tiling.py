import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfstyle.config import StylizeConfig
from tfstyle.image import load_image, resize
from tfstyle.tiling import TiledStylizer, tile_grid


@pytest.mark.parametrize("hw,tile,offset", [((128, 128), 32, (0, 0)), ((100, 77), 32, (16, 0)),
                                           ((128, 96), 64, (48, 32)), ((40, 200), 64, (0, 48))])
def test_cores_partition_the_image(hw, tile, offset):
    count = np.zeros(hw, int)
    tiles = tile_grid(hw, tile, margin=32, offset=offset)
    for t in tiles:
        count[t.cy0:t.cy1, t.cx0:t.cx1] += 1
        assert t.y0 <= t.cy0 < t.cy1 <= t.y1 and t.x0 <= t.cx0 < t.cx1 <= t.x1
        assert t.cy0 % 16 == 0 and t.cx0 % 16 == 0 and t.y0 % 16 == 0 and t.x0 % 16 == 0
        assert t.cy1 - t.cy0 <= tile + tile // 4 and t.cx1 - t.cx0 <= tile + tile // 4
        assert t.cy0 - t.y0 == min(32, t.cy0) and t.y1 - t.cy1 == min(32, hw[0] - t.cy1)
    assert (count == 1).all()


@pytest.fixture(scope="module")
def pair(content_path, style_path):
    return resize(load_image(content_path), (128, 128)), resize(load_image(style_path), (128, 128))


def _cfg(**kw):
    base = dict(size=128, steps=4, optimizer="adam", precision="float32", backbone="random")
    base.update(kw)
    return StylizeConfig(**base)


@pytest.fixture(scope="module")
def untiled(pair):
    from tfstyle.optimize import Stylizer

    return Stylizer(*pair, _cfg())


def _cos(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("offset", [(0, 0), (16, 48)])
def test_tiled_gradient_matches_untiled(pair, untiled, offset):
    tiled = TiledStylizer(*pair, _cfg(), untiled.weights, tile=32, margin=48)
    # 16 tiles whose extents (at most 128 px... clipped) do not all cover the whole image.
    tiles = tiled.objective.tiles((128, 128), offset)
    assert len(tiles) >= 9 and any((t.y1 - t.y0) * (t.x1 - t.x0) < 128 * 128 for t in tiles)
    # Targets computed in tiles match the untiled ones.
    for name, a in untiled.loss.style_targets.items():
        b = tiled.loss.style_targets[name].numpy()
        assert np.abs(b - a.numpy()).max() <= 0.02 * np.abs(a.numpy()).max(), name
    rng = np.random.default_rng(0)
    x = np.clip(pair[0] + rng.normal(0, 0.1, pair[0].shape), 0, 1).astype(np.float32)
    total, parts, grad = untiled._value_and_grad(x[None])
    t_total, t_parts, t_grad = tiled.objective.value_and_grad(x, offset)
    assert abs(t_total - float(total)) <= 0.02 * float(total)
    for k, v in parts.items():
        assert abs(t_parts[k] - float(v)) <= 0.05 * abs(float(v)) + 1e-6, k
    cos = _cos(t_grad, grad.numpy()[0])
    assert cos > 0.99, cos


def test_small_margin_is_worse_than_generous(pair, untiled):
    """The margin is what makes the tiles exact: without context the gradient drifts away."""
    x = pair[0]
    grad = untiled._value_and_grad(x[None])[2].numpy()[0]
    cos = {}
    for margin in (0 + 16, 48):
        tiled = TiledStylizer(*pair, _cfg(), untiled.weights, tile=32, margin=margin)
        cos[margin] = _cos(tiled.objective.value_and_grad(x)[2], grad)
    assert cos[48] > cos[16]


def test_tiled_optimisation_lowers_global_loss(pair, untiled):
    tiled = TiledStylizer(*pair, _cfg(steps=6), untiled.weights, tile=32, margin=32)
    start = tiled.initial_image()
    res = tiled.run()
    assert res.stop_reason == "done" and res.steps == 6 and res.image.shape == (128, 128, 3)
    before = float(untiled._value_and_grad(start[None])[0])
    after = float(untiled._value_and_grad(res.image[None])[0])
    assert after < before


def test_cli_tile_size(tmp_path, content_path, style_path):
    out = tmp_path / "t.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path), "-o",
                        str(out), "--size", "128", "--steps", "2", "--tile-size", "64", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert max(np.asarray(Image.open(out)).shape[:2]) == 128
