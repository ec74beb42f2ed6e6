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
        image: (H, W, 3) float32 RGB in [0, 1], the image to continue from: Adam's current
            iterate (so that a resumed run continues exactly), L-BFGS's best image so far.
        step: optimisation steps completed; ``history`` holds exactly this many entries per key
            and Adam's slots exactly this many updates, wherever an interrupt landed.
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
    _finish: Callable[[np.ndarray], np.ndarray] | None = field(repr=False, default=None)

    def state(self) -> RunState:
        """The run's state now (copies the image from the device)."""
        return self._state()

    @property
    def image(self) -> np.ndarray:
        """The best output image so far (as :attr:`StylizeResult.image`; ``state().image`` is the
        optimised image itself, which differs under a content mask or luminance-only transfer)."""
        image = self._state().image
        return self._finish(image) if self._finish is not None else image


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


def style_shape(hw: tuple[int, int], side: int, index: int, count: int) -> tuple[int, int]:
    out = imageio.fit_size(hw, side)
    if min(out) < imageio.MIN_SIDE:
        which = "style image" if count == 1 else f"style image {index + 1}"
        raise ConfigError(f"at --size x --style-scale = {side} px the {which} ({hw[1]}x{hw[0]}) becomes "
                          f"{out[1]}x{out[0]}; each side must be at least {imageio.MIN_SIDE} px")
    return out


def output_shape(content_hw: tuple[int, int], size: int, what: str = "content image") -> tuple[int, int]:
    """Output (H, W) for a content image and the longest side; errors if a side falls under 16 px."""
    hw = imageio.fit_size(content_hw, size)
    if min(hw) < imageio.MIN_SIDE:
        raise ConfigError(f"at --size {size} the {what} ({content_hw[1]}x{content_hw[0]}) becomes "
                          f"{hw[1]}x{hw[0]}; each side must be at least {imageio.MIN_SIDE} px")
    return hw


def _set_inter_op_threads(n: int) -> None:
    """Size TensorFlow's inter-op pool (0 leaves TensorFlow's default, one thread per core).

    Why 1 by default: a VGG step is a chain of large ops that oneDNN already spreads over the
    cores; a second inter-op thread only competes with them. bench/knobs.py at 512 px on 2 cores:
    inter-op 1 was 1.02-1.40x faster per step (median 1.09x) in 5 of 5 runs. TensorFlow fixes its
    pools when it runs its first op; after that this is a no-op.
    """
    import tensorflow as tf

    if n <= 0 or tf.config.threading.get_inter_op_parallelism_threads() == n:
        return
    try:
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # TensorFlow already started in this process: its pools are fixed
        pass


class Stylizer:
    """A loaded backbone plus precomputed targets for one content and one or more style images at
    one size.

    Build it once, then :meth:`run` it (possibly several times, e.g. benchmarks).

    Args:
        content: (H, W, 3) float RGB in [0, 1].
        style: one (H, W, 3) style image, or a sequence of them (blended by ``config.style_blend``,
            or placed by ``config.style_masks``).
        config: settings.
        weights: pre-resolved backbone weights (else resolved from ``config``).
        init_image, content_mask, style_masks: arrays that take the place of the files named by
            ``config.init``, ``config.content_mask`` and ``config.style_masks`` (callers that
            already read them, e.g. the CLI).
    """

    def __init__(self, content: np.ndarray, style, config: StylizeConfig,
                 weights: WeightsInfo | None = None, *, init_image: np.ndarray | None = None,
                 content_mask: np.ndarray | None = None, style_masks=None):
        import tensorflow as tf

        from . import color, masks
        from .losses import StyleContentLoss

        self.config = config.validate()
        _set_inter_op_threads(config.inter_op_threads)
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        blend = config.blend_weights(len(styles))
        t0 = time.perf_counter()
        self.weights = weights or resolve_weights(config.backbone, config.weights, config.network)
        if self.weights.network != config.network:
            raise ConfigError(f"the given weights are for {self.weights.network}, the config asks for "
                              f"{config.network}")
        self.policy = resolve_precision(config.precision)
        self.shape = output_shape(content.shape[:2], config.size)
        style_layers = {n: w for n, w in config.style_layers if w > 0}
        self.extractor = FeatureExtractor(list(config.content_layers) + list(style_layers),
                                          self.weights, self.policy, pooling=config.pooling)
        self.content = imageio.resize(content, self.shape)
        # Each style image keeps its own aspect ratio (never stretched to the content's); Grams are
        # per-pixel averages, so its size need not match the output's. Its longest side is
        # size * style_scale: a larger style image has larger brush strokes in pixels, and the
        # output (at ``size``) reproduces them at that pixel size, so style_scale 2 doubles them.
        side = round(config.size * config.style_scale)
        self.styles = [imageio.resize(s, style_shape(s.shape[:2], side, i, len(styles)))
                       for i, s in enumerate(styles)]
        self.style = self.styles[0]
        self.blend = blend
        # Colour control: the images the targets come from (grey for luminance, the style's colours
        # matched to the content's for histogram).
        content_in, styles_in = color.prepare(config.preserve_color, self.content, self.styles)
        self._style_init = styles_in[0]
        self._init_image = init_image
        # Targets are computed once, here, never inside the loop.
        cf = self._content_features(content_in)
        grams = [self._style_grams(s, style_layers) for s in styles_in]
        common = dict(content_targets={n: cf[n] for n in config.content_layers},
                      style_layer_weights=style_layers, content_weight=config.content_weight,
                      style_weight=config.style_weight, tv_weight=config.tv_weight)
        # Mask of the stylised area (None: everywhere) and one region mask per style (None: no masks).
        self.mask, region_masks = masks.load_masks(
            self.shape, len(styles),
            content_mask if content_mask is not None else config.content_mask,
            style_masks if style_masks is not None else (config.style_masks or None))
        if region_masks is None:
            # Several styles: the target is the blend of their Grams, sum_i w_i G_i (as
            # jcjohnson/neural-style's -style_blend_weights), rather than a weighted sum of per-style
            # losses. The blended Gram is the Gram of a mosaic of the styles in which style i covers
            # a fraction w_i of the area, a texture that can exist; and since each loss is divided by
            # its own target's magnitude, summing per-style losses would tilt the blend towards the
            # style with the weaker activations, whereas w_i here means what it says.
            target = {n: tf.add_n([w * g[n] for w, g in zip(blend, grams)]) for n in style_layers}
            if self.mask is None:
                self.loss = StyleContentLoss(style_targets=target, **common)
            else:  # one region, the content mask, with the blended target
                shapes = {n: tuple(cf[n].shape[1:3]) for n in style_layers}
                self.loss = masks.RegionStyleContentLoss(
                    regions=[(1.0, target, masks.layer_masks(self.mask, shapes))], **common)
        else:  # style i over its own region
            shapes = {n: tuple(cf[n].shape[1:3]) for n in style_layers}
            regions = [(w, g, masks.layer_masks(m, shapes)) for w, g, m in zip(blend, grams, region_masks)]
            self.loss = masks.RegionStyleContentLoss(regions=regions, **common)
        self._keep = None
        if self.mask is not None:
            self._keep = (tf.constant(self.mask[None, :, :, None], tf.float32),
                          tf.constant(content_in[None], tf.float32))
        self._luminance = config.preserve_color == "luminance"
        self.setup_seconds = time.perf_counter() - t0
        self._value_and_grad = tf.function(self._value_and_grad_impl, reduce_retracing=True)

    def view(self, x):
        """What the losses see of the optimised (B, H, W, 3) image ``x``: outside the content mask
        the content itself (so those pixels get no gradient), and its luminance only when colours are
        preserved by luminance."""
        from .color import luminance_tf

        if self._keep is not None:
            m, c = self._keep
            x = m * x + (1.0 - m) * c
        if self._luminance:
            x = luminance_tf(x)
        return x

    def finish(self, image: np.ndarray) -> np.ndarray:
        """The output image for an optimised (H, W, 3) image: the content outside the content mask,
        and the content's chrominance under luminance-only transfer. Identity otherwise."""
        from .color import with_chrominance

        if self.mask is not None:
            m = self.mask[..., None]
            image = m * image + (1.0 - m) * self.content
        if self._luminance:
            image = with_chrominance(image, self.content)
        return np.clip(image, 0, 1).astype(np.float32)

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
            v = self.view(x)
            total, parts = self.loss(self.extractor(v, keep_bfloat16=True), v)
        return total, parts, tape.gradient(total, x)

    def initial_image(self) -> np.ndarray:
        """The starting image: the content, seeded uniform noise, the style (stretched to the output
        shape; colour-matched under histogram colour preservation) or an image file (resized)."""
        c = self.config
        if c.init == "content":
            return self.content.copy()
        if c.init == "style":
            return imageio.resize(self._style_init, self.shape)
        if c.init == "noise":
            rng = np.random.default_rng(c.seed)
            return rng.uniform(0.0, 1.0, size=(*self.shape, 3)).astype(np.float32)
        init = self._init_image if self._init_image is not None else imageio.load_image(c.init)
        return imageio.resize(_as_image(init, "init"), self.shape)

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
        if callback is not None:
            user_callback = callback

            def callback(p: Progress) -> None:
                p._finish = self.finish  # so that p.image is an output image
                user_callback(p)

        loop = self._loop_class()(self, start, first_step, history, callback, resume, fingerprint)
        result = loop.execute()
        result.image = self.finish(result.image)  # result.state keeps the optimised image itself
        return result

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

    def record(self, loss: float, parts: dict[str, float], notify: bool = True) -> None:
        # History first, then the step: an interrupt between the two leaves extra entries, which
        # state() trims, never a step without its history.
        self.history.setdefault("total", []).append(loss)
        for k, v in parts.items():
            self.history.setdefault(k, []).append(v)
        self.step += 1
        if notify:
            self.notify(loss, parts)

    def notify(self, loss: float, parts: dict[str, float]) -> None:
        if self.callback is not None:
            self.callback(Progress(self.step, self.steps, loss, parts, time.perf_counter() - self.t0,
                                   self.state))

    def state(self) -> RunState:
        step = self.done()
        return RunState(image=self.resume_image(), step=step, optimizer=self.st.config.optimizer,
                        slots=self.slots(), history={k: list(v[:step]) for k, v in self.history.items()},
                        fingerprint=self.fingerprint)

    def done(self) -> int:
        return self.step

    def resume_image(self) -> np.ndarray:
        return self.best_image.copy()

    def slots(self) -> list[np.ndarray]:
        return []

    def nonfinite(self, loss: float, grad_finite: bool = True, what: str = "") -> bool:
        if not what:
            if math.isfinite(loss) and grad_finite:
                return False
            what = f"loss became {loss}" if not math.isfinite(loss) else "the gradient became NaN or Inf"
            what += f" at step {self.step + 1}"
        self.stop_reason = "nonfinite"
        self.message = f"{what}; stopped and kept the last finite image (try a lower --lr or other weights)"
        return True

    def execute(self) -> StylizeResult:
        try:
            if self.step < self.steps:
                self.loop()
        except KeyboardInterrupt:
            self.stop_reason = "interrupted"
            self.message = f"interrupted at step {self.step} of {self.steps}"
        elapsed = time.perf_counter() - self.t0
        state = self.state()
        done = max(1, state.step - (self.resume.step if self.resume else 0))
        return StylizeResult(
            image=self.best_image, history=state.history,
            timings={"setup": self.st.setup_seconds, "optimize": elapsed, "per_step": elapsed / done},
            steps=state.step, stop_reason=self.stop_reason, message=self.message, weights=self.st.weights,
            policy=self.st.policy, evaluations=self.evaluations, state=state,
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
            shapes = [tuple(v.shape) for v in self.opt.variables]
            if [tuple(np.shape(a)) for a in self.resume.slots] != shapes:
                raise ConfigError("saved optimiser state does not match Adam's variables")
            for v, a in zip(self.opt.variables, self.resume.slots):
                v.assign(a)
            if int(self.opt.iterations.numpy()) != self.step:
                raise ConfigError(f"saved optimiser state has {int(self.opt.iterations.numpy())} updates, "
                                  f"the saved step is {self.step}")
        self._apply_fn = tf.function(self._apply_impl)

    def _apply_impl(self, grad):
        """One Adam update; undone (returns False) if it overflows, so the state stays resumable."""
        import tensorflow as tf

        keep = [self.var, *self.opt.variables]
        saved = [tf.identity(v) for v in keep]
        self.opt.apply_gradients([(grad, self.var)])
        self.var.assign(tf.clip_by_value(self.var, 0.0, 1.0))
        ok = tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32))) for v in keep])
        for v, old in zip(keep, saved):
            v.assign(tf.where(ok, v, old))
        return ok

    def done(self) -> int:
        # Adam's own update counter is the truth: an interrupt may land after the step was
        # recorded but before its update was applied.
        return int(self.opt.iterations.numpy())

    def resume_image(self) -> np.ndarray:
        return self.var.numpy()[0]

    def slots(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.opt.variables]

    def loop(self) -> None:
        import tensorflow as tf

        while self.step < self.steps:
            # Measure, record, then update: the loss belongs to the image before the update, and a
            # non-finite loss or gradient never reaches the optimiser's state.
            total, parts, grad = self.st._value_and_grad(self.var)
            if not tf.is_tensor(grad):  # a tiled objective computes its gradient on demand
                grad = tf.constant(grad.numpy())
            self.evaluations += 1
            loss = float(total)
            if self.nonfinite(loss, bool(tf.reduce_all(tf.math.is_finite(grad)))):
                return
            if loss < self.best_loss:
                self.best_loss = loss
                self.best_image = self.var.numpy()[0]
            floats = _to_floats(parts)
            self.record(loss, floats, notify=False)
            if not bool(self._apply_fn(grad)):  # the step's loss stays in the history, trimmed by state()
                self.nonfinite(loss, what=f"the Adam update overflowed to NaN or Inf at step {self.step}")
                return
            self.notify(loss, floats)
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
            g = grad.numpy().astype(np.float64).ravel()
            if not (math.isfinite(loss) and np.isfinite(g).all()):
                raise _NonFinite(loss)
            last["parts"] = parts
            if loss < self.best_loss:
                self.best_loss = loss
                self.best_image = x.reshape(shape[1:]).astype(np.float32)
            return loss, g

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
            self.nonfinite(e.loss, grad_finite=False)
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
            resume: RunState | None = None, weights: WeightsInfo | None = None,
            **arrays) -> StylizeResult:
    """Stylise ``content`` with ``style`` by optimising the image's pixels (Gatys et al.).

    Args:
        content: path or (H, W, 3) float RGB array in [0, 1].
        style: path or (H, W, 3) float RGB array in [0, 1], or a list of them (several styles,
            blended by ``config.style_blend`` or placed by ``config.style_masks``).
        config: settings; defaults to ``StylizeConfig()``.
        callback: called with a :class:`Progress` after every step.
        resume: a :class:`RunState` from an earlier, unfinished run of the same inputs and settings.
        weights: pre-resolved backbone weights (else resolved from ``config``).
        **arrays: ``init_image``, ``content_mask``, ``style_masks``: arrays in place of the files
            that ``config`` names (see :class:`Stylizer`).

    Returns:
        A :class:`StylizeResult`; ``result.image`` is (H, W, 3) float32 RGB in [0, 1] with the longest
        side ``config.size``.

    Raises:
        tfstyle.image.ImageError, tfstyle.config.ConfigError, tfstyle.features.BackboneError.
    """
    config = (config or StylizeConfig()).validate()
    c = _as_image(content, "content")
    if isinstance(style, (list, tuple)):
        s = [_as_image(x, f"style {i + 1}") for i, x in enumerate(style)]
    else:
        s = _as_image(style, "style")
    # Coarse-to-fine when the size calls for it (one scale, i.e. plain Stylizer, below 512 px).
    from .multiscale import MultiScaleStylizer

    return MultiScaleStylizer(c, s, config, weights, **arrays).run(
        callback=callback, resume=resume, fingerprint=resume.fingerprint if resume else "")


__all__ = ["RunState", "Progress", "StylizeResult", "Stylizer", "stylize", "output_shape"]
