"""Image optimisation (Gatys et al.): Adam with a decaying rate, or L-BFGS-B with [0, 1] bounds.

The library never prints or writes: progress goes to ``callback(Progress)``; the result comes back
as a :class:`StylizeResult`. Ctrl-C (KeyboardInterrupt) during the loop ends it early and returns
the best image so far with ``stop_reason == "interrupted"``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import image as imageio
from .config import ConfigError, StylizeConfig
from .features import FeatureExtractor, WeightsInfo, resolve_precision, resolve_weights


@dataclass
class RunState:
    """Everything needed to continue a run: the image, the step reached, the optimiser's slots.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 1], the best image so far.
        step: optimisation steps completed.
        optimizer: "adam" or "lbfgs".
        slots: Adam's variables (iteration, momentum, velocity ...) as arrays; empty for L-BFGS,
            which restarts its curvature history on resume.
        history: loss history so far, ``{"total": [...], "style/block1_conv1": [...], ...}``.
        fingerprint: identifies the inputs and settings, so a state is not resumed into another run.
    """

    image: np.ndarray
    step: int
    optimizer: str
    slots: list[np.ndarray] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    fingerprint: str = ""


@dataclass
class Progress:
    """What the callback receives after every step.

    Attributes:
        step: steps completed (1-based).
        total_steps: the run's target.
        loss: total loss at this step.
        parts: named weighted loss parts at this step.
        elapsed: seconds since the loop started.
    """

    step: int
    total_steps: int
    loss: float
    parts: dict[str, float]
    elapsed: float
    _state: Callable[[], RunState] = field(repr=False, default=None)

    def state(self) -> RunState:
        """The run's state now (copies the image from the device)."""
        return self._state()

    @property
    def image(self) -> np.ndarray:
        return self._state().image


@dataclass
class StylizeResult:
    """The outcome of :func:`stylize`.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 1]: the lowest-loss image seen.
        history: per-step loss parts, ``{"total": [...], "content/block4_conv2": [...], ...}``.
        timings: seconds: ``setup`` (model + targets), ``optimize``, ``per_step``.
        steps: steps completed (including resumed ones).
        stop_reason: "done", "converged", "interrupted" or "nonfinite".
        message: a one-line explanation for stop reasons other than "done".
        weights: where the backbone's weights came from (``weights.notice`` says so plainly).
        policy: the Keras dtype policy used ("float32", "mixed_bfloat16", "mixed_float16").
        evaluations: loss/gradient evaluations (L-BFGS may do more than one per step).
        state: the state to pass back as ``resume=`` to continue.
    """

    image: np.ndarray
    history: dict[str, list[float]]
    timings: dict[str, float]
    steps: int
    stop_reason: str
    message: str
    weights: WeightsInfo
    policy: str
    evaluations: int
    state: RunState


def _as_image(x, what: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        a = np.asarray(x, np.float32)
        if a.ndim != 3 or a.shape[2] != 3:
            raise imageio.ImageError(f"{what} array must be (H, W, 3), got {a.shape}")
        if not np.isfinite(a).all():
            raise imageio.ImageError(f"{what} array has NaN or Inf values")
        if min(a.shape[:2]) < imageio.MIN_SIDE:
            raise imageio.ImageError(f"{what} array is {a.shape[1]}x{a.shape[0]}; each side must be "
                                     f"at least {imageio.MIN_SIDE} pixels")
        return np.clip(a, 0, 1)
    return imageio.load_image(x)


def output_shape(content_hw: tuple[int, int], size: int) -> tuple[int, int]:
    """Output (H, W) for a content image and the longest side; errors if a side falls under 16 px."""
    hw = imageio.fit_size(content_hw, size)
    if min(hw) < imageio.MIN_SIDE:
        raise ConfigError(f"at --size {size} the content image ({content_hw[1]}x{content_hw[0]}) becomes "
                          f"{hw[1]}x{hw[0]}; each side must be at least {imageio.MIN_SIDE} px")
    return hw


class Stylizer:
    """A loaded backbone plus precomputed targets for one content/style pair at one size.

    Build it once, then :meth:`run` it (possibly several times, e.g. benchmarks).
    """

    def __init__(self, content: np.ndarray, style: np.ndarray, config: StylizeConfig,
                 weights: WeightsInfo | None = None):
        import tensorflow as tf

        from .losses import StyleContentLoss

        self.config = config.validate()
        t0 = time.perf_counter()
        self.weights = weights or resolve_weights(config.backbone, config.weights)
        self.policy = resolve_precision(config.precision)
        self.shape = output_shape(content.shape[:2], config.size)
        style_layers = {n: w for n, w in config.style_layers if w > 0}
        self.extractor = FeatureExtractor(list(config.content_layers) + list(style_layers),
                                          self.weights, self.policy)
        self.content = imageio.resize(content, self.shape)
        # The style image keeps its own aspect ratio (never stretched to the content's); Grams are
        # per-pixel averages, so its size need not match the output's.
        self.style = imageio.resize(style, output_shape(style.shape[:2], config.size))
        # Targets are computed once, here, never inside the loop.
        cf = self._content_features(self.content)
        self.loss = StyleContentLoss(
            content_targets={n: cf[n] for n in config.content_layers},
            style_targets=self._style_grams(self.style, style_layers),
            style_layer_weights=style_layers,
            content_weight=config.content_weight,
            style_weight=config.style_weight,
            tv_weight=config.tv_weight,
        )
        self.setup_seconds = time.perf_counter() - t0
        self._value_and_grad = tf.function(self._value_and_grad_impl, reduce_retracing=True)

    # Target hooks: tfstyle.tiling overrides both to run the network on tiles, never the whole image.
    def _content_features(self, image: np.ndarray) -> dict:
        """Features ``{layer: (1, h, w, C)}`` of an (H, W, 3) image (at least the content layers)."""
        return self.extractor(image[None])

    def _style_grams(self, image: np.ndarray, layers) -> dict:
        """Normalised Grams ``{layer: (1, C, C)}`` of an (H, W, 3) image."""
        from .losses import gram

        f = self.extractor(image[None])
        return {n: gram(f[n]) for n in layers}

    def _value_and_grad_impl(self, x):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            total, parts = self.loss(self.extractor(x), x)
        return total, parts, tape.gradient(total, x)

    def initial_image(self) -> np.ndarray:
        c = self.config
        if c.init == "content":
            return self.content.copy()
        if c.init == "style":
            return imageio.resize(self.style, self.shape)
        rng = np.random.default_rng(c.seed)
        return rng.uniform(0.0, 1.0, size=(*self.shape, 3)).astype(np.float32)

    def run(self, callback: Callable[[Progress], None] | None = None, resume: RunState | None = None,
            fingerprint: str = "", start: np.ndarray | None = None) -> StylizeResult:
        """Optimise the image. See :func:`stylize` for arguments.

        ``start`` (an (h, w, 3) RGB [0, 1] array of any size, resized here) replaces the configured
        initial image, e.g. the upsampled result of a coarser scale.
        """
        c = self.config
        if resume is not None:
            if resume.image.shape[:2] != self.shape:
                raise ConfigError(f"saved state is {resume.image.shape[1]}x{resume.image.shape[0]}, "
                                  f"this run is {self.shape[1]}x{self.shape[0]}")
            if resume.optimizer != c.optimizer:
                raise ConfigError(f"saved state is from optimizer {resume.optimizer}, not {c.optimizer}")
            start = resume.image.astype(np.float32)
            history = {k: list(v) for k, v in resume.history.items()}
            first_step = resume.step
        else:
            start = self.initial_image() if start is None else imageio.resize(np.asarray(start, np.float32),
                                                                               self.shape)
            history = {}
            first_step = 0
        loop = self._loop_class()(self, start, first_step, history, callback, resume, fingerprint)
        return loop.execute()


    def _loop_class(self):
        return _LBFGSRun if self.config.optimizer == "lbfgs" else _AdamRun


class _Run:
    """Shared bookkeeping of one optimisation loop: history, best image, progress, stopping."""

    def __init__(self, st: Stylizer, start, first_step, history, callback, resume, fingerprint):
        self.st = st
        self.steps = st.config.steps
        self.step = first_step
        self.history = history
        self.callback = callback
        self.resume = resume
        self.fingerprint = fingerprint
        self.best_loss = math.inf
        self.best_image = start.copy()
        self.evaluations = 0
        self.stop_reason = "done"
        self.message = ""
        self.t0 = time.perf_counter()

    def record(self, loss: float, parts: dict[str, float]) -> None:
        self.step += 1
        self.history.setdefault("total", []).append(loss)
        for k, v in parts.items():
            self.history.setdefault(k, []).append(v)
        if self.callback is not None:
            self.callback(Progress(self.step, self.steps, loss, parts, time.perf_counter() - self.t0,
                                   self.state))

    def state(self) -> RunState:
        return RunState(image=self.best_image.copy(), step=self.step, optimizer=self.st.config.optimizer,
                        slots=self.slots(), history={k: list(v) for k, v in self.history.items()},
                        fingerprint=self.fingerprint)

    def slots(self) -> list[np.ndarray]:
        return []

    def nonfinite(self, loss: float) -> bool:
        if math.isfinite(loss):
            return False
        self.stop_reason = "nonfinite"
        self.message = (f"loss became {loss} at step {self.step + 1}; stopped and kept the last "
                        f"finite image (try a lower --lr or other weights)")
        return True

    def execute(self) -> StylizeResult:
        try:
            if self.step < self.steps:
                self.loop()
        except KeyboardInterrupt:
            self.stop_reason = "interrupted"
            self.message = f"interrupted at step {self.step} of {self.steps}"
        elapsed = time.perf_counter() - self.t0
        done = max(1, self.step - (self.resume.step if self.resume else 0))
        return StylizeResult(
            image=self.best_image, history=self.history,
            timings={"setup": self.st.setup_seconds, "optimize": elapsed, "per_step": elapsed / done},
            steps=self.step, stop_reason=self.stop_reason, message=self.message, weights=self.st.weights,
            policy=self.st.policy, evaluations=self.evaluations, state=self.state(),
        )


def _to_floats(parts) -> dict[str, float]:
    return {k: float(v) for k, v in parts.items()}


class _AdamRun(_Run):
    """Adam on the [0, 1] image, learning rate decaying exponentially to lr*lr_decay at the last step,
    projected back into [0, 1] after every step."""

    def __init__(self, st, start, *args):
        import keras
        import tensorflow as tf

        super().__init__(st, start, *args)
        c = st.config
        self.var = tf.Variable(start[None], dtype=tf.float32)
        sched = keras.optimizers.schedules.ExponentialDecay(c.lr, decay_steps=c.steps, decay_rate=c.lr_decay)
        # epsilon: per-pixel gradients of a mean-based loss are ~1e-6; Keras's 1e-7 would damp them.
        self.opt = keras.optimizers.Adam(learning_rate=sched, epsilon=1e-10)
        self.opt.build([self.var])
        if self.resume is not None and self.resume.slots:
            if len(self.resume.slots) != len(self.opt.variables):
                raise ConfigError("saved optimiser state does not match Adam's variables")
            for v, a in zip(self.opt.variables, self.resume.slots):
                v.assign(a)
        self._step_fn = tf.function(self._step_impl)

    def _step_impl(self):
        import tensorflow as tf

        total, parts, grad = self.st._value_and_grad_impl(self.var)
        before = tf.identity(self.var)
        self.opt.apply_gradients([(grad, self.var)])
        self.var.assign(tf.clip_by_value(self.var, 0.0, 1.0))
        return total, parts, before

    def slots(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.opt.variables]

    def loop(self) -> None:
        while self.step < self.steps:
            total, parts, before = self._step_fn()
            self.evaluations += 1
            loss = float(total)
            if self.nonfinite(loss):
                return
            # ``before`` is the image this loss was measured on.
            if loss < self.best_loss:
                self.best_loss = loss
                self.best_image = before.numpy()[0]
            self.record(loss, _to_floats(parts))
        # The final update has no loss of its own yet; keep it if it is at least as good.
        total, _, _ = self.st._value_and_grad(self.var)
        if math.isfinite(float(total)) and float(total) <= self.best_loss:
            self.best_loss = float(total)
            self.best_image = self.var.numpy()[0]


class _LBFGSRun(_Run):
    """SciPy's L-BFGS-B on the flattened image with [0, 1] box bounds (no clamping between steps),
    driving the compiled TensorFlow value-and-gradient function."""

    def loop(self) -> None:
        import scipy.optimize
        import tensorflow as tf

        shape = (1, *self.st.shape, 3)
        last = {}

        def fun(x):
            t = tf.constant(x.reshape(shape), tf.float32)
            total, parts, grad = self.st._value_and_grad(t)
            self.evaluations += 1
            loss = float(total)
            if not math.isfinite(loss):
                raise _NonFinite(loss)
            last["parts"] = parts
            if loss < self.best_loss:
                self.best_loss = loss
                self.best_image = x.reshape(shape[1:]).astype(np.float32)
            return loss, grad.numpy().astype(np.float64).ravel()

        def on_iter(intermediate_result):
            self.record(float(intermediate_result.fun), _to_floats(last["parts"]))

        x0 = self.best_image.astype(np.float64).ravel()
        remaining = self.steps - self.step
        try:
            res = scipy.optimize.minimize(
                fun, x0, jac=True, method="L-BFGS-B", bounds=scipy.optimize.Bounds(0.0, 1.0),
                callback=on_iter,
                # Per-pixel gradients are tiny (~1e-6): SciPy's default gtol would stop at once.
                options={"maxiter": remaining, "maxfun": remaining * 2 + 20, "ftol": 0.0, "gtol": 0.0,
                         "maxcor": 20},
            )
        except _NonFinite as e:
            self.nonfinite(e.loss)
            return
        if self.step < self.steps:
            self.stop_reason = "converged"
            self.message = f"L-BFGS stopped after {self.step} of {self.steps} steps: {res.message}"


class _NonFinite(Exception):
    def __init__(self, loss):
        super().__init__(loss)
        self.loss = loss


def stylize(content, style, config: StylizeConfig | None = None,
            callback: Callable[[Progress], None] | None = None,
            resume: RunState | None = None, weights: WeightsInfo | None = None) -> StylizeResult:
    """Stylise ``content`` with ``style`` by optimising the image's pixels (Gatys et al.).

    Args:
        content: path or (H, W, 3) float RGB array in [0, 1].
        style: path or (H, W, 3) float RGB array in [0, 1].
        config: settings; defaults to ``StylizeConfig()``.
        callback: called with a :class:`Progress` after every step.
        resume: a :class:`RunState` from an earlier, unfinished run of the same inputs and settings.
        weights: pre-resolved backbone weights (else resolved from ``config``).

    Returns:
        A :class:`StylizeResult`; ``result.image`` is (H, W, 3) float32 RGB in [0, 1] with the longest
        side ``config.size``.

    Raises:
        tfstyle.image.ImageError, tfstyle.config.ConfigError, tfstyle.features.BackboneError.
    """
    config = (config or StylizeConfig()).validate()
    c = _as_image(content, "content")
    s = _as_image(style, "style")
    # Coarse-to-fine when the size calls for it (one scale, i.e. plain Stylizer, below 512 px).
    from .multiscale import MultiScaleStylizer

    return MultiScaleStylizer(c, s, config, weights).run(callback=callback, resume=resume,
                                                         fingerprint=resume.fingerprint if resume else "")


__all__ = ["RunState", "Progress", "StylizeResult", "Stylizer", "stylize", "output_shape"]
