"""What each speed lever buys: steps and work to reach the tutorial loop's quality, in one process.

    PYTHONPATH=src python bench/levers.py --size 256 --ref-steps 400              # every variant
    PYTHONPATH=src python bench/levers.py --size 128 --ref-steps 100 --variants 'default;lbfgs'

The tutorial loop (``baselines.TutorialLoop``) runs ``--ref-steps`` steps at ``--size``; its
reference objective (``baselines.objective``) after them is the target. Each variant is tfstyle on
the same images, weights and objective (``baselines.reference_config``) with some settings changed
(``VARIANTS``), run for its configured steps; the reference objective is evaluated every ``--every``
steps on the output the run would give at that moment (a coarse scale's image upsampled).

Reported per variant, against the tutorial in the same run:

* **steps**: the step at which the target was first reached (checkpoint granularity);
* **work**: the same in full-size step equivalents (a step at scale s costs (s / size)^2 of one at
  ``size``: the pixels, which is what the convolutions cost), so the figure does not depend on how
  loaded the machine was while it ran;
* **seconds**: wall time to the target from before the model was built (setup, tracing and steps;
  evaluations excluded), on this machine as loaded as it was;
* the final reference value after the variant's steps.

This complements ``bench/speed.py`` (whole processes, one per row, for the README's tables): levers
are compared here cheaply, then the winners are timed there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent.parent / "shared" / "images"

# name -> StylizeConfig fields changed from tfstyle's defaults. "{size}" in scales is replaced.
VARIANTS: dict[str, dict] = {
    "default": {},
    "single scale": {"scales": "{size}"},
    "single scale, exponential schedule": {"scales": "{size}", "lr_schedule": "exponential"},
    "1:4": {"scale_split": 0.25},
    "1:2": {"scale_split": 0.5},
    "1:1": {"scale_split": 1.0},
    "1:6": {"scale_split": 1 / 6},
    "lbfgs": {"optimizer": "lbfgs"},
    "from 128": {"coarsest": 128},
    "from 64": {"coarsest": 64},
    "from 128 2x coarse": {"coarsest": 128, "scale_split": 2.0},
    "from 128 1:2": {"coarsest": 128, "scale_split": 0.5},
    "from 128 1:4": {"coarsest": 128, "scale_split": 0.25},
    "exponential schedule": {"lr_schedule": "exponential"},
    "cosine schedule": {"lr_schedule": "cosine"},
    "from 128 1:4, cosine schedule": {"coarsest": 128, "scale_split": 0.25, "lr_schedule": "cosine"},
    "from 128 1:2, cosine schedule": {"coarsest": 128, "scale_split": 0.5, "lr_schedule": "cosine"},
    "1:2, cosine schedule": {"scale_split": 0.5, "lr_schedule": "cosine"},
    "1:2, lr decay 0.2": {"scale_split": 0.5, "lr_decay": 0.2},
    "1:2, lr decay 0.05": {"scale_split": 0.5, "lr_decay": 0.05},
    "1:2, lr 0.15": {"scale_split": 0.5, "lr": 0.15},
    "384 then 512 1:2": {"scales": "384,{size}", "scale_split": 0.5},
    "192, 384 then 512 1:2": {"scales": "192,384,{size}", "scale_split": 0.5},
    "whole coarse share (coarse fraction 1)": {"coarse_fraction": 1.0},
    "coarse fraction 0.4": {"coarse_fraction": 0.4},
    "coarse fraction 0.8": {"coarse_fraction": 0.8},
    "coarse fraction 0.9": {"coarse_fraction": 0.9},
}


# Levers tried outside the library (single scale at --size, tfstyle's objective and Adam settings):
# name -> keyword arguments of custom_adam. They are here because they did not win (see the README),
# except the cosine schedule, which did at 256 px and is now a library option (the library row above),
# and fine_from with fewer coarse steps, now the library's --coarse-fraction ("coarse fraction" rows).
CUSTOM: dict[str, dict] = {
    "exponential schedule (custom loop, control)": {},
    "pyramid parameterisation": {"param": "pyramid"},
    "pyramid parameterisation lr 0.05": {"param": "pyramid", "lr": 0.05},
    "init: content in the style's colours": {"init": "colour"},
    "iterate average (EMA 0.8)": {"ema": 0.8},
    "schedule over 100 steps": {"steps": 100},
    "lr 0.2 schedule over 100 steps": {"lr": 0.2, "steps": 100},
    "beta1 0.5": {"beta_1": 0.5},
    "beta2 0.99": {"beta_2": 0.99},
    "decorrelated colour": {"colour": "decorrelated"},
    "fourier parameterisation lr 0.05": {"param": "fourier", "lr": 0.05},
    "fourier parameterisation": {"param": "fourier"},
    "fourier, decorrelated colour": {"param": "fourier", "colour": "decorrelated"},
    "cosine schedule (custom loop)": {"schedule": "cosine"},
    "constant rate": {"schedule": "constant"},
    "constant rate 0.07": {"schedule": "constant", "lr": 0.07},
    "constant rate 0.15": {"schedule": "constant", "lr": 0.15},
    "cosine from lr 0.15": {"schedule": "cosine", "lr": 0.15},
    "lr 0.2": {"lr": 0.2},
    "fourier parameterisation lr 1": {"param": "fourier", "lr": 1.0},
    "fourier parameterisation lr 3": {"param": "fourier", "lr": 3.0},
    "adam 20 steps, then L-BFGS-B": {"switch": 20},
    "adam 40 steps, then L-BFGS-B": {"switch": 40},
    "adam 60 steps, then L-BFGS-B": {"switch": 60},
    "cosine, beta2 0.99": {"schedule": "cosine", "beta_2": 0.99},
    "nadam": {"optimizer": "nadam"},
}


def run_tutorial(info, content, style, steps: int, every: int, ref) -> list[tuple[int, float, float]]:
    import baselines

    t0 = time.perf_counter()
    loop = baselines.TutorialLoop(info, content, style)
    trace, excluded = [(0, 0.0, ref(content))], 0.0
    for i in range(1, steps + 1):
        loop.step()
        if i % every == 0 or i == steps:
            now = time.perf_counter()
            trace.append((i, now - t0 - excluded, ref(loop.current())))
            excluded += time.perf_counter() - now
    return trace


def run_variant(info, content, style, fields: dict, size: int, every: int, ref, target: float | None):
    """[(step, work, seconds, value)] at checkpoints; stops at the target (if given)."""
    import baselines

    import tfstyle
    from tfstyle.io.images import resize

    cfg_fields = {**baselines.reference_config(info, content, style), **fields}
    if "scales" in cfg_fields:
        cfg_fields["scales"] = cfg_fields["scales"].format(size=size)
    config = tfstyle.StylizeConfig(size=size, **cfg_fields)
    trace = [(0, 0.0, 0.0, ref(content))]
    state = {"excluded": 0.0, "work": 0.0}
    t0 = time.perf_counter()

    def on_step(p):
        scale = getattr(p, "size", size)
        state["work"] += (scale / size) ** 2
        if p.step % every and p.step != p.total_steps:
            return
        now = time.perf_counter()
        image = p.image
        if image.shape != content.shape:
            image = resize(image, content.shape[:2])
        value = ref(image)
        trace.append((p.step, state["work"], now - t0 - state["excluded"], value))
        state["excluded"] += time.perf_counter() - now
        if target is not None and value <= target:
            raise KeyboardInterrupt  # ends the run like Ctrl-C: the library returns what it has

    tfstyle.stylize(content, style, config, callback=on_step, weights=info)
    return trace


# Colour decorrelation of natural images (Mordvintsev et al. 2018, lucid's ``color_correlation_svd_sqrt``),
# columns scaled to unit maximum norm as lucid does: RGB = DECORRELATE @ (decorrelated colour).
_DECORRELATE = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
_DECORRELATE = _DECORRELATE / np.max(np.linalg.norm(_DECORRELATE, axis=0))


class _Param:
    """An image parameterisation: ``variables`` (what Adam updates), ``image()`` the (1, H, W, 3) RGB
    they give, ``project()`` puts them back where the image lies in [0, 1]."""

    def __init__(self, x0: np.ndarray, kind: str, colour: str):
        import tensorflow as tf

        self.h, self.w = x0.shape[:2]
        self.m = _DECORRELATE if colour == "decorrelated" else np.eye(3, dtype=np.float32)
        self.m_inv = np.linalg.inv(self.m).astype(np.float32)
        self.kind = kind
        y0 = (x0 @ self.m_inv.T).astype(np.float32)  # (H, W, 3) in the optimised colour space
        if kind == "fourier":
            # lucid's fft_image: each frequency scaled by 1 / max(|f|, 1 / max(H, W)) (power 1), so a
            # unit step in a coefficient moves the image about as much at every frequency scale.
            fy = np.fft.fftfreq(self.h)[:, None]
            fx = np.fft.rfftfreq(self.w)[None, :]
            self.scale = tf.constant((1.0 / np.maximum(np.sqrt(fx ** 2 + fy ** 2), 1.0 / max(self.h, self.w))
                                      ).astype(np.float32)[None])  # (1, H, W//2+1)
            spec = np.fft.rfft2(np.transpose(y0, (2, 0, 1))) / self.scale.numpy()  # (3, H, W//2+1)
            self.variables = [tf.Variable(spec.real.astype(np.float32)), tf.Variable(spec.imag.astype(np.float32))]
        elif kind == "pyramid":
            self.variables = [tf.Variable(y0[None])]
            lh, lw = (self.h + 1) // 2, (self.w + 1) // 2
            while min(lh, lw) >= 8:
                self.variables.append(tf.Variable(tf.zeros((1, lh, lw, 3))))
                lh, lw = (lh + 1) // 2, (lw + 1) // 2
        else:
            self.variables = [tf.Variable(y0[None])]

    def _colour(self, y):
        import tensorflow as tf

        return tf.einsum("bhwc,dc->bhwd", y, tf.constant(self.m))

    def image(self):
        import tensorflow as tf

        if self.kind == "fourier":
            spec = tf.complex(self.variables[0], self.variables[1]) * tf.cast(self.scale, tf.complex64)
            y = tf.transpose(tf.signal.irfft2d(spec, fft_length=(self.h, self.w)), (1, 2, 0))[None]
        else:
            y = self.variables[0]
            for z in self.variables[1:]:
                y = y + tf.image.resize(z, (self.h, self.w), method="bilinear")
        return self._colour(y)

    def project(self):
        """Clip the image to [0, 1] by changing the finest level (or the whole spectrum)."""
        import tensorflow as tf

        x = self.image()
        delta = tf.clip_by_value(x, 0.0, 1.0) - x
        dy = tf.einsum("bhwc,dc->bhwd", delta, tf.constant(self.m_inv))
        if self.kind == "fourier":
            d = tf.signal.rfft2d(tf.transpose(dy[0], (2, 0, 1))) / tf.cast(self.scale, tf.complex64)
            self.variables[0].assign_add(tf.math.real(d))
            self.variables[1].assign_add(tf.math.imag(d))
        else:
            self.variables[0].assign_add(dy)


def custom_adam(info, content, style, size: int, every: int, ref, target: float | None, steps: int = 300,
                lr: float = 0.1, lr_decay: float = 0.1, param: str = "pixels", colour: str = "rgb",
                init: str = "content", ema: float = 0.0, beta_1: float = 0.9, beta_2: float = 0.999,
                schedule: str = "exponential", max_steps: int | None = None, optimizer: str = "adam",
                switch: int = 0, epsilon: float | None = None, coarse: int = 0, coarse_steps: int = 0,
                carry: str = "", warmup: int = 0, fine_from: int = 0, detail: float = 0.0):
    """tfstyle's objective and Adam (rate decaying from ``lr`` to ``lr * lr_decay`` over ``steps``) with
    changes: ``param="pyramid"`` optimises a Laplacian pyramid (the image is the sum of bilinearly
    upsampled levels down to 8 px, Mordvintsev et al. 2018; clipping is folded into the finest level),
    ``param="fourier"`` a scaled Fourier spectrum (lucid's ``fft_image``), ``colour="decorrelated"``
    a decorrelated colour space (lucid's), ``init="colour"`` starts from the content mapped to the
    style's colour mean and covariance, ``ema`` outputs an exponential average of the iterates,
    ``schedule`` "cosine" or "constant" replaces the exponential decay, ``optimizer`` "nadam" or
    "amsgrad" replaces Adam, ``max_steps`` stops early, ``switch`` > 0 hands the image to SciPy's
    L-BFGS-B after that many Adam steps (a step there is one loss evaluation), ``epsilon`` replaces
    tfstyle's Adam epsilon (a large one turns Adam towards plain momentum SGD), ``coarse`` > 0 runs
    the first ``coarse_steps`` at that size (:func:`_two_scales`, ``carry`` says what Adam takes
    along, ``warmup`` ramps the fine scale's rate up over that many steps, ``fine_from`` > 0 starts the
    fine scale at that step of the schedule, skipping the schedule's steps from ``coarse_steps`` on,
    ``detail`` > 0 adds that much of the content's fine detail, which the coarse scale cannot hold, to
    the upsampled image the fine scale starts from). Returns the trace as run_variant."""
    import baselines
    import keras
    import tensorflow as tf

    import tfstyle
    from tfstyle.config import ADAM_EPSILON
    from tfstyle.objective.color import match_color
    from tfstyle.optimize.stylizer import Stylizer

    t0 = time.perf_counter()
    config = tfstyle.StylizeConfig(size=size, steps=steps, **baselines.reference_config(info, content, style))
    st = Stylizer(content, style, config, info)
    x0 = (match_color(content, style) if init == "colour" else content).astype(np.float32)
    par = _Param(x0, param, colour)
    if schedule == "cosine":
        sched = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=lr_decay)
    elif schedule == "constant":
        sched = lr
    else:
        sched = keras.optimizers.schedules.ExponentialDecay(lr, steps, lr_decay)
    kw = dict(beta_1=beta_1, beta_2=beta_2, epsilon=ADAM_EPSILON if epsilon is None else epsilon)
    if coarse:
        if (param, colour, init, ema, switch, optimizer) != ("pixels", "rgb", "content", 0.0, 0, "adam"):
            raise ValueError("two scales only with Adam on plain pixels from the content")
        if carry and (warmup or fine_from):
            raise ValueError("carry keeps the coarse scale's schedule: no warmup or fine_from with it")
        last = steps - (fine_from - coarse_steps if fine_from else 0)
        return _two_scales(st, config, info, content, style, coarse, coarse_steps, carry, sched, kw,
                           last if max_steps is None else min(last, max_steps), every, ref, target, t0,
                           warmup, fine_from or coarse_steps, detail)
    opt = (keras.optimizers.Nadam(sched, **kw) if optimizer == "nadam" else
           keras.optimizers.Adam(sched, amsgrad=optimizer == "amsgrad", **kw))

    @tf.function
    def update(g):
        with tf.GradientTape() as tape:
            x = par.image()
        opt.apply_gradients(zip(tape.gradient(x, par.variables, output_gradients=g), par.variables))
        par.project()
        return par.image()

    trace, excluded, avg = [(0, 0.0, 0.0, ref(content))], 0.0, None
    x = par.image()
    last = min(steps, max_steps or steps)
    for i in range(1, last + 1):
        if i > switch > 0:
            return trace + _finish_lbfgs(st, x.numpy()[0], i, last, every, ref, target, t0, excluded)
        _, _, g = st._value_and_grad(tf.convert_to_tensor(x))
        x = update(g)
        image = x.numpy()[0] if ema else None
        avg = image if avg is None or not ema else ema * avg + (1 - ema) * image
        if i % every == 0 or i == steps:
            now = time.perf_counter()
            value = ref(avg if ema else x.numpy()[0])
            trace.append((i, float(i), now - t0 - excluded, value))
            excluded += time.perf_counter() - now
            if target is not None and value <= target:
                break
    return trace


def _Shifted(sched, offset: int, warmup: int = 0):
    """``sched`` (a Keras schedule) from step ``offset`` on: a fresh Adam's counter starts at 0. With
    ``warmup`` > 0 the rate ramps up linearly over that many steps (1/warmup of it at the first)."""
    import keras
    import tensorflow as tf

    class Shifted(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            step = tf.cast(step, tf.float32)
            ramp = tf.minimum(1.0, (step + 1.0) / warmup) if warmup else 1.0
            return sched(step + offset) * ramp

    return Shifted()


def _two_scales(st, config, info, content, style, coarse: int, coarse_steps: int, carry: str, sched, kw,
                last: int, every: int, ref, target, t0: float, warmup: int = 0, fine_from: int = 0,
                detail: float = 0.0):
    """Adam for ``coarse_steps`` at ``coarse`` px, then at the full size, one rate schedule over both
    (as tfstyle's coarse-to-fine). What Adam takes to the fine scale: ``carry`` "" nothing (a fresh
    Adam, tfstyle's way: its first fine step moves every pixel by the full rate); "moments" its moments
    upsampled (bilinear, crowsonkb's style-transfer-pytorch) and its step count, so the bias
    correction goes on where it was; "scaled moments" the same with the moments scaled to the fine
    scale's gradients (first moment by rms(fine gradient) / rms(coarse gradient), second by its
    square). The fine scale's fresh Adam takes the schedule from its step ``fine_from`` (default
    ``coarse_steps``). ``detail``: the fine scale starts from the upsampled coarse image plus that
    much of the content's band above the coarse scale (the content less its own round trip through
    the coarse size, a Laplacian pyramid's top level), clipped to [0, 1]."""
    import keras
    import tensorflow as tf

    from tfstyle.io.images import resize
    from tfstyle.optimize.stylizer import Stylizer

    cst = Stylizer(content, style, config.replace(size=coarse), info)
    frac = (np.prod(cst.shape) / np.prod(st.shape))
    x = tf.Variable(cst.content[None])
    opt = keras.optimizers.Adam(sched, **kw)
    trace, excluded, work = [(0, 0.0, 0.0, ref(content))], 0.0, 0.0

    def checkpoint(i, image):
        nonlocal excluded
        now = time.perf_counter()
        value = ref(image if image.shape == content.shape else resize(image, content.shape[:2]))
        trace.append((i, work, now - t0 - excluded, value))
        excluded += time.perf_counter() - now
        return target is not None and value <= target

    g = None
    for i in range(1, last + 1):
        if i == coarse_steps + 1:  # to the fine scale
            g_coarse = g
            x_fine = resize(x.numpy()[0], st.shape)
            if detail:
                band = st.content - resize(cst.content, st.shape)
                x_fine = np.clip(x_fine + detail * band, 0.0, 1.0).astype(np.float32)
            xf = tf.Variable(x_fine[None])
            shifted = _Shifted(sched, fine_from or coarse_steps, warmup)
            opt_f = keras.optimizers.Adam(sched if carry else shifted, **kw)
            opt_f.build([xf])
            if carry:
                m, v = opt._momentums[0], opt._velocities[0]
                mf = tf.image.resize(m, st.shape, "bilinear")
                vf = tf.maximum(tf.image.resize(v, st.shape, "bilinear"), 0.0)
                if carry == "scaled moments":
                    g_fine = st._value_and_grad(tf.convert_to_tensor(xf))[2]
                    r = float(tf.sqrt(tf.reduce_mean(g_fine ** 2) / tf.reduce_mean(g_coarse ** 2)))
                    mf, vf = mf * r, vf * r * r
                opt_f.iterations.assign(opt.iterations)
                opt_f._momentums[0].assign(mf)
                opt_f._velocities[0].assign(vf)
            x, opt = xf, opt_f
        _, _, g = (cst if i <= coarse_steps else st)._value_and_grad(tf.convert_to_tensor(x))
        opt.apply_gradients([(g, x)])
        x.assign(tf.clip_by_value(x, 0.0, 1.0))
        work += frac if i <= coarse_steps else 1.0
        if (i % every == 0 or i == last) and checkpoint(i, x.numpy()[0]):
            break
    return trace


def _finish_lbfgs(st, x0, first: int, last: int, every: int, ref, target, t0: float, excluded: float):
    """SciPy's L-BFGS-B (tfstyle's settings) from ``x0`` for evaluations ``first``..``last``; the trace
    continues at every ``every``-th evaluation, scoring the best image so far."""
    import scipy.optimize
    import tensorflow as tf

    from tfstyle.config import LBFGS_HISTORY

    shape, trace = (1, *x0.shape), []
    state = {"n": first - 1, "excluded": excluded, "best": (np.inf, x0)}

    def fun(v):
        state["n"] += 1
        total, _, grad = st._value_and_grad(tf.constant(v.reshape(shape), tf.float32))
        if float(total) < state["best"][0]:
            state["best"] = (float(total), v.reshape(shape[1:]).astype(np.float32))
        n = state["n"]
        if n % every == 0 or n == last:
            now = time.perf_counter()
            value = ref(state["best"][1])
            trace.append((n, float(n), now - t0 - state["excluded"], value))
            state["excluded"] += time.perf_counter() - now
            if (target is not None and value <= target) or n >= last:
                raise StopIteration
        return float(total), grad.numpy().astype(np.float64).ravel()

    try:
        scipy.optimize.minimize(fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                                bounds=scipy.optimize.Bounds(0.0, 1.0),
                                options={"maxiter": last, "maxfun": last, "ftol": 0.0, "gtol": 0.0,
                                         "maxcor": LBFGS_HISTORY})
    except StopIteration:
        pass
    return trace


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--ref-steps", type=int, default=400,
                   help="tutorial steps that set the target; with --target, the steps it came from "
                        "(the ratio column divides by them)")
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--variants", default=";".join(list(VARIANTS) + list(CUSTOM)), help="semicolon-separated names")
    p.add_argument("--target", type=float, help="skip the tutorial run and use this target value")
    p.add_argument("--content", type=Path, default=IMAGES / "content" / "chelsea_cat.png")
    p.add_argument("--style", type=Path, default=IMAGES / "style" / "vangogh_starry_night.jpg")
    p.add_argument("--full", action="store_true", help="run every variant to its last step (no early stop)")
    p.add_argument("--json", type=Path, help="write the traces here")
    p.add_argument("--max-steps", type=int, help="stop each custom variant after this many steps")
    p.add_argument("--custom", help='more custom variants, JSON: {"name": {custom_adam keyword: value}}')
    a = p.parse_args(argv)
    try:
        custom = {**CUSTOM, **(json.loads(a.custom) if a.custom else {})}
    except json.JSONDecodeError as e:
        p.error(f"--custom is not JSON: {e}")
    names = [v.strip() for v in a.variants.split(";") if v.strip()]
    unknown = [n for n in names if n not in custom and n not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; known: {list(VARIANTS) + list(custom)}")
    sys.path.insert(0, str(HERE))
    import tfstyle  # noqa: F401 - before baselines imports TensorFlow: it may ask TensorFlow for oneDNN
    import baselines

    from tfstyle.backbones.weights import resolve_weights
    from tfstyle.io.images import load_image, output_shape, resize

    info = resolve_weights("random")
    c, s = load_image(a.content), load_image(a.style)
    content = resize(c, output_shape(c.shape[:2], a.size))
    style = resize(s, output_shape(s.shape[:2], a.size))
    ref = baselines.ReferenceObjective(info, content, style)
    ref(content)
    out = {"size": a.size, "ref_steps": a.ref_steps}
    if a.target is None:
        tut = run_tutorial(info, content, style, a.ref_steps, a.every, ref)
        target = tut[-1][2]
        out["tutorial"] = tut
        print(f"tutorial: {a.ref_steps} steps in {tut[-1][1]:.1f} s, target {target:.6g}", flush=True)
    else:
        target, tut = a.target, None
    out["target"] = target
    rows = []
    for name in names:
        if name in custom:
            trace = custom_adam(info, content, style, a.size, a.every, ref, None if a.full else target,
                                **{"max_steps": a.max_steps, **custom[name]})
        else:
            trace = run_variant(info, content, style, VARIANTS[name], a.size, a.every, ref, None if a.full else target)
        out[name] = trace
        hit = next((t for t in trace if t[3] <= target), None)
        rows.append((name, hit, trace[-1]))
        print(f"{name}: " + (f"target at step {hit[0]}, work {hit[1]:.1f}, {hit[2]:.1f} s" if hit else
                              f"not reached, best {min(t[3] for t in trace):.6g}"), flush=True)
    print(f"\nsize {a.size}, target {target:.6g} (tutorial after {a.ref_steps} steps)")
    print("| variant | steps to target | work (full-size steps) | seconds | vs tutorial (steps) | last value |")
    print("|---|---|---|---|---|---|")
    for name, hit, last in rows:
        ratio = f"{a.ref_steps / hit[1]:.1f}x" if hit and hit[1] > 0 else "-"
        print(f"| {name} | {hit[0] if hit else '-'} | {hit[1]:.1f} | {hit[2]:.1f} | {ratio} | {last[3]:.5g} |"
              if hit else f"| {name} | - | - | - | - | {last[3]:.5g} |")
    if a.json:
        a.json.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
