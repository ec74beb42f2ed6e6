"""One image optimisation at one size (Gatys et al.): the network, the targets, the objective.

A :class:`Stylizer` holds the feature extractor, the content and style targets (computed once, here,
never inside the loop) and the loss; its ``_value_and_grad`` is the compiled objective that a loop
(:mod:`tfstyle.optimize.loops`) minimises. Coarse-to-fine runs and tiles build on it
(:mod:`tfstyle.optimize.multiscale`, :mod:`tfstyle.optimize.tiling`).

The library never prints or writes: progress goes to ``callback(Progress)``; the result comes back
as a :class:`tfstyle.progress.StylizeResult`.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ..backbones.extractor import FeatureExtractor
from ..backbones.weights import WeightsInfo, weights_for
from ..config import ConfigError, StylizeConfig
from ..hardware import resolve_precision, set_inter_op_threads
from ..io import images
from ..io.images import as_image, output_shape, style_shape
from ..progress import Progress, RunState, StylizeResult
from .loops import loop_class


class SharedObjective:
    """One compiled objective for every scale of a run: the targets are arguments, not constants, and
    the image's height and width are left open, so TensorFlow traces the network's forward and
    backward pass once instead of once per scale (each trace costs about two steps' time).

    Serves plain objectives (no masks, no luminance-only view); the first Stylizer that uses it
    fixes the loss weights, which are the same at every scale of a run. ``shape``: the (H, W) of a
    run's only scale, traced with static sizes (a smaller graph, traced and optimised sooner:
    bench/speed.py, bench/results/decisions.md); None leaves them open.
    """

    def __init__(self, extractor: FeatureExtractor, shape: tuple[int, int] | None = None):
        self.extractor = extractor
        self.shape = tuple(shape) if shape else None
        self._fn = None

    def __call__(self, x, loss):
        import tensorflow as tf

        if self._fn is None:
            def spec(t):
                if self.shape is not None or t.shape.rank != 4:
                    return tf.TensorSpec(t.shape, tf.float32)
                return tf.TensorSpec((1, None, None, t.shape[-1]), tf.float32)

            signature = [tf.TensorSpec((1, *(self.shape or (None, None)), 3), tf.float32),
                         {k: spec(v) for k, v in loss.content_targets.items()},
                         {k: spec(v) for k, v in loss.style_targets.items()}]

            def impl(x, content_targets, style_targets):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    total, parts = loss(self.extractor(x, keep_bfloat16=True), x, content_targets, style_targets)
                return total, parts, tape.gradient(total, x)

            # autograph=False: the objective has no tensor-dependent Python control flow, and
            # converting the network's code delayed the first step (bench/results/decisions.md).
            self._fn = tf.function(impl, input_signature=signature, autograph=False)
        return self._fn(x, loss.content_targets, loss.style_targets)


def build_extractor(config: StylizeConfig, weights: WeightsInfo, policy: str) -> FeatureExtractor:
    """The feature extractor of a run: the content layers and the style layers of non-zero weight,
    the network, pooling and smoothing of ``config``."""
    content_layers, style_layers = config.resolved_layers()
    return FeatureExtractor(list(content_layers) + [n for n, w in style_layers if w > 0], weights, policy,
                            pooling=config.resolved_pooling(weights.is_random), smoothing=config.resolved_smoothing(),
                            temperature=config.smoothing_temperature, conv=config.conv_algorithm)


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
        extractor: a :func:`build_extractor` of the same settings to reuse (coarse-to-fine runs
            build the network once for all scales).
        shared: a :class:`SharedObjective` of that extractor, compiled once for every scale (used
            where the objective is plain: no masks, no luminance-only view, no extra term).
        extra_loss: a further term of the objective: called with the optimised (1, H, W, 3) image
            inside the compiled objective, it returns ``(value, {name: value})``; the value is added
            to the total and the parts to the named breakdown (e.g. video's temporal loss).
    """

    def __init__(self, content: np.ndarray, style, config: StylizeConfig,
                 weights: WeightsInfo | None = None, *, init_image: np.ndarray | None = None,
                 content_mask: np.ndarray | None = None, style_masks=None,
                 extractor: FeatureExtractor | None = None, shared: SharedObjective | None = None,
                 extra_loss: Callable | None = None):
        import tensorflow as tf

        from ..objective import color, masks
        from ..objective.losses import StyleContentLoss

        self.config = config.validate()
        # (offset, total): Adam's steps are those from offset of a total-step learning-rate schedule
        # (a coarse-to-fine run sets its scale's segment); None: the whole schedule, config.steps.
        self.schedule_span: tuple[int, int] | None = None
        set_inter_op_threads(config.inter_op_threads)
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        blend = config.blend_weights(len(styles))
        t0 = time.perf_counter()
        self.weights = weights_for(config, weights)
        self.policy = resolve_precision(config.precision)
        self.shape = output_shape(content.shape[:2], config.size)
        content_layers, style_layers = config.resolved_layers()
        style_layers = {n: w for n, w in style_layers if w > 0}
        self.extractor = extractor or build_extractor(config, self.weights, self.policy)
        self.content = images.resize(content, self.shape)
        # Each style image keeps its own aspect ratio (never stretched to the content's); Grams are
        # per-pixel averages, so its size need not match the output's. Its longest side is
        # size * style_scale: a larger style image has larger brush strokes in pixels, and the
        # output (at ``size``) reproduces them at that pixel size, so style_scale 2 doubles them.
        side = round(config.size * config.style_scale)
        self.styles = [images.resize(s, style_shape(s.shape[:2], side, i, len(styles)))
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
        common = dict(content_targets={n: cf[n] for n in content_layers},
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
        self.extra_loss = extra_loss
        self.setup_seconds = time.perf_counter() - t0
        plain = self._keep is None and not self._luminance and extra_loss is None
        if shared is not None and plain and type(self.loss) is StyleContentLoss:
            self._value_and_grad = lambda x: shared(tf.convert_to_tensor(x, tf.float32), self.loss)
        else:
            self._value_and_grad = tf.function(self._value_and_grad_impl, reduce_retracing=True, autograph=False)

    def view(self, x):
        """What the losses see of the optimised (B, H, W, 3) image ``x``: outside the content mask
        the content itself (so those pixels get no gradient), and its luminance only when colours are
        preserved by luminance."""
        from ..objective.color import luminance_tf

        if self._keep is not None:
            m, c = self._keep
            x = m * x + (1.0 - m) * c
        if self._luminance:
            x = luminance_tf(x)
        return x

    def finish(self, image: np.ndarray) -> np.ndarray:
        """The output image for an optimised (H, W, 3) image: the content outside the content mask,
        and the content's chrominance under luminance-only transfer. Identity otherwise."""
        from ..objective.color import with_chrominance

        if self.mask is not None:
            m = self.mask[..., None]
            image = m * image + (1.0 - m) * self.content
        if self._luminance:
            image = with_chrominance(image, self.content)
        return np.clip(image, 0, 1).astype(np.float32)

    # Target hooks: tfstyle.optimize.tiling overrides both to run the network on tiles, never the whole image.
    def _content_features(self, image: np.ndarray) -> dict:
        """Features ``{layer: (1, h, w, C)}`` of an (H, W, 3) image (at least the content layers)."""
        return self.extractor(image[None])

    def _style_grams(self, image: np.ndarray, layers) -> dict:
        """Normalised Grams ``{layer: (1, C, C)}`` of an (H, W, 3) image."""
        from ..objective.losses import gram

        f = self.extractor(image[None])
        return {n: gram(f[n]) for n in layers}

    def _value_and_grad_impl(self, x):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            v = self.view(x)
            total, parts = self.loss(self.extractor(v, keep_bfloat16=True), v)
            if self.extra_loss is not None:
                extra, extra_parts = self.extra_loss(x)
                total = total + extra
                parts = {**parts, **extra_parts}
        return total, parts, tape.gradient(total, x)

    def initial_image(self) -> np.ndarray:
        """The starting image: the content, seeded uniform noise, the style (stretched to the output
        shape; colour-matched under histogram colour preservation) or an image file (resized)."""
        c = self.config
        if c.init == "content":
            return self.content.copy()
        if c.init == "style":
            return images.resize(self._style_init, self.shape)
        if c.init == "noise":
            rng = np.random.default_rng(c.seed)
            return rng.uniform(0.0, 1.0, size=(*self.shape, 3)).astype(np.float32)
        init = self._init_image if self._init_image is not None else images.load_image(c.init)
        return images.resize(as_image(init, "init"), self.shape)

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
            start = self.initial_image() if start is None else images.resize(np.asarray(start, np.float32),
                                                                              self.shape)
            history = {}
            first_step = 0
        if callback is not None:
            user_callback = callback

            def callback(p: Progress) -> None:
                p._finish = self.finish  # so that p.image is an output image
                user_callback(p)

        loop = loop_class(c.optimizer)(self, start, first_step, history, callback, resume, fingerprint)
        result = loop.execute()
        result.image = self.finish(result.image)  # result.state keeps the optimised image itself
        return result


__all__ = ["Stylizer", "SharedObjective", "build_extractor"]


