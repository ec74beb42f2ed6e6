"""The speed benchmark's code paths (no timings are asserted: speed is the benchmark's business)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import speed  # noqa: E402


def test_time_to_target_is_first_checkpoint_at_or_below():
    trace = [(0, 0.0, 10.0), (5, 1.0, 12.0), (10, 2.0, 7.0), (15, 3.0, 5.0)]
    assert speed.time_to_target(trace, 7.0) == 2.0
    assert speed.time_to_target(trace, 4.0) is None


def test_same_objective_config_makes_tfstyle_loss_a_multiple_of_the_reference(content_path, style_path):
    """tfstyle with baselines.reference_config minimises c * reference objective: check on two images."""
    import baselines
    import tensorflow as tf

    from tfstyle import StylizeConfig
    from tfstyle.backbones.weights import resolve_weights
    from tfstyle.optimize.stylizer import Stylizer

    info = resolve_weights("random")
    content, style = speed._load_images(content_path, style_path, 48)
    fields = baselines.reference_config(info, content, style)
    # float32: the identity is exact there (bfloat16 features would add their own 0.3% rounding).
    st = Stylizer(content, style, StylizeConfig(size=48, precision="float32", **fields), info)
    ref = baselines.ReferenceObjective(info, content, style)
    rng = np.random.default_rng(0)
    ratios = []
    for image in (np.clip(content + rng.normal(0, 0.1, content.shape), 0, 1).astype(np.float32),
                  rng.uniform(0, 1, content.shape).astype(np.float32)):
        total, _, _ = st._value_and_grad(tf.constant(image[None]))
        ratios.append(float(total) / ref(image))
    assert ratios[0] == pytest.approx(ratios[1], rel=1e-3)
    assert ratios[0] == pytest.approx(100.0 / ref(content), rel=1e-3)


@pytest.mark.slow
def test_smoke_run_prints_table_and_writes_json_and_plot(tmp_path):
    # Every row without environment settings runs in-process; one row with them in its own process.
    env_row = next(n for n, m in speed.METHODS.items() if m.env)
    rows = [n for n, m in speed.METHODS.items() if not m.env] + [env_row]
    r = subprocess.run([sys.executable, str(BENCH / "speed.py"), "--smoke", "--in-process", "--out", str(tmp_path),
                        "--methods", ",".join(rows)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((tmp_path / "speed.json").read_text())
    assert set(data["results"]) == set(rows)
    assert np.isfinite(data["target"]) and data["target"] > 0
    for name in rows:
        assert f"| {name} |" in r.stdout
        res = data["results"][name]
        assert res["per_step"]["64"] > 0
        if speed.METHODS[name].quality:
            steps = [s for s, _, _ in res["trace"]]
            assert steps[0] == 0 and len(steps) >= 2
    assert data["results"][env_row]["peak_rss_mib"]["64"] > 100  # its own process: measured
    with Image.open(tmp_path / "speed.png") as im:
        assert im.format == "PNG" and im.size[0] > 100


def test_unknown_method_is_an_error(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / "speed.py"), "--smoke", "--methods", "nope", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "unknown method 'nope'" in r.stderr
    assert not (tmp_path / "speed.json").exists()


@pytest.mark.slow
def test_levers_custom_parameterisations_and_library_variants_run(tmp_path):
    """bench/levers.py: each custom parameterisation starts at the content image (its first checkpoint
    scores the content) and moves; a library variant, the Adam-then-L-BFGS hand-over and the two-scale
    loop with a warm-up, a later start of the fine scale's schedule and the content's detail run."""
    out = tmp_path / "levers.json"
    names = ["fourier parameterisation", "fourier, decorrelated colour", "pyramid parameterisation",
             "cosine schedule", "handover", "two scales, warm-up"]
    custom = {"handover": {"switch": 1, "steps": 3},
              "two scales, warm-up": {"coarse": 32, "coarse_steps": 1, "steps": 4, "warmup": 2,
                                      "fine_from": 2, "detail": 0.5}}
    r = subprocess.run([sys.executable, str(BENCH / "levers.py"), "--size", "48", "--target", "1e-9",
                        "--every", "1", "--max-steps", "3", "--variants", ";".join(names),
                        "--custom", json.dumps(custom), "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out.read_text())
    for name in names:
        assert f"| {name} | - |" in r.stdout  # a target of 1e-9 is never reached
        values = [t[3] for t in data[name]]
        assert len(values) >= 3 and np.isfinite(values).all()
        if name != "cosine schedule":  # the custom loop: the step-0 value is the content's own
            assert values[1] != values[0]


def test_levers_refuses_unknown_variants_before_any_work():
    r = subprocess.run([sys.executable, str(BENCH / "levers.py"), "--variants", "default;no such lever"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown variants ['no such lever']" in r.stderr


@pytest.mark.parametrize("kind,colour", [("pixels", "rgb"), ("pixels", "decorrelated"), ("pyramid", "rgb"),
                                         ("fourier", "rgb"), ("fourier", "decorrelated")])
def test_levers_parameterisations_start_at_the_image_and_project_into_range(kind, colour):
    import levers

    rng = np.random.default_rng(0)
    x0 = rng.uniform(0, 1, (20, 27, 3)).astype(np.float32)
    par = levers._Param(x0, kind, colour)
    np.testing.assert_allclose(par.image().numpy()[0], x0, atol=2e-5)
    for v in par.variables:
        v.assign_add(rng.normal(0, 3, v.shape).astype(np.float32))
    assert par.image().numpy().min() < -0.5
    par.project()
    y = par.image().numpy()[0]
    assert y.min() >= -1e-4 and y.max() <= 1 + 1e-4


@pytest.mark.slow
def test_final_loss_compares_a_setting_with_the_defaults(tmp_path):
    out = tmp_path / "final.json"
    r = subprocess.run([sys.executable, str(BENCH / "final_loss.py"), "--size", "32", "--steps", "4", "--at", "2",
                        "--set", "lr_schedule=exponential", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["set"] == {"lr_schedule": "exponential"}
    assert [p["config"] for p in data["pairs"]] == ["defaults", "lr_schedule=exponential"] * 3
    assert all(np.isfinite(p["final"]) and len(p["history"]) == 4 for p in data["pairs"])
    assert r.stdout.count("changed / defaults") == 3


def test_train_benchmark_compares_convolutions_in_own_processes(tmp_path):
    out = tmp_path / "train.json"
    args = ["--archs", "light", "--convs", "direct,winograd", "--steps", "4", "--warmup", "1", "--image-size", "64",
            "--batch-size", "2", "--precision", "float32", "--json", str(out)]  # float32: winograd needs it
    r = subprocess.run([sys.executable, str(BENCH / "bench_train.py"), *args], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [(x["arch"], x["conv"]) for x in rows] == [("light", "direct"), ("light", "winograd")]
    assert all(x["per_step"] > 0 and x["peak_rss_mib"] > 100 for x in rows)
    # the same arithmetic: the same losses (float32 rounding apart)
    assert rows[1]["loss"] == pytest.approx(rows[0]["loss"], rel=1e-3)
    assert "| light | winograd |" in r.stdout and "vs direct" in r.stdout


def test_winograd_bench_columns_compute_the_convolution_and_its_gradient():
    import winograd

    rng = np.random.default_rng(0)
    g = rng.standard_normal((3, 3, 8, 16)).astype(np.float32) / 8
    row = winograd.measure("odd", (10, 13, 8), g, seconds=0.01, keys=("F4", "F4X", "D16", "F4B"))
    # errors against tf.nn.conv2d and its autodiff gradient, relative to the largest value
    assert row["errF4"] < 1e-4 and row["errF4X"] < 1e-4
    # bfloat16: one rounding of inputs and kernels; with Winograd's transforms amplifying it
    assert 1e-4 < row["errD16"] < 2e-2 and row["errD16"] < row["errF4B"] < 0.3
    assert all(row[k] > 0 for k in ("direct", "F4", "F4X", "D16", "F4B"))


def test_winograd_bench_refuses_unknown_columns():
    r = subprocess.run([sys.executable, str(BENCH / "winograd.py"), "--algorithms", "F4,F5"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--algorithms: choose from" in r.stderr


def test_ttq_search_finds_the_smallest_budget_on_the_grid_that_reaches_the_target():
    """bench/ttq.py's budget search against a made-up monotone quality curve: it probes upward, then
    bisects, and returns the first budget on the grid at or below the target."""
    import argparse

    import ttq

    class Fake(ttq.Bench):
        def __init__(self, a):
            self.a, self.calls = a, []

        def stylize(self, flags, steps, env_extra=None):
            self.calls.append(steps)
            return 1.0, 100.0 / steps  # reaches 0.8 from 125 steps on

    a = argparse.Namespace(grid=10, start=40, max_steps=400, smoke=True)  # smoke: --start, not ROW_START
    b = Fake(a)
    r = b.search("tfstyle default", [], 0.8, lambda msg: None)
    assert r["steps"] == 130  # 125 is off the grid
    assert b.calls == [40, 50, 70, 110, 190, 150, 130, 120]  # up in growing strides, then bisection
    a.start = 150
    b = Fake(a)
    assert b.search("tfstyle default", [], 0.8, lambda msg: None)["steps"] == 130
    assert b.calls == [150, 140, 130, 120]  # a first guess above: down the grid until it misses
    assert all(v == (1.0, 100.0 / k) for k, v in r["probes"].items())
    assert Fake(a).search("x", [], 0.01, lambda msg: None)["steps"] is None  # never reached within 400


@pytest.mark.slow
def test_ttq_smoke_times_whole_commands_and_writes_json_and_markdown(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / "ttq.py"), "--smoke", "--rows", "tfstyle default",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert r.returncode in (0, 1), r.stderr[-2000:]  # 1: a row did not reach the target in 3 steps
    data = json.loads((tmp_path / "ttq_48.json").read_text())
    tut = data["rows"]["tutorial loop"]
    assert len(tut["seconds"]) == 2 and min(tut["seconds"]) > 0 and np.isfinite(data["target"])
    row = data["rows"]["tfstyle default"]
    assert row["probes"] and all(s > 0 and np.isfinite(v) for s, v in row["probes"].values())
    assert "| tutorial loop (target) | 3 |" in r.stdout and "| tfstyle default |" in r.stdout
    assert "Model name" in data["lscpu"] and "`lscpu` flags:" in (tmp_path / "ttq_48.md").read_text()


def test_ceiling_plan_and_ratios_follow_the_default_command():
    """bench/ceiling.py: the default plan's scales and steps, and the ratios its table derives."""
    import ceiling

    assert ceiling.plan(256, 80) == [(256, 80)]
    assert ceiling.plan(512, 120) == [(256, 40), (512, 80)]
    m = {"size": 256, "ref_steps": 400, "budget": 80, "cpu": "x", "command": "c", "precision": "p",
         "tutorial_command": 100.0, "tutorial_step": 0.2, "target": 1.0, "tfstyle_command": 20.0,
         "tfstyle_value": 0.9, "import": 2.0,
         "plan": [{"scale": 256, "steps": 80, "tfstyle_step": 0.135, "network_step": 0.1, "network_step_f4b": 0.05}],
         "f4b": {"default": [10.0, 0.9], "probes": {80: [9.0, 1.1], 90: [8.0, 0.95]}, "steps": 90}}
    text = ceiling.report(m)
    assert "| tfstyle default, whole command (measured) | 5.0x |" in text
    assert "| import + tfstyle's 80 steps (no set-up, tracing or writing) | 7.8x |" in text  # 100 / (2 + 10.8)
    assert "| import + 80 steps of the loss network alone (the floor) | 10.0x |" in text
    assert "| steps that 10x leaves at that floor (import included) | 80 |" in text  # (10 - 2) / 0.1
    assert "| default (p, direct convolutions) | 80 | 10.0 | 0.9 | 1.00x |" in text
    assert ("| Winograd F(4x4, 3x3), bfloat16 products (probes: 80: 1.1 in 9.0 s, 90: 0.95 in 8.0 s) | 90 | 8.0 | "
            "0.95 | 1.25x |") in text


@pytest.mark.slow
def test_ceiling_smoke_measures_every_piece_and_writes_json_and_markdown(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / "ceiling.py"), "--smoke", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((tmp_path / "ceiling_48.json").read_text())
    assert min(data["tutorial_command"], data["tfstyle_command"], data["import"], data["tutorial_step"]) > 0
    (row,) = data["plan"]
    assert row["scale"] == 48 and row["steps"] == 2
    assert min(row["tfstyle_step"], row["network_step"], row["network_step_f4b"]) > 0
    assert data["f4b"]["probes"] and all(s > 0 and np.isfinite(v) for s, v in data["f4b"]["probes"].values())
    assert data["f4b"]["default"][0] > 0 and "bfloat16 products" in r.stdout
    assert "| the tutorial's whole command over | ratio |" in r.stdout
    assert "`lscpu` flags:" in (tmp_path / "ceiling_48.md").read_text()
