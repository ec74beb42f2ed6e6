"""The interface every loss network implements, and the facts read off its Keras graph.

A backbone is one file under ``tfstyle/backbones`` with a :class:`Backbone` subclass and one entry in
``tfstyle.config.BACKBONES_REGISTRY`` (its defaults). It says:

* which ``keras.applications`` network it is, and its weight file (Keras's own name, md5 and
  download address), for :mod:`tfstyle.backbones.weights`;
* the layers a loss may read (``layers``, shallow to deep; cheap, no TensorFlow, so the command line
  can check layer names before it loads anything);
* how RGB in [0, 1] becomes the network's input (:meth:`Backbone.preprocess`);
* how its random, weight-free variant is initialised (:meth:`Backbone.random_init`);
* which pooling variants it has.

Everything geometric is *derived* from the real Keras graph by :func:`graph_facts`, never typed in:
per layer its stride (input pixels per feature cell), its channels and its receptive field (how far
left/up and right/down of its anchor pixel a feature sees), or "global" where a global pooling on the
way (squeeze-and-excitation) lets every feature see the whole image. Memory planning and tiling use
these facts and know nothing else about the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import BACKBONES_REGISTRY, RANDOM_BACKBONE_SEED, ConfigError, weights_env


def check_winograd(chain: bool, precision: str) -> None:
    """Raise ConfigError where Winograd's convolutions (``tfstyle.kernels.winograd``) cannot run: a
    network that is not a plain chain of layers, or a precision other than float32 (``"auto"`` passes:
    it is decided once TensorFlow is loaded)."""
    if not chain:
        raise ConfigError("--conv-algorithm winograd needs a VGG network (vgg19, vgg16)")
    if precision not in ("float32", "auto"):
        raise ConfigError("--conv-algorithm winograd needs float32 (--precision float32)")


@dataclass(frozen=True)
class LayerFacts:
    """Geometry of one layer's output, read off the graph.

    Attributes:
        name: Keras layer name.
        stride: input pixels per feature cell along each axis (1, 2, 4, ...).
        channels: feature channels.
        left, right: pixels a feature sees before and after its anchor pixel ``cell * stride``
            (up/left and down/right; the two axes are alike). None for both when the feature sees
            the whole image (a global pooling lies on the way).
        ancestors: names of the layers this one depends on (its own included): what a network
            truncated after this layer computes.
        ops: the size-changing operations from the input to this layer, in order: ``("pad", t)``
            (t cells added), ``("window", k, s, padding)`` or ``("collapse",)`` (a global pooling:
            one cell); :meth:`cells` applies them.
        patch: for a convolution, the values of its input window per output cell (k * k * input
            channels), what an unfolded ("im2col") copy of its input holds per cell; 0 otherwise.
    """

    name: str
    stride: int
    channels: int
    left: int | None
    right: int | None
    ancestors: frozenset[str] = frozenset()
    ops: tuple = ()
    patch: int = 0

    def cells(self, n: int) -> int:
        """Cells along an axis of this layer's output for an input of ``n`` pixels along it (exact:
        TensorFlow's "same" is ``ceil(n / s)``, "valid" ``floor((n - k) / s) + 1``)."""
        for op in self.ops:
            if op[0] == "collapse":
                n = 1
            elif op[0] == "pad":
                n += op[1]
            else:
                _, k, s, padding = op
                n = -(-n // s) if padding == "same" else max(0, (n - k) // s + 1)
        return n

    @property
    def is_global(self) -> bool:
        return self.left is None

    @property
    def margin(self) -> int | None:
        """Context in pixels a tile needs around its core for this layer's core features to be exact
        (None: global). A core [c0, c1) holds the cells anchored at c0, c0 + stride, ... c1 - stride:
        the first sees ``left`` pixels before c0, the last ``right - stride + 1`` pixels after c1 - 1."""
        return None if self.left is None else max(self.left, self.right - self.stride + 1)


# Layers that map each position to itself (no spatial extent) and keep the stride.
_POINTWISE = {"InputLayer", "BatchNormalization", "Activation", "ReLU", "Rescaling", "Normalization", "Dropout",
              "LayerNormalization", "Softmax", "LeakyReLU", "Identity", "Cast", "AveragePooling1D"}
_MERGE = {"Add", "Multiply", "Subtract", "Average", "Maximum", "Minimum", "Concatenate"}
_GLOBAL = {"GlobalAveragePooling2D", "GlobalMaxPooling2D"}
_WINDOW = {"Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D"}
_CONV = {"Conv2D", "DepthwiseConv2D", "SeparableConv2D"}


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _window(layer) -> tuple[int, int, str]:
    """(effective kernel, stride, padding) of a conv or pooling layer (square ones only)."""
    if hasattr(layer, "pool_size"):
        k, s = _pair(layer.pool_size), _pair(layer.strides or layer.pool_size)
        d = (1, 1)
    else:
        k, s, d = _pair(layer.kernel_size), _pair(layer.strides), _pair(layer.dilation_rate)
    if k[0] != k[1] or s[0] != s[1] or d[0] != d[1]:
        raise ConfigError(f"layer {layer.name}: non-square windows are not supported by the graph analysis")
    return d[0] * (k[0] - 1) + 1, s[0], layer.padding


def graph_facts(model) -> dict[str, LayerFacts]:
    """Stride, channels, receptive field and ancestors of every layer of a functional Keras model.

    A feature of a layer with stride J at cell j sees the input pixels [j*J - left, j*J + right].
    Through a window (kernel k, stride s, ``p`` cells of padding before) the new layer's cell j reads
    the previous layer's cells [j*s - p, j*s - p + k - 1], so ``J' = s*J``, ``left' = p*J + left``,
    ``right' = (k-1-p)*J + right``. "same" padding puts ``p = (k - s) // 2`` cells before (TensorFlow:
    ``floor(pad_total / 2)``, with ``pad_total = k - (n mod s)`` cells when n is not a multiple of s),
    so both bounds are taken at their largest. Zero padding of ``t`` cells at the top shifts the window:
    ``left += t*J``, ``right -= t*J``. Merges take the largest extent of their inputs; a global
    pooling makes everything after it global.

    Raises:
        ConfigError: a layer type the analysis does not know (a new backbone must teach it here).
    """
    facts: dict[str, LayerFacts] = {}
    for layer in model.layers:
        parents = [p.operation.name for node in layer._inbound_nodes for p in node.parent_nodes]
        ins = [facts[p] for p in parents]
        kind = type(layer).__name__
        shape = layer.output.shape
        channels = int(shape[-1]) if shape[-1] is not None else 0
        ancestors = frozenset([layer.name]).union(*(f.ancestors for f in ins))
        patch = 0
        if not ins:  # the input
            facts[layer.name] = LayerFacts(layer.name, 1, channels, 0, 0, ancestors)
            continue
        # The spatial size follows an input that still has one (a squeeze-and-excitation product
        # keeps the feature map's size, not the squeezed vector's).
        ops = next((f.ops for f in ins if ("collapse",) not in f.ops), ins[0].ops)
        stride = max(f.stride for f in ins)
        glob = any(f.is_global for f in ins)
        left = None if glob else max(f.left for f in ins)
        right = None if glob else max(f.right for f in ins)
        if kind in _GLOBAL:
            glob, left, right = True, None, None
            ops = ops + (("collapse",),)
        elif kind in _WINDOW:
            k, s, padding = _window(layer)
            if kind in _CONV:
                patch = k * k * ins[0].channels  # one input (a layer called twice lists it twice)
            ops = ops + (("window", k, s, padding),)
            if not glob:
                before_max = (k - 1) // 2 if padding == "same" else 0
                before_min = max(k - s, 0) // 2 if padding == "same" else 0
                left = before_max * stride + left
                right = (k - 1 - before_min) * stride + right
            stride *= s
        elif kind == "ZeroPadding2D":
            (top, bottom), (lft, rgt) = layer.padding
            if (top, bottom) != (lft, rgt):
                raise ConfigError(f"layer {layer.name}: unequal padding of the two axes is not supported")
            ops = ops + (("pad", top + bottom),)
            if not glob:
                left, right = left + top * stride, right - top * stride
        elif kind in _MERGE:
            if len({f.stride for f in ins if not f.is_global}) > 1:
                raise ConfigError(f"layer {layer.name} merges features of different strides")
        elif kind not in _POINTWISE and kind not in ("ZeroPadding2D", "Reshape"):
            raise ConfigError(f"layer {layer.name}: type {kind} is unknown to tfstyle's graph analysis")
        facts[layer.name] = LayerFacts(layer.name, stride, channels, left, right, ancestors, ops, patch)
    return facts


class Backbone:
    """One loss network. Subclasses set the class attributes and may override the methods.

    Attributes:
        name: registry key, e.g. "vgg19" (its defaults: ``config.BACKBONES_REGISTRY[name]``).
        application: the ``keras.applications`` constructor's name, e.g. "VGG19".
        keras_module: the ``keras.src.applications`` module whose weight URLs and hashes Keras uses.
        weights_file: Keras's file name of the notop ImageNet weights (its cache name).
        weights_md5: the md5 Keras checks after its download.
        layers: the layers a loss may read, shallow to deep.
        poolings: pooling variants; the first is the network as trained.
    """

    name: str = ""
    application: str = ""
    keras_module: str = ""
    weights_file: str = ""
    weights_md5: str = ""
    layers: tuple[str, ...] = ()
    poolings: tuple[str, ...] = ("max",)
    # Each layer's input is the previous layer's output (VGG): tfstyle.kernels.winograd can run it.
    chain: bool = False

    # --- defaults (tfstyle.config.registries holds them) ------------------------------------------
    @property
    def title(self) -> str:
        """Display name, e.g. "VGG19", "ResNet50"."""
        return self.application

    @property
    def weights_env(self) -> str:
        return weights_env(self.name)

    def weights_url(self) -> str:
        """Where Keras downloads the notop weights from (its own module's address)."""
        import importlib

        module = importlib.import_module(self.keras_module)
        if hasattr(module, "WEIGHTS_PATH_NO_TOP"):  # VGG's modules name the file's address
            return module.WEIGHTS_PATH_NO_TOP
        return module.BASE_WEIGHTS_PATH + self.weights_file

    @property
    def default_content_layers(self) -> tuple[str, ...]:
        return BACKBONES_REGISTRY[self.name].content_layers

    @property
    def default_style_layers(self) -> tuple[tuple[str, float], ...]:
        return BACKBONES_REGISTRY[self.name].style_layers

    @property
    def default_smoothing(self) -> str:
        return BACKBONES_REGISTRY[self.name].smoothing

    def check_layers(self, layers) -> tuple[str, ...]:
        """The names, deduplicated in order; ConfigError (one line) for a name this network lacks.

        Cheap (no TensorFlow): the command line calls it before loading anything.
        """
        names = tuple(dict.fromkeys(layers))
        unknown = [n for n in names if n not in self.layers]
        if unknown:
            raise ConfigError(f"unknown layer name {unknown[0]!r}; {self.title} layers are "
                              f"{', '.join(self.listed_layers())}")
        return names

    def listed_layers(self) -> tuple[str, ...]:
        """The layer names an error message lists (all of them unless a subclass shortens it)."""
        return self.layers

    def check_pooling(self, pooling: str) -> None:
        if pooling != "auto" and pooling not in self.poolings:
            raise ConfigError(f"--pooling {pooling} is not available for {self.name} "
                              f"(it has {', '.join(self.poolings)})")

    def check_conv(self, conv: str, precision: str) -> None:
        """``--conv-algorithm`` against this network and ``--precision``, before TensorFlow loads
        (:func:`check_winograd`)."""
        if conv == "winograd":
            check_winograd(self.chain, precision)

    def check_settings(self, config) -> None:
        """A run's loss-network settings (a StylizeConfig or TrainConfig: layers, ``pooling``,
        ``conv_algorithm`` with ``precision``) against this network, before TensorFlow loads."""
        content_layers, style_layers = config.resolved_layers()
        self.check_layers(list(content_layers) + [n for n, _ in style_layers])
        self.check_pooling(config.pooling)
        self.check_conv(config.conv_algorithm, config.precision)

    # --- the network ---------------------------------------------------------------------------
    def preprocess(self, rgb01, random: bool):
        """RGB in [0, 1], (B, H, W, 3) float32 tensor -> what the Keras model takes."""
        raise NotImplementedError

    def keras_model(self, weights_path: str | None):
        """``keras.applications.<application>(include_top=False)`` with any input size, the weights of
        ``weights_path`` loaded (None: Keras's random initialisation)."""
        import keras

        app = getattr(keras.applications, self.application)
        return app(include_top=False, weights=weights_path, input_shape=(None, None, 3))

    def build(self, weights_path: str | None, pooling: str = "max"):
        """The network with its weights: ``(inputs, {layer: output tensor} for every layer, model)``.

        The caller sets the Keras dtype policy around this call. ``weights_path`` None means the
        fixed-seed random network (:meth:`random_init`).
        """
        self.check_pooling(pooling)
        model = self.keras_model(weights_path)
        if weights_path is None:
            self.random_init(model, RANDOM_BACKBONE_SEED)
        return model.input, {layer.name: layer.output for layer in model.layers[1:]}, model

    def random_init(self, model, seed: int) -> None:
        """Fixed-seed weights: He-normal convolutions, zero biases (deterministic on any machine), and
        batch-normalisation statistics measured on fixed noise (:func:`calibrate_batch_norm`)."""
        import tensorflow as tf

        he_init(model, seed)
        calibrate_batch_norm(model, self.preprocess(tf.constant(calibration_images(seed)), True))

    # --- facts from the graph ------------------------------------------------------------------
    def facts(self, model=None) -> dict[str, LayerFacts]:
        """:func:`graph_facts` of this network, read once per process: off ``model`` (this network,
        already built with any weights) if given, else off a weight-free build."""
        key = type(self)
        if key not in _FACTS:
            _FACTS[key] = graph_facts(model) if model is not None else _weightless_facts(self)
        return _FACTS[key]

    def layer(self, name: str) -> LayerFacts:
        return self.facts()[name]

    def min_side(self, layers) -> int:
        """The smallest image side (px) at which every one of ``layers`` still has a cell."""
        n = 1
        while any(self.layer(name).cells(n) < 1 for name in layers):
            n += 1
        return n

    def tileable(self, layers) -> bool:
        """True if every one of ``layers`` sees a bounded neighbourhood (no global pooling on the way)."""
        return all(not self.layer(n).is_global for n in layers)


_FACTS: dict[type, dict[str, LayerFacts]] = {}


def _weightless_facts(backbone: Backbone) -> dict[str, LayerFacts]:
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        return graph_facts(backbone.keras_model(None))
    finally:
        keras.mixed_precision.set_global_policy(previous)


def he_init(model, seed: int) -> None:
    """He-normal kernels (fan in) and zero biases for every convolution and dense layer, from one
    seeded generator in layer order: the same numbers on every machine."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            continue
        kernel = layer.kernel
        shape = tuple(kernel.shape)
        # Depthwise kernels (k, k, C, mult): each output sees k*k inputs; others all but the last axis.
        fan_in = int(np.prod(shape[:2])) if kind == "DepthwiseConv2D" else int(np.prod(shape[:-1]))
        values = [rng.standard_normal(shape).astype(np.float32) * np.float32(math.sqrt(2.0 / fan_in))]
        if layer.use_bias:
            values.append(np.zeros(tuple(layer.bias.shape), np.float32))
        layer.set_weights(values)


def calibration_images(seed: int, count: int = 6, size: int = 128):
    """Fixed-seed images on which random networks with batch normalisation measure their statistics,
    (count, size, size, 3) RGB in [0, 1]: two thirds with a natural image's 1/f amplitude spectrum,
    one third uniform white noise. Both kinds are needed: calibrated on 1/f images alone, a random
    ResNet50's deepest features reached an RMS of 94 on a white-noise image and 20 on a photo (a
    channel nearly constant on smooth inputs gets a tiny variance and amplifies anything else);
    with the white noise in the set, 1.7-2.9 on photos and noise alike."""
    import numpy as np

    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    amplitude = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / size)
    out = np.empty((count, size, size, 3), np.float32)
    for i in range(count):
        if i % 3 == 2:
            out[i] = rng.uniform(0, 1, (size, size, 3))
            continue
        for c in range(3):
            phase = rng.uniform(0, 2 * np.pi, amplitude.shape)
            img = np.fft.irfft2(amplitude * np.exp(1j * phase), s=(size, size))
            img = (img - img.mean()) / (img.std() + 1e-12)
            out[i, :, :, c] = np.clip(0.5 + 0.2 * img + rng.uniform(-0.15, 0.15), 0, 1)
    return out


def calibrate_batch_norm(model, images) -> None:
    """Set every BatchNormalization's moving mean and variance to the statistics of its input on
    ``images`` (data-dependent initialisation of a random network: in one pass with batch statistics
    every normalisation sees inputs normalised by the ones before it, so the inference network then
    gives unit-variance activations instead of exploding or vanishing through the residual sums)."""
    import keras
    import numpy as np

    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns:
        return
    probe = keras.Model(model.input, [bn.input for bn in bns])
    # Batch statistics need training=True, which would also switch dropout on: off for this pass.
    drops = [(layer, layer.rate) for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    for layer, _ in drops:
        layer.rate = 0.0
    try:
        outs = probe(images, training=True)
    finally:
        for layer, rate in drops:
            layer.rate = rate
    for bn, x in zip(bns, outs if isinstance(outs, (list, tuple)) else [outs]):
        x = np.asarray(x, np.float64)
        bn.moving_mean.assign(x.mean(axis=(0, 1, 2)).astype(np.float32))
        bn.moving_variance.assign(x.var(axis=(0, 1, 2)).astype(np.float32))


__all__ = ["Backbone", "LayerFacts", "graph_facts", "he_init", "calibration_images", "calibrate_batch_norm"]
