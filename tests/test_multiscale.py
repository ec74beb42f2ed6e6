import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfstyle.backbones import get
from tfstyle.config import ConfigError, StylizeConfig, parse_scales
from tfstyle.io.images import load_image
from tfstyle.optimize.multiscale import MultiScaleStylizer, auto_scales, plan_scales, split_steps


def test_auto_scales_halve_down_to_256():
    assert auto_scales(300) == (300,)
    assert auto_scales(512) == (256, 512)
    assert auto_scales(1024) == (256, 512, 1024)
    assert auto_scales(4096) == (256, 512, 1024, 2048, 4096)


@pytest.mark.parametrize("total,n", [(300, 3), (7, 3), (3, 3), (2, 3), (1000, 5), (10, 1)])
def test_split_steps_sum_and_equal(total, n):
    parts = split_steps(total, n)
    assert sum(parts) == total and len(parts) == n
    assert parts == sorted(parts)  # the finer scales take the remainder (or, short of steps, the coarse go)
    if total >= n:
        assert min(parts) >= 1 and max(parts) - min(parts) <= 1
    assert split_steps(300, 3) == [100, 100, 100] and split_steps(7, 3) == [2, 2, 3]


def test_split_steps_with_a_ratio_gives_coarse_scales_more():
    assert split_steps(300, 3, 2.0) == [171, 86, 43]
    assert split_steps(100, 3, 3.0) == [68, 23, 9] and sum(split_steps(101, 4, 1.7)) == 101
    assert split_steps(3, 3, 5.0) == [1, 1, 1]


def test_auto_split_gives_a_lone_coarse_scale_a_third_and_more_scales_equal_shares():
    def steps(size, **kw):
        cfg = StylizeConfig(size=size, steps=300, backbone="random", **kw).validate()
        return [p.steps for p in plan_scales((683, 1024), cfg, get("vgg19"))]

    assert steps(512) == [100, 200]
    assert steps(1024) == [100, 100, 100] and steps(256) == [300]
    assert steps(512, scale_split=1.0) == [150, 150] and steps(512, scale_split=2.0) == [200, 100]
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigError):
            StylizeConfig(scale_split=bad).validate()


def test_a_coarse_adam_scale_stops_early_and_the_fine_scale_keeps_its_place_in_the_schedule():
    def plan(size, **kw):
        cfg = StylizeConfig(size=size, steps=300, backbone="random", **kw).validate()
        return [(p.steps, p.offset, p.schedule_offset) for p in plan_scales((683, 1024), cfg, get("vgg19"))]

    assert plan(512) == [(100, 0, 0), (200, 100, 100)]  # the default: whole shares
    # 60% of the coarse share; the fine scale still starts at schedule step 100.
    assert plan(512, coarse_fraction=0.6) == [(60, 0, 0), (200, 60, 100)]
    assert plan(512, coarse_fraction=0.8) == [(80, 0, 0), (200, 80, 100)]
    assert plan(512, coarse_fraction=0.25, scale_split=1.0) == [(38, 0, 0), (150, 38, 150)]
    # L-BFGS: no schedule to keep a place in.
    assert plan(512, optimizer="lbfgs", coarse_fraction=0.6) == [(100, 0, 0), (200, 100, 100)]
    assert plan(1024) == [(100, 0, 0), (100, 100, 100), (100, 200, 200)]
    assert plan(1024, coarse_fraction=0.5) == [(50, 0, 0), (50, 50, 100), (100, 100, 200)]
    assert plan(256) == [(300, 0, 0)]
    assert StylizeConfig(size=512, steps=2, scales="256", coarse_fraction=0.1).validate()
    assert plan_scales((683, 1024), StylizeConfig(size=512, steps=2, coarse_fraction=0.1),
                       get("vgg19"))[0].steps == 1
    for bad in (0, -0.1, 1.5, float("nan"), "a"):
        with pytest.raises(ConfigError, match="coarse_fraction"):
            StylizeConfig(coarse_fraction=bad).validate()


def test_auto_scales_down_to_a_chosen_coarsest():
    assert auto_scales(256, 64) == (64, 128, 256) and auto_scales(512, 128) == (128, 256, 512)


def test_scales_share_one_compiled_objective(images):
    """The network's forward and backward pass is traced once for every scale."""
    ms = MultiScaleStylizer(*images, _config(size=128, steps=6, scales="32,64,128"))
    res = ms.run()
    assert res.stop_reason == "done" and ms.shared._fn.experimental_get_tracing_count() == 1
    flat = MultiScaleStylizer(*images, _config(size=128, steps=2, scales="128")).stylizer(0)
    x = flat.content[None]
    shared_total = float(ms.stylizer(2)._value_and_grad(x)[0])
    own = flat._value_and_grad_impl(tf.constant(x))[0]
    assert shared_total == pytest.approx(float(own), rel=1e-5)


def test_parse_scales():
    assert parse_scales("auto", 512) is None
    assert parse_scales("256", 512) == (256, 512)
    assert parse_scales("128,256,512", 512) == (128, 256, 512)
    assert parse_scales(512, 512) == (512,) and StylizeConfig(size=512, scales=256).validate()  # ints, from Python
    assert parse_scales((256, 512), 512) == parse_scales([256], 512) == (256, 512)  # and sequences
    assert StylizeConfig(size=512, scales=(512,)).validate()
    for bad in ("512,256", "8,64", "1024", "a,b", ",", (512, 256), ()):
        with pytest.raises(ConfigError):
            parse_scales(bad, 512)


@pytest.fixture(scope="module")
def images(content_path, style_path):
    return load_image(content_path), load_image(style_path)


def _config(**kw):
    base = dict(size=64, steps=6, scales="32,64", scale_split=1.0, optimizer="adam", precision="float32",
                backbone="random")
    base.update(kw)
    return StylizeConfig(**base)


def test_targets_come_from_each_scale(images):
    ms = MultiScaleStylizer(*images, _config())
    assert [sc.size for sc in ms.plan] == [32, 64] and [sc.steps for sc in ms.plan] == [3, 3]
    for k, sc in enumerate(ms.plan):
        st = ms.stylizer(k)
        assert st.shape == sc.shape and max(st.shape) == sc.size
        assert st.content.shape[:2] == sc.shape
        assert max(st.style.shape[:2]) == sc.size
        # The content target is the extractor's features of the content at this scale.
        name = st.config.resolved_layers()[0][0]
        want = st.extractor(st.content[None])[name].numpy()
        np.testing.assert_allclose(st.loss.content_targets[name].numpy(), want, rtol=1e-5, atol=1e-5)


def test_global_progress_and_history(images):
    seen = []
    res = MultiScaleStylizer(*images, _config()).run(callback=lambda p: seen.append((p.step, p.total_steps,
                                                                                    p.size, p.scale)))
    assert [s for s, *_ in seen] == [1, 2, 3, 4, 5, 6]
    assert {t for _, t, *_ in seen} == {6}
    assert [z for _, _, z, _ in seen] == [32] * 3 + [64] * 3
    assert res.stop_reason == "done" and res.steps == 6
    assert len(res.history["total"]) == 6 and max(res.image.shape[:2]) == 64
    assert [sc.size for sc in res.scales] == [32, 64]


@pytest.mark.parametrize("schedule", ["exponential", "cosine"])
def test_one_learning_rate_schedule_over_all_scales(images, schedule):
    """Scale k's Adam runs the segment [offset, offset + steps) of the whole run's schedule, whose
    rates are those of the formula (NumPy here); "auto" and "wsd": tests/test_schedule.py."""
    from tfstyle.optimize.loops import AdamRun

    cfg = _config(size=128, steps=9, scales="32,64,128", lr=0.1, lr_decay=0.01, lr_schedule=schedule)
    ms = MultiScaleStylizer(*images, cfg)
    assert [sc.steps for sc in ms.plan] == [3, 3, 3]
    rates = []
    for k, sc in enumerate(ms.plan):
        st = ms.stylizer(k)
        assert st.schedule_span == (sc.offset, 9)
        run = AdamRun(st, st.initial_image(), 0, {}, None, None, "")
        for _ in range(sc.steps):  # the schedule follows Adam's own update counter
            rates.append(float(run.opt.learning_rate))
            run.opt.iterations.assign_add(1)
    t = np.arange(9) / 9
    want = 0.1 * (0.01 + 0.99 * (1 + np.cos(np.pi * t)) / 2 if schedule == "cosine" else 0.01 ** t)
    np.testing.assert_allclose(rates, want, rtol=1e-5)


def test_a_coarse_scale_that_stops_early_skips_the_rest_of_its_schedule(images):
    """With coarse_fraction, the coarse scale runs the first 3 of its 5 schedule steps and the fine
    scale runs the schedule's steps 5..9: the rate it starts at does not depend on the fraction."""
    from tfstyle.optimize.loops import AdamRun

    cfg = _config(steps=10, coarse_fraction=0.6, lr=0.1, lr_decay=0.01, lr_schedule="exponential")
    ms = MultiScaleStylizer(*images, cfg)
    assert [(sc.steps, sc.offset, sc.schedule_offset) for sc in ms.plan] == [(3, 0, 0), (5, 3, 5)]
    rates = []
    for k, sc in enumerate(ms.plan):
        st = ms.stylizer(k)
        assert st.schedule_span == (sc.schedule_offset, 10)
        run = AdamRun(st, st.initial_image(), 0, {}, None, None, "")
        for _ in range(sc.steps):
            rates.append(float(run.opt.learning_rate))
            run.opt.iterations.assign_add(1)
    np.testing.assert_allclose(rates, 0.1 * 0.01 ** (np.array([0, 1, 2, 5, 6, 7, 8, 9]) / 10), rtol=1e-5)


@pytest.mark.parametrize("stop", [2, 3, 5])  # mid coarse scale, its last step, mid fine scale
def test_a_run_with_an_early_coarse_stop_counts_its_own_steps_and_resumes_exactly(images, stop):
    """Through the library's entry (as the command line runs), a resumed Adam run repeats the
    uninterrupted one: mid-scale from Adam's iterate, on a boundary from the image handed over.
    TensorFlow's convolutions, as in test_interrupts' exact-resume test."""
    cfg = _config(steps=10, coarse_fraction=0.6, conv_algorithm="direct")
    seen = []
    res = MultiScaleStylizer(*images, cfg).run(callback=lambda p: seen.append((p.step, p.total_steps, p.size)))
    assert seen == [(i, 8, 32) for i in (1, 2, 3)] + [(i, 8, 64) for i in range(4, 9)]
    assert res.stop_reason == "done" and res.steps == 8 and len(res.history["total"]) == 8
    cut = MultiScaleStylizer(*images, cfg).run(callback=_StopAt(stop))
    assert cut.stop_reason == "interrupted" and f"step {stop} of 8" in cut.message
    steps = []
    done = MultiScaleStylizer(*images, cfg).run(callback=lambda p: steps.append(p.step), resume=cut.state)
    assert steps == list(range(stop + 1, 9)) and done.steps == 8
    np.testing.assert_allclose(done.history["total"], res.history["total"], rtol=1e-6)
    np.testing.assert_allclose(done.image, res.image, atol=1e-6)
    end = MultiScaleStylizer(*images, cfg).run(callback=_StopAt(8))
    with pytest.raises(ConfigError, match="already at step 8 and this run takes 8 steps; raise --steps"):
        MultiScaleStylizer(*images, cfg).run(resume=end.state)


@pytest.mark.parametrize("schedule", ["cosine", "exponential"])
def test_single_scale_schedule(images, schedule):
    """A single-scale run (the plan of a size under 512 px) holds the whole schedule."""
    from tfstyle.optimize.loops import AdamRun

    cfg = _config(size=64, steps=6, scales="auto", lr=0.1, lr_decay=0.01, lr_schedule=schedule)
    ms = MultiScaleStylizer(*images, cfg)
    assert [sc.size for sc in ms.plan] == [64]
    st = ms.stylizer(0)
    run = AdamRun(st, st.initial_image(), 0, {}, None, None, "")
    rates = []
    for _ in range(6):
        rates.append(float(run.opt.learning_rate))
        run.opt.iterations.assign_add(1)
    t = np.arange(6) / 6
    want = 0.1 * (0.01 ** t if schedule == "exponential" else 0.01 + 0.99 * (1 + np.cos(np.pi * t)) / 2)
    np.testing.assert_allclose(rates, want, rtol=1e-5)


class _StopAt:
    def __init__(self, step):
        self.step = step

    def __call__(self, p):
        if p.step == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("stop", [2, 3])  # mid coarse scale; on the boundary to the fine scale
def test_interrupt_then_resume(images, stop):
    cfg = _config()
    res = MultiScaleStylizer(*images, cfg).run(callback=_StopAt(stop))
    assert res.stop_reason == "interrupted" and res.steps == stop
    assert f"step {stop} of 6" in res.message
    assert max(res.image.shape[:2]) == 64  # upsampled to the final size
    assert max(res.state.image.shape[:2]) == 32  # the state keeps its own scale
    assert res.state.step == stop and len(res.state.history["total"]) == stop
    steps = []
    done = MultiScaleStylizer(*images, cfg).run(callback=lambda p: steps.append(p.step), resume=res.state)
    assert done.stop_reason == "done" and done.steps == 6
    assert steps == list(range(stop + 1, 7))
    assert len(done.history["total"]) == 6
    assert max(done.image.shape[:2]) == 64


def test_resume_rejects_foreign_shape(images):
    from tfstyle.progress import RunState

    ms = MultiScaleStylizer(*images, _config())
    bad = RunState(image=np.zeros((10, 10, 3), np.float32), step=5, optimizer="adam", fingerprint=ms.fingerprint)
    with pytest.raises(ConfigError, match="not a scale of this run"):
        ms.run(resume=bad)


def test_resume_rejects_a_state_of_another_run(images):
    """The library checks the run fingerprint itself (the Python API resumes like the command line)."""
    from tfstyle.io.state import StateError

    res = MultiScaleStylizer(*images, _config()).run(callback=_StopAt(2))
    other = _config(style_weight=3.0)
    with pytest.raises(StateError, match="other images or settings"):
        MultiScaleStylizer(*images, other).run(resume=res.state)
    swapped = (images[1], images[0])
    with pytest.raises(StateError, match="other images or settings"):
        MultiScaleStylizer(*swapped, _config()).run(resume=res.state)
    more_steps = MultiScaleStylizer(*images, _config(steps=8)).run(resume=res.state)  # steps may grow
    assert more_steps.stop_reason == "done" and more_steps.steps == 8


def test_lbfgs_multiscale_lowers_loss(images):
    res = MultiScaleStylizer(*images, _config(optimizer="lbfgs", steps=12)).run()
    h = res.history["total"]
    assert res.stop_reason in ("done", "converged")
    # Each scale ends lower than it started (6 steps each).
    assert h[5] < h[0] and h[-1] < h[6]


def test_cli_scales(tmp_path, content_path, style_path):
    out = tmp_path / "o.png"
    cmd = [sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path), "-o", str(out),
           "--size", "64", "--steps", "4", "--scales", "32,64", "-q"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert max(np.asarray(Image.open(out)).shape[:2]) == 64
    r = subprocess.run(cmd[:-2] + ["32,128", "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "larger than --size" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(cmd + ["--coarse-fraction", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "coarse_fraction must be in (0, 1]" in r.stderr and "Traceback" not in r.stderr


def test_cli_bar_counts_the_steps_a_run_takes(tmp_path, content_path, style_path):
    """With the coarse scale stopping early, the bar and the summary count the steps that run (8 of a
    10-step schedule), and the run ends at the bar's end."""
    out = tmp_path / "o.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path), "-o",
                        str(out), "--size", "64", "--steps", "10", "--scales", "32,64", "--scale-split", "1",
                        "--coarse-fraction", "0.6", "--backbone", "random"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "8/8" in r.stderr and "/10" not in r.stderr and "8 steps" in r.stderr


def test_cli_resume_from_a_scale_boundary(tmp_path, content_path, style_path, images):
    """A state saved between scales (coarse image, global step) continues at the fine scale."""
    from tfstyle.io.state import run_fingerprint, save_state, state_path

    out = tmp_path / "r.png"
    cfg = _config(optimizer="lbfgs", precision="auto", backbone="auto")
    res = MultiScaleStylizer(*images, cfg.replace(backbone="random")).run(callback=_StopAt(3))
    assert res.state.step == 3 and max(res.state.image.shape[:2]) == 32
    res.state.fingerprint = run_fingerprint(cfg, *images)  # as the command line's run (--backbone auto)
    save_state(res.state, state_path(out))
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path), "-o",
                        str(out), "--size", "64", "--steps", "6", "--scales", "32,64", "--scale-split", "1",
                        "--optimizer", "lbfgs",
                        "--resume", "--memory-limit", "20", "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert max(np.asarray(Image.open(out)).shape[:2]) == 64 and not state_path(out).exists()
