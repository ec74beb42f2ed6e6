import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfstyle.config import StylizeConfig
from tfstyle.io.images import load_image, resize
from tfstyle.optimize.tiling import TiledStylizer, tile_grid


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


SIDE = 96  # 3x3 tiles of 32 px; with 48 px of context only the centre tile sees the whole image


@pytest.fixture(scope="module")
def pair(content_path, style_path):
    return resize(load_image(content_path), (SIDE, SIDE)), resize(load_image(style_path), (SIDE, SIDE))


def _cfg(**kw):
    base = dict(size=SIDE, steps=3, optimizer="adam", precision="float32", backbone="random")
    base.update(kw)
    return StylizeConfig(**base)


@pytest.fixture(scope="module")
def untiled(pair):
    from tfstyle.optimize.stylizer import Stylizer

    return Stylizer(*pair, _cfg())


@pytest.fixture(scope="module")
def tiled(pair, untiled):
    # 48 px of context: generous, though less than block5_conv1's receptive-field radius (78 px).
    return TiledStylizer(*pair, _cfg(), untiled.weights, tile=32, margin=48)


def _cos(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def probe(pair, untiled):
    rng = np.random.default_rng(0)
    x = np.clip(pair[0] + rng.normal(0, 0.1, pair[0].shape), 0, 1).astype(np.float32)
    total, parts, grad = untiled._value_and_grad(x[None])
    return x, float(total), {k: float(v) for k, v in parts.items()}, grad.numpy()[0]


def test_default_margin_covers_the_receptive_field():
    from tfstyle.backbones import get
    from tfstyle.optimize.tiling import default_margin

    facts = get("vgg19").facts()
    # The classic receptive fields (3x3 convolutions, 2x2 pools): 3 px at conv1_1, 156 px at conv5_1.
    assert facts["block1_conv1"].left + facts["block1_conv1"].right + 1 == 3
    assert facts["block5_conv1"].left + facts["block5_conv1"].right + 1 == 156
    assert facts["block5_conv1"].margin == 70 and facts["block1_pool"].margin == 2
    assert default_margin(facts, ["block1_conv1", "block5_conv1", "block4_conv2"]) == 80
    assert default_margin(facts, ["block1_conv1", "block3_conv1"]) == 12


def test_tiled_targets_match_untiled(untiled, tiled):
    for name, a in untiled.loss.style_targets.items():
        a, b = a.numpy(), tiled.loss.style_targets[name].numpy()
        # 48 px of context covers the receptive field up to block4 (exact), not all of block5_conv1's.
        tol = 0.1 if name.startswith("block5") else 1e-4
        assert np.abs(b - a).max() <= tol * np.abs(a).max(), name
    for name, a in untiled.loss.content_targets.items():
        a, b = a.numpy(), tiled.loss.content_targets[name].numpy()
        assert a.shape == b.shape
        assert np.abs(b - a).mean() <= 0.02 * np.abs(a).mean(), name


@pytest.mark.parametrize("offset", [(0, 0), (16, 0)])
def test_tiled_gradient_matches_untiled(tiled, probe, offset):
    x, total, parts, grad = probe
    tiles = tiled.objective.tiles((SIDE, SIDE), offset)
    assert len(tiles) >= 6 and sum((t.y1 - t.y0) * (t.x1 - t.x0) < SIDE * SIDE for t in tiles) >= 4
    t_total, t_parts, t_grad = tiled.objective.value_and_grad(x, offset)
    assert abs(t_total - total) <= 0.02 * total
    for k, v in parts.items():
        assert abs(t_parts[k] - v) <= 0.05 * abs(v) + 1e-6, k
    cos = _cos(t_grad, grad)
    assert cos > 0.99, cos
    # The forward-only evaluation gives the same loss.
    v_total, v_parts = tiled.objective.value(x, offset)
    assert abs(v_total - t_total) <= 1e-4 * t_total and v_parts.keys() == t_parts.keys()


def test_tiles_are_exact_with_the_default_margin(pair, untiled):
    """Shallow layers (radius 16 px at block3_conv2): 32 px tiles with 16 px of context, far from the
    whole image, give the untiled loss and gradient up to float rounding."""
    from tfstyle.optimize.stylizer import Stylizer
    from tfstyle.optimize.tiling import default_margin

    cfg = _cfg(content_layers=("block3_conv2",), style_layers=(("block1_conv1", 1.0), ("block2_conv1", 1.0),
                                                               ("block3_conv1", 1.0)))
    flat = Stylizer(*pair, cfg, untiled.weights)
    tiled = TiledStylizer(*pair, cfg, untiled.weights, tile=32)
    assert tiled.objective.margin == default_margin(tiled.extractor.facts, ["block3_conv2", "block1_conv1"]) == 16
    x = pair[1]
    total, parts, grad = flat._value_and_grad(x[None])
    t_total, t_parts, t_grad = tiled.objective.value_and_grad(x, (16, 8))
    assert abs(t_total - float(total)) <= 1e-4 * float(total)
    assert _cos(t_grad, grad.numpy()[0]) > 0.9999


def test_margin_is_what_makes_tiles_exact(tiled, probe):
    """Without context the tiles' gradient drifts away from the untiled one."""
    from tfstyle.optimize.tiling import TiledObjective

    x, _, _, grad = probe
    bare = TiledObjective(tiled.extractor, tiled.loss, tile=32, margin=16)
    assert _cos(bare.value_and_grad(x)[2], grad) < _cos(tiled.objective.value_and_grad(x)[2], grad)


def test_tiled_optimisation_lowers_global_loss(tiled, untiled):
    start = tiled.initial_image()
    res = tiled.run()
    assert res.stop_reason == "done" and res.steps == 3 and res.image.shape == (SIDE, SIDE, 3)
    before = float(untiled._value_and_grad(start[None])[0])
    after = float(untiled._value_and_grad(res.image[None])[0])
    assert after < before


@pytest.mark.slow
def test_cli_tile_size(tmp_path, content_path, style_path):
    out = tmp_path / "t.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path), "-o",
                        str(out), "--size", "96", "--steps", "2", "--tile-size", "64", "-q"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert max(np.asarray(Image.open(out)).shape[:2]) == 96
