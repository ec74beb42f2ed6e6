"""The warm-up-stable-decay schedule and the iterate average, against values computed here in NumPy."""

import numpy as np
import pytest

from tfstyle.config import ConfigError, StylizeConfig
from tfstyle.io.images import load_image
from tfstyle.optimize.multiscale import MultiScaleStylizer


@pytest.fixture(scope="module")
def images(content_path, style_path):
    return load_image(content_path), load_image(style_path)


def _config(**kw):
    base = dict(size=64, steps=6, scales="64", optimizer="adam", precision="float32", backbone="random",
                conv_algorithm="direct")
    base.update(kw)
    return StylizeConfig(**base).validate()


def _wsd(step, total, lr, decay, cooldown):
    """The schedule written out: lr until the last ``cooldown`` of the run, then half a cosine wave."""
    t = step / total
    if t <= 1 - cooldown:
        return lr
    u = (t - (1 - cooldown)) / cooldown
    return lr * (decay + (1 - decay) * (1 + np.cos(np.pi * u)) / 2)


def _rates(ms):
    from tfstyle.optimize.loops import AdamRun

    rates = []
    for k, sc in enumerate(ms.plan):
        st = ms.stylizer(k)
        run = AdamRun(st, st.initial_image(), 0, {}, None, None, "")
        for _ in range(sc.steps):  # the schedule follows Adam's own update counter
            rates.append(float(run.opt.learning_rate))
            run.opt.iterations.assign_add(1)
    return rates


@pytest.mark.parametrize("cooldown", [0.2, 0.5, 1.0])
def test_wsd_holds_the_rate_then_decays_over_the_last_fraction(images, cooldown):
    ms = MultiScaleStylizer(*images, _config(steps=10, lr=0.1, lr_decay=0.01, lr_schedule="wsd",
                                             lr_cooldown=cooldown))
    want = [_wsd(i, 10, 0.1, 0.01, cooldown) for i in range(10)]
    np.testing.assert_allclose(_rates(ms), want, rtol=1e-5)
    if cooldown == 1.0:  # the whole run is the decay: the cosine schedule
        t = np.arange(10) / 10
        np.testing.assert_allclose(want, 0.1 * (0.01 + 0.99 * (1 + np.cos(np.pi * t)) / 2), rtol=1e-12)


def test_wsd_is_one_schedule_over_all_scales(images):
    """Coarse to fine, the coarse scale runs at the full rate and the fine one ends annealed."""
    ms = MultiScaleStylizer(*images, _config(steps=10, scales="32,64", scale_split=1.0, lr=0.1, lr_decay=0.1,
                                             lr_schedule="wsd", lr_cooldown=0.3))
    assert [sc.steps for sc in ms.plan] == [5, 5]
    rates = _rates(ms)
    np.testing.assert_allclose(rates, [_wsd(i, 10, 0.1, 0.1, 0.3) for i in range(10)], rtol=1e-5)
    assert rates[:8] == pytest.approx([0.1] * 8) and rates[-1] < 0.04


def test_auto_schedule_is_wsd_for_one_scale_and_exponential_coarse_to_fine(images):
    c = _config()
    assert c.lr_schedule == "auto" and c.resolved_lr_schedule(coarse_to_fine=False) == "wsd"
    assert c.resolved_lr_schedule(coarse_to_fine=True) == "exponential"
    ms = MultiScaleStylizer(*images, _config(steps=10, lr=0.1, lr_decay=0.01))  # one scale: wsd
    np.testing.assert_allclose(_rates(ms), [_wsd(i, 10, 0.1, 0.01, 0.2) for i in range(10)], rtol=1e-5)
    ms = MultiScaleStylizer(*images, _config(steps=10, scales="32,64", scale_split=1.0, lr=0.1, lr_decay=0.01))
    np.testing.assert_allclose(_rates(ms), 0.1 * 0.01 ** (np.arange(10) / 10), rtol=1e-5)


def test_iterate_average_is_the_mean_of_the_last_iterates_where_it_scores_lower(images):
    """The output is the mean of the last 4 of 8 iterates (computed here from the iterates the
    progress reports) when its loss is below the best iterate's, else the best iterate."""
    import tensorflow as tf

    from tfstyle.optimize.stylizer import Stylizer

    # A constant rate: the iterates jitter, so their mean can beat every one of them.
    cfg = _config(size=32, scales="32", steps=8, lr=0.05, lr_decay=1.0, lr_schedule="exponential",
                  iterate_average=0.5)
    iterates = []
    res = MultiScaleStylizer(*images, cfg).run(callback=lambda p: iterates.append(p.state().image.copy()))
    assert len(iterates) == 8
    mean = np.mean(iterates[-4:], axis=0)
    st = Stylizer(*images, cfg)
    losses = [float(st._value_and_grad(tf.constant(x[None]))[0]) for x in [*iterates, mean]]
    best = min(losses[:-1] + res.history["total"])
    if losses[-1] < best:
        np.testing.assert_allclose(res.image, mean, atol=1e-6)
    else:
        assert not np.allclose(res.image, mean, atol=1e-4)
    # Off: the output is one of the iterates (or the start), never the mean.
    plain = MultiScaleStylizer(*images, cfg.replace(iterate_average=0.0)).run()
    np.testing.assert_allclose(plain.history["total"], res.history["total"], rtol=1e-6)
    assert any(np.allclose(plain.image, x, atol=1e-6) for x in iterates)


@pytest.mark.parametrize("field,value", [("lr_cooldown", 0.0), ("lr_cooldown", 1.5), ("iterate_average", -0.1),
                                         ("iterate_average", 1.5), ("lr_schedule", "linear")])
def test_bad_schedule_settings_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        StylizeConfig(**{field: value}).validate()


def test_plateau_compares_the_best_loss_before_and_within_the_window():
    from tfstyle.optimize.loops import plateau

    losses = [10.0, 9.0, 8.0, 8.5, 7.9]
    assert not plateau(losses[:2], 2, 0.5)  # not more than a window yet
    # best before the last 2: 8.0; best now 7.9: it fell by 0.1, 1.25% of 8.0
    assert plateau(losses, 2, 0.02) and not plateau(losses, 2, 0.01)
    assert not plateau([10.0, 9.0, 8.0, 8.5, 6.0], 2, 0.2)


def test_steps_auto_is_the_cap_with_the_default_margin():
    from tfstyle.config import AUTO_MAX_STEPS, AUTO_STOP_MARGIN, parse_steps

    c = StylizeConfig(steps="auto").validate()
    assert (c.steps, c.stop_margin) == (AUTO_MAX_STEPS, AUTO_STOP_MARGIN)
    assert StylizeConfig(steps="auto", stop_margin=0.05).stop_margin == 0.05
    assert StylizeConfig(steps=120).stop_margin == 0.0
    assert parse_steps("auto") == "auto" and parse_steps(" 40 ") == 40
    with pytest.raises(ConfigError, match="whole number or auto"):
        parse_steps("lots")


@pytest.mark.parametrize("scales", ["48", "32,48"])
def test_stop_margin_ends_the_last_scale_after_a_cooldown(images, scales, monkeypatch):
    """The run stops where the loss first fell by less than the margin over the window (found here
    from the run's own history), plus lr_cooldown/(1 - lr_cooldown) of the steps it had run, with the
    rate decaying over those; a coarse scale runs its whole share."""
    from tfstyle.optimize import loops

    monkeypatch.setattr(loops, "AUTO_WINDOW", 3)
    cfg = _config(size=48, scales=scales, scale_split=1.0, steps=80, lr=0.05, lr_decay=0.1, lr_schedule="wsd",
                  lr_cooldown=0.25, stop_margin=0.03)
    rates = []
    orig = loops.AdamRun.notify

    def notify(run, loss, parts):  # the rate of the update just made (Adam's counter is past it)
        rates.append(float(run.schedule(run.opt.iterations - 1)))
        orig(run, loss, parts)

    monkeypatch.setattr(loops.AdamRun, "notify", notify)
    res = MultiScaleStylizer(*images, cfg).run()
    coarse = 40 if scales == "32,48" else 0
    fine = res.history["total"][coarse:]
    n = next(i for i in range(1, len(fine) + 1) if loops.plateau(fine[:i], 3, 0.03))
    cool = round(n * 0.25 / 0.75)
    assert len(fine) == n + cool < 80 - coarse
    assert res.stop_reason == "converged" and res.steps == coarse + n + cool
    assert "stopped after" in res.message
    here = coarse + n
    want = [_wsd_at(i, 0.05, 0.1, here, cool) if i >= here else _wsd(i, 80, 0.05, 0.1, 0.25)
            for i in range(coarse + n + cool)]
    np.testing.assert_allclose(rates, want, rtol=1e-5)


def _wsd_at(step, lr, decay, at, length):
    u = min(1.0, max(0.0, (step - at) / length))
    return lr * (decay + (1 - decay) * (1 + np.cos(np.pi * u)) / 2)


@pytest.mark.slow
def test_cli_steps_auto_stops_early_and_says_so(tmp_path, capsys, content_path, style_path):
    """`tfstyle stylize --steps auto` through the command line: a margin no step can meet stops the
    run after the first window and its cool-down, with a last line that says so, and the file is written."""
    from tfstyle.cli.main import main
    from tfstyle.config import AUTO_MAX_STEPS, AUTO_WINDOW

    out = tmp_path / "auto.png"
    code = main(["stylize", str(content_path), str(style_path), "-o", str(out), "--size", "32", "--steps", "auto",
                 "--stop-margin", "0.9", "--precision", "float32", "--backbone", "random", "-q"])
    err = capsys.readouterr().err
    assert code == 0, err
    n = AUTO_WINDOW + 1  # the first step the watch can decide on
    assert f"stopped after {n + round(n * 0.2 / 0.8)} steps" in err and out.exists()
    assert n + round(n * 0.2 / 0.8) < AUTO_MAX_STEPS
