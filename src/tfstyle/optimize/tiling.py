"""Tiled optimisation of large images with global style statistics.

A 4096x4096 step through VGG19 needs tens of GiB of activations; a tile of 1024 px plus context
needs a few. Tiling must not change the objective: the style loss compares the Gram matrix of the
*whole* image with the target, so it cannot be split into per-tile losses (per-tile Grams would make
every tile match the style's statistics on its own, and seams would show). Instead, every evaluation
of the loss and its gradient runs two passes over a grid of tiles:

1. **Forward only**, per tile: the features of the tile (core plus a margin of context pixels
   on each side, clipped at the image's border) are cut to the tile's *core* and their Gram sums
   ``F^T F`` and cell counts are added up. Cores partition the image, so the sums give the global
   Gram ``G = sum_t F_t^T F_t / N`` exactly, up to the context the margin cuts off.
2. **Forward and backward**, per tile: with ``D = dL_style/dG`` evaluated at the global ``G`` (a
   CxC matrix per layer, cheap), the surrogate ``sum_ij D_ij (F_t^T F_t)_ij / N`` has, with respect
   to the tile's pixels, exactly the gradient of the global style loss through that tile's core
   features; the content term is the tile core's share of the global content loss. The gradients
   of the whole tile (context included: a pixel in the margin influences the core's features) are
   added into a gradient of the whole image. Total variation is cheap and computed on the whole
   image.

So one evaluation gives the global loss and (up to margin effects) its exact gradient, and the
optimiser steps the whole image. The tile grid is shifted by a random offset (a multiple of the
deepest layer's stride, so the pooling grid stays aligned with the untiled one) at every evaluation,
so the residual margin effects never sit at the same place twice: no seams. Tiled scales use Adam
(see :func:`tfstyle.optimize.memory.plan_scale`).

Targets are computed the same way: the style Grams from pass 1 over the style image at this scale,
the content target by stitching the content image's core features (a whole feature map per content
layer, e.g. 512x512x512 float32 = 512 MiB for block4_conv2 at 4096 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError
from .stylizer import Stylizer

# "End of the tile" in core boxes: slicing clips it to the feature map's size.
_TO_END = 1 << 30


def default_margin(facts, layers) -> int:
    """Context that makes tiles exact for ``layers``: the largest margin any of them needs
    (:attr:`tfstyle.backbones.base.LayerFacts.margin`, from the network's graph), rounded up to the
    alignment (80 px for VGG19's block5_conv1, whose features see 70 px beyond a core). Every feature
    of a tile's core then sees exactly the pixels it sees in the whole image, so tiled Grams, content
    features and gradients equal the untiled ones up to float rounding; smaller margins trade
    exactness for speed.

    Args:
        facts: ``{layer: LayerFacts}`` of the network (``FeatureExtractor.facts``).
        layers: the layers the losses read.
    """
    if any(facts[n].is_global for n in layers):
        raise ConfigError(f"layers {', '.join(n for n in layers if facts[n].is_global)} see the whole image: "
                          f"no margin makes tiles exact")
    a = alignment(facts, layers)
    return -(-max(facts[n].margin for n in layers) // a) * a


def max_core(tile: int) -> int:
    """Largest core a tile grid of nominal ``tile`` produces: edge pieces under tile/4 merge inward."""
    return tile + tile // 4


@dataclass(frozen=True)
class Tile:
    """One tile: the extent fed to the network and its core, in image pixels (half-open ranges)."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    def box(self) -> np.ndarray:
        """The core relative to the extent: [top, bottom, left, right]; bottom/right may mean 'to the end'."""
        return np.array([self.cy0 - self.y0, _TO_END if self.cy1 == self.y1 else self.cy1 - self.y0,
                         self.cx0 - self.x0, _TO_END if self.cx1 == self.x1 else self.cx1 - self.x0], np.int32)


def _cuts(n: int, tile: int, shift: int) -> list[int]:
    """Core boundaries along one axis: multiples of ``tile`` moved back by ``shift``, small edge
    pieces (< tile/4) merged into their neighbour."""
    cuts = [0] + [c for c in range(tile - shift, n, tile) if c > 0] + [n]
    if len(cuts) > 2 and cuts[1] - cuts[0] < tile // 4:
        del cuts[1]
    if len(cuts) > 2 and cuts[-1] - cuts[-2] < tile // 4:
        del cuts[-2]
    return cuts


def tile_grid(hw: tuple[int, int], tile: int, margin: int, offset: tuple[int, int] = (0, 0)) -> list[Tile]:
    """Tiles covering an (H, W) image: cores of about ``tile`` px partition it; each extent adds
    ``margin`` px of context per side, clipped to the image.

    Args:
        hw: image (H, W).
        tile: nominal core size (a multiple of the alignment, see :func:`alignment`).
        margin: context per side (a multiple of the alignment).
        offset: (dy, dx) shift of the grid, each in [0, tile) and a multiple of the alignment.
    """
    out = []
    ys, xs = _cuts(hw[0], tile, offset[0]), _cuts(hw[1], tile, offset[1])
    for cy0, cy1 in zip(ys, ys[1:]):
        for cx0, cx1 in zip(xs, xs[1:]):
            out.append(Tile(max(0, cy0 - margin), min(hw[0], cy1 + margin), max(0, cx0 - margin),
                            min(hw[1], cx1 + margin), cy0, cy1, cx0, cx1))
    return out


def alignment(facts, layers) -> int:
    """The largest stride among ``layers``: tile boundaries on multiples of it keep every strided
    grid of a tile aligned with the untiled image's."""
    return max(facts[n].stride for n in layers)


class TiledObjective:
    """The Gatys objective of one image evaluated in tiles (see the module docstring).

    Args:
        extractor: a :class:`tfstyle.backbones.extractor.FeatureExtractor` with the content and style
            layers (and no smoothing: a softmax over the whole image is not a sum over tiles).
        loss: a :class:`tfstyle.objective.losses.StyleContentLoss` (targets and weights; content
            targets are whole feature maps of the image's shape).
        tile, margin: core size and context (multiples of :func:`alignment` of the layers); margin
            None: :func:`default_margin`.
    """

    def __init__(self, extractor, loss, tile: int, margin: int | None = None):
        import tensorflow as tf

        self.extractor = extractor
        self.loss = loss
        self.tile = tile
        self.style_layers = list(loss.style_targets)
        self.content_layers = list(loss.content_targets)
        self.facts = facts = extractor.facts
        if extractor.smoothing != "none":
            raise ConfigError("softmax smoothing normalises each layer over the whole image; tiles cannot "
                              "compute it (use --smoothing none to tile)")
        self.align = alignment(facts, self.style_layers + self.content_layers)
        margin = default_margin(facts, self.style_layers + self.content_layers) if margin is None else margin
        self.margin = margin
        if tile % self.align or margin % self.align:
            raise ValueError(f"tile {tile} and margin {margin} must be multiples of {self.align}")
        sig = [tf.TensorSpec((1, None, None, 3), tf.float32), tf.TensorSpec((4,), tf.int32)]
        self._grams = tf.function(self._grams_impl, input_signature=sig)
        self._core_features = tf.function(self._core_features_impl, input_signature=sig)
        # Fixed signatures: one trace for every tile shape (tiles at the edges differ in size).
        crops = {n: tf.TensorSpec((1, None, None, facts[n].channels), tf.float32) for n in self.content_layers}
        scales = {n: tf.TensorSpec((), tf.float32) for n in self.content_layers}
        dgram = {n: tf.TensorSpec((facts[n].channels,) * 2, tf.float32) for n in self.style_layers}
        self._surrogate_grad = tf.function(self._surrogate_grad_impl, input_signature=sig + [dgram, crops, scales])
        self._forward = tf.function(self._forward_impl, input_signature=sig + [crops, scales])

    # --- graph pieces -----------------------------------------------------------------------------
    def _core(self, f, name, box):
        s = self.facts[name].stride
        return f[:, box[0] // s: box[1] // s, box[2] // s: box[3] // s, :]  # (1, h_core, w_core, C)

    def _grams_impl(self, x, box):
        import tensorflow as tf

        feats = self.extractor(x)
        out = {}
        for name in self.style_layers:
            core = self._core(feats[name], name, box)
            flat = tf.reshape(core, (-1, tf.shape(core)[-1]))  # (h*w, C)
            out[name] = (tf.linalg.matmul(flat, flat, transpose_a=True), tf.cast(tf.shape(flat)[0], tf.float32))
        return out

    def _forward_impl(self, x, box, content_crops, content_scale):
        """Forward only: the tile core's Gram sums and its share of the content loss."""
        import tensorflow as tf

        grams = self._grams_impl(x, box)
        feats = self.extractor(x) if self.content_layers else {}
        content = {n: content_scale[n] * tf.reduce_sum(tf.square(self._core(feats[n], n, box) - content_crops[n]))
                   for n in self.content_layers}
        return grams, content

    def _core_features_impl(self, x, box):
        feats = self.extractor(x)
        return {name: self._core(feats[name], name, box) for name in self.content_layers}

    def _surrogate_grad_impl(self, x, box, dgram, content_crops, content_scale):
        """Gradient of the tile's surrogate w.r.t. its pixels, and the tile's content loss sums.

        dgram: {layer: (C, C)} dL/dG / N (N = the layer's global cell count).
        content_crops: {layer: (1, h_core, w_core, C)} the content target under the tile's core.
        content_scale: {layer: scalar} weight / (cells * C * mean(P^2)) of the global content loss.
        """
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = self.extractor(x)
            surrogate = tf.constant(0.0)
            for name in self.style_layers:
                core = self._core(feats[name], name, box)
                flat = tf.reshape(core, (-1, tf.shape(core)[-1]))  # (h*w, C)
                surrogate += tf.reduce_sum(dgram[name] * tf.linalg.matmul(flat, flat, transpose_a=True))
            content = {}
            for name in self.content_layers:
                core = self._core(feats[name], name, box)
                content[name] = content_scale[name] * tf.reduce_sum(tf.square(core - content_crops[name]))
                surrogate += content[name]
        return tape.gradient(surrogate, x), content

    # --- whole-image operations ---------------------------------------------------------------------
    def tiles(self, hw, offset=(0, 0)) -> list[Tile]:
        return tile_grid(hw, self.tile, self.margin, offset)

    def gram_sums(self, image: np.ndarray, offset=(0, 0)) -> dict:
        """Pass 1: ``{layer: ((C, C) sum of F^T F over tile cores, cell count)}`` of an (H, W, 3) image."""
        import tensorflow as tf

        sums = {}
        for t in self.tiles(image.shape[:2], offset):
            part = self._grams(tf.constant(image[None, t.y0:t.y1, t.x0:t.x1]), tf.constant(t.box()))
            for name, (g, n) in part.items():
                if name in sums:
                    sums[name] = (sums[name][0] + g, sums[name][1] + n)
                else:
                    sums[name] = (g, n)
        return sums

    def grams(self, image: np.ndarray) -> dict:
        """Global normalised Grams ``{layer: (1, C, C)}`` (as :func:`tfstyle.objective.losses.gram`), in tiles."""
        return {n: (g / c)[None] for n, (g, c) in self.gram_sums(image).items()}

    def content_features(self, image: np.ndarray) -> dict:
        """Whole feature maps ``{layer: (1, h, w, C)}`` of the content layers, stitched from tile cores."""
        import tensorflow as tf

        rows: dict[str, list] = {n: [] for n in self.content_layers}
        tiles = self.tiles(image.shape[:2])
        for cy0 in sorted({t.cy0 for t in tiles}):
            row = [t for t in tiles if t.cy0 == cy0]
            parts = [self._core_features(tf.constant(image[None, t.y0:t.y1, t.x0:t.x1]), tf.constant(t.box()))
                     for t in sorted(row, key=lambda t: t.cx0)]
            for n in self.content_layers:
                rows[n].append(np.concatenate([p[n].numpy() for p in parts], axis=2))
        return {n: np.concatenate(r, axis=1) for n, r in rows.items()}

    def _content_scale(self) -> dict:
        """{layer: weight / (elements * mean(P^2))}: the global content loss per squared difference."""
        import tensorflow as tf

        if not hasattr(self, "_scale"):
            L = self.loss
            weight = L.content_weight / len(self.content_layers)
            self._scale = {}
            for name, p in L.content_targets.items():
                mean_sq = float(tf.reduce_mean(tf.square(p))) + 1e-8  # as losses.content_layer_loss
                self._scale[name] = tf.constant(weight / (float(tf.size(p)) * mean_sq))
        return self._scale

    def _crops(self, t: Tile, hw) -> dict:
        """The content targets under tile ``t``'s core."""
        out = {}
        for name in self.content_layers:
            s = self.facts[name].stride
            p = self.loss.content_targets[name]
            out[name] = p[:, t.cy0 // s: (t.cy1 // s if t.cy1 < hw[0] else p.shape[1]),
                          t.cx0 // s: (t.cx1 // s if t.cx1 < hw[1] else p.shape[2]), :]
        return out

    def _style_parts(self, sums) -> tuple[dict, dict]:
        """Style loss parts at the global Grams and ``{layer: dL/d(sum F^T F)}`` (CxC each)."""
        import tensorflow as tf

        from ..objective.losses import style_layer_loss

        L = self.loss
        parts, dgram = {}, {}
        for name in self.style_layers:
            g_sum, n = sums[name]
            g = (g_sum / n)[None]
            with tf.GradientTape() as tape:
                tape.watch(g)
                value = L.style_weight * L.style_layer_weights[name] * style_layer_loss(g, L.style_targets[name])
            parts[f"style/{name}"] = float(value)
            dgram[name] = tape.gradient(value, g)[0] / n
        return parts, dgram

    def _tv(self, image: np.ndarray, grad: np.ndarray | None) -> float:
        """Total variation of the whole image (cheap: no network); adds its gradient into ``grad``."""
        import tensorflow as tf

        from ..objective.losses import total_variation

        x = tf.constant(image[None])
        with tf.GradientTape() as tape:
            tape.watch(x)
            tv = self.loss.tv_weight * total_variation(x)
        if grad is not None:
            grad += tape.gradient(tv, x).numpy()[0]
        return float(tv)

    def value(self, image: np.ndarray, offset=(0, 0)) -> tuple[float, dict]:
        """The global loss and its named parts, forward passes only (a third of a gradient's cost)."""
        import tensorflow as tf

        hw = image.shape[:2]
        sums, parts = {}, {f"content/{n}": 0.0 for n in self.content_layers}
        for t in self.tiles(hw, offset):
            grams, content = self._forward(tf.constant(image[None, t.y0:t.y1, t.x0:t.x1]), tf.constant(t.box()),
                                           self._crops(t, hw), self._content_scale())
            for name, (g, n) in grams.items():
                sums[name] = (sums[name][0] + g, sums[name][1] + n) if name in sums else (g, n)
            for name, v in content.items():
                parts[f"content/{name}"] += float(v)
        parts.update(self._style_parts(sums)[0])
        parts["tv"] = self._tv(image, None)
        return sum(parts.values()), parts

    def value_and_grad(self, image: np.ndarray, offset=(0, 0)):
        """The global loss, its named parts and its gradient for an (H, W, 3) image in [0, 1].

        Returns:
            (total float, {part: float}, (H, W, 3) float32 gradient).
        """
        import tensorflow as tf

        hw = image.shape[:2]
        # Pass 1: global Grams; the style loss and dL/dG at the global G (CxC per layer).
        parts, dgram = self._style_parts(self.gram_sums(image, offset))
        for name in self.content_layers:
            parts[f"content/{name}"] = 0.0
        # Pass 2: per tile, the gradient of the surrogate, added into the whole image's gradient.
        grad = np.zeros(image.shape, np.float32)
        for t in self.tiles(hw, offset):
            g, content = self._surrogate_grad(tf.constant(image[None, t.y0:t.y1, t.x0:t.x1]), tf.constant(t.box()),
                                              dgram, self._crops(t, hw), self._content_scale())
            grad[t.y0:t.y1, t.x0:t.x1] += g.numpy()[0]
            for name, v in content.items():
                parts[f"content/{name}"] += float(v)
        parts["tv"] = self._tv(image, grad)
        return sum(parts.values()), parts, grad


class TiledStylizer(Stylizer):
    """A :class:`tfstyle.optimize.stylizer.Stylizer` whose targets, loss and gradient are computed in tiles.

    Same interface (``run``, ``shape``, ``config`` ...); the network never sees the whole image at once.

    Args:
        content, style: (H, W, 3) float32 RGB in [0, 1].
        config: settings (``size`` is this scale's longest side).
        weights: resolved backbone weights.
        tile: nominal core size of the tiles (a multiple of 32).
        margin: context around each core (None: exact, :func:`default_margin`).
        arrays: passed on to :class:`Stylizer`.
    """

    def __init__(self, content, style, config, weights=None, tile: int = 1024, margin: int | None = None,
                 **arrays):
        self.tile, self.margin = tile, margin
        # The tiled objective evaluates the plain style/content loss on tiles: it has no place for
        # the whole-image view that masks and luminance-only transfer need.
        if (config.content_mask or config.style_masks or arrays.get("content_mask") is not None
                or arrays.get("style_masks") is not None or config.preserve_color == "luminance"):
            raise ConfigError(f"masks and --preserve-color luminance are not supported at tiled scales "
                              f"({config.size} px in {tile} px tiles); use a smaller --size")
        super().__init__(content, style, config, weights, **arrays)  # calls the target hooks below
        self.objective = TiledObjective(self.extractor, self.loss, tile, margin)
        # Grid offsets come from the run's seed: a rerun moves its seams the same way.
        self._rng = np.random.default_rng(config.seed)
        self._value_and_grad = self._tiled_value_and_grad  # instead of Stylizer's whole-image function

    def _probe(self) -> "TiledObjective":
        content_layers, style_layers = self.config.resolved_layers()
        style_layers = [n for n, w in style_layers if w > 0]
        return TiledObjective(self.extractor, _Targets(content_layers, style_layers), self.tile, self.margin)

    def _content_features(self, image):
        """Content-layer features of the whole image, stitched from tile cores."""
        return self._probe().content_features(image)

    def _style_grams(self, image, layers):
        """Global Grams from Gram sums over tile cores (forward passes only)."""
        return {n: g for n, g in self._probe().grams(image).items() if n in layers}

    def random_offset(self) -> tuple[int, int]:
        a = self.objective.align
        return tuple(int(self._rng.integers(0, self.tile // a)) * a for _ in range(2))

    def _tiled_value_and_grad(self, x):
        """(total, parts, gradient) like Stylizer's, for a (1, H, W, 3) image; a fresh grid offset each call.

        The loss is computed with forward passes only; the gradient (an object with ``.numpy()``,
        as L-BFGS uses it) only when asked for, so evaluating a final image costs no backward pass.
        """
        import tensorflow as tf

        image = np.asarray(x.numpy() if hasattr(x, "numpy") else x, np.float32)[0]
        offset = self.random_offset()
        total, parts = self.objective.value(image, offset)
        return tf.constant(total), parts, _LazyGradient(self.objective, image, offset)


class _LazyGradient:
    """The tiled gradient, computed on the first ``.numpy()``: (1, H, W, 3) float32."""

    def __init__(self, objective, image, offset):
        self.objective, self.image, self.offset = objective, image, offset

    def numpy(self) -> np.ndarray:
        return self.objective.value_and_grad(self.image, self.offset)[2][None]


class _Targets:
    """Layer lists (and no targets yet) for the TiledObjective that computes the targets."""

    def __init__(self, content_layers, style_layers):
        self.content_targets = dict.fromkeys(content_layers)
        self.style_targets = dict.fromkeys(style_layers)
