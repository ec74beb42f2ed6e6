import json
import subprocess
import sys
from pathlib import Path

import pytest

from tfstyle.backbones import get
from tfstyle.config import StylizeConfig
from tfstyle.optimize.memory import (GIB, MemoryLimitError, activation_bytes, estimate_step, plan_scale)

VGG19 = get("vgg19")
LAYERS = ["block4_conv2", "block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]


def test_activation_bytes_match_the_real_network():
    """Element count of every layer up to block5_conv1, read from the Keras model's own shapes."""
    import numpy as np

    from tfstyle.backbones.extractor import build_model
    from tfstyle.backbones.vgg import VGG19_LAYERS as VGG_LAYERS
    from tfstyle.backbones.weights import WeightsInfo

    model = build_model(WeightsInfo(None, "random", "random"))
    h, w = 96, 80
    x = np.zeros((1, h, w, 3), np.float32)
    import keras

    names = VGG_LAYERS[: VGG_LAYERS.index("block5_conv1") + 1]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    elements = sum(int(np.prod(o.shape)) for o in probe(x))
    casts = sum(int(np.prod(o.shape)) for n, o in zip(names, probe(x)) if n in LAYERS)
    inputs = 2 * 3 * h * w * 4
    assert activation_bytes((h, w), LAYERS, "float32", VGG19) == inputs + 4 * elements + 4 * casts
    assert activation_bytes((h, w), LAYERS, "mixed_bfloat16", VGG19) == inputs + 2 * elements + 4 * casts


def test_estimate_is_dtype_aware_and_grows_with_pixels():
    cfg = StylizeConfig(conv_algorithm="direct")  # Winograd's float32 workspace has its own test
    f32 = estimate_step((1024, 1024), cfg, VGG19, optimizer="adam", policy="float32")
    bf16 = estimate_step((1024, 1024), cfg, VGG19, optimizer="adam", policy="mixed_bfloat16")
    assert bf16.activations < f32.activations < 2 * bf16.activations
    big = estimate_step((2048, 2048), cfg, VGG19, optimizer="adam", policy="float32")
    assert 3.9 < big.activations / f32.activations < 4.1
    lbfgs = estimate_step((1024, 1024), cfg, VGG19, optimizer="lbfgs", policy="float32")
    assert lbfgs.buffers > f32.buffers  # L-BFGS keeps 20 float64 vector pairs


def test_plan_4096_tiles_within_24_gib():
    cfg = StylizeConfig(size=4096, precision="float32", optimizer="lbfgs")
    hw = (4096, 4096)
    # With enough memory: untiled, as configured (without oneDNN the estimate counts an unfolded
    # copy of block1_conv2's input, 36 GiB at 4096 px, so "enough" is more than 100 GiB there).
    tile, opt, est = plan_scale(hw, cfg, VGG19, 200 * GIB)
    assert tile == 0 and opt == "lbfgs"
    tile, opt, est = plan_scale(hw, cfg, VGG19, 16 * GIB)
    assert 0 < tile < 4096 and opt == "adam" and est <= 0.8 * 16 * GIB
    assert estimate_step(hw, cfg, VGG19, 0, "adam").total > 16 * GIB  # untiled would not have fit
    smaller, _, _ = plan_scale(hw, cfg, VGG19, 8 * GIB)
    assert 0 < smaller < tile
    with pytest.raises(MemoryLimitError, match=r"4096x4096 step in tiles of 128 px needs an estimated "
                                               r"[0-9.]+ GiB, more than the 1.0 GiB limit \(available RAM\)"):
        plan_scale(hw, cfg, VGG19, 1 * GIB)


def test_forced_tile_size():
    cfg = StylizeConfig(size=2048, tile_size=512, precision="float32")
    assert plan_scale((2048, 1536), cfg, VGG19, 100 * GIB)[:2] == (512, "adam")
    assert plan_scale((512, 384), cfg, VGG19, 100 * GIB)[0] == 0  # a scale within one tile runs whole
    with pytest.raises(MemoryLimitError, match="tiles of 512 px"):
        plan_scale((2048, 1536), cfg.replace(memory_limit=0.5), VGG19, int(0.5 * GIB))


def test_cli_refuses_a_run_that_cannot_fit(tmp_path, content_path, style_path):
    out = tmp_path / "big.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path), "-o",
                        str(out), "--size", "4096", "--memory-limit", "0.5"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    err = [line for line in r.stderr.splitlines() if line.startswith("tfstyle: error")]
    assert len(err) == 1 and "0.5 GiB limit (--memory-limit)" in err[0], r.stderr
    assert "a 4096x2725 step in tiles of 128 px needs an estimated" in err[0]
    assert "Traceback" not in r.stderr and not out.exists()


@pytest.mark.parametrize("text, gib", [("3GiB", 3.0), ("3G", 3.0), ("3g", 3.0), ("3 GiB", 3.0), ("3000MB", 3e9 / 2**30),
                                       ("512MiB", 0.5), ("3.5", 3.5), ("2", 2.0), ("0", 0.0), ("1.5T", 1536.0)])
def test_memory_limit_takes_what_people_type(text, gib):
    from tfstyle.config import parse_memory

    assert parse_memory(text) == pytest.approx(gib, rel=1e-12)


@pytest.mark.parametrize("limit", ["512MiB", "0.5G", "536.870912MB"])
def test_cli_memory_limit_with_units_refuses_the_same_run(limit, tmp_path, content_path, style_path, capsys):
    from tfstyle.cli import main

    out = tmp_path / "big.png"
    assert main(["stylize", str(content_path), str(style_path), "-o", str(out), "--size", "4096",
                 "--memory-limit", limit]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0.5 GiB limit (--memory-limit)" in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("limit", ["3XB", "GiB", "-1", "3 G B", "three", "1e999"])
def test_cli_memory_limit_bad_text_is_one_line_exit_2(limit, tmp_path, content_path, style_path, capsys):
    from tfstyle.cli import main

    assert main(["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png"),
                 "--memory-limit", limit]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--memory-limit: memory_limit: {limit!r}" in err[0], err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_estimate_close_to_measured_peak_rss():
    """The calibrated estimate against a real run's peak RSS (bench/calibrate_memory.py, one size)."""
    bench = Path(__file__).resolve().parents[1] / "bench" / "calibrate_memory.py"
    r = subprocess.run([sys.executable, str(bench), "--child", "256", "adam", "0", "2", "float32", "vgg19"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert 0.7 < d["estimate"] / d["rss"] < 1.5, d
