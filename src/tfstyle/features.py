"""Backbones, weight resolution and preprocessing.

Callers pass RGB images in [0, 1]; the caffe preprocessing (x255, RGB->BGR, ImageNet mean
subtraction, no scaling) happens inside :class:`FeatureExtractor` and nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import OFFLINE_ENV, WEIGHTS_ENV, WEIGHTS_ENVS, ConfigError

VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
# Per network: Keras's notop file name and the md5 Keras checks after a download.
_WEIGHT_FILES = {
    "vgg19": (VGG19_WEIGHTS_FILE, "253f8cb515780f3b799900260a226db6"),
    "vgg16": (VGG16_WEIGHTS_FILE, "6d6bbae143d832006294945121d1f1fc"),
}
# caffe / keras.applications.vgg19.preprocess_input: BGR means of ImageNet, in 0..255.
_BGR_MEAN = (103.939, 116.779, 123.68)
# The fixed seed of the weight-free backbone: the same random filters on every run and machine.
RANDOM_BACKBONE_SEED = 1234


class BackboneError(RuntimeError):
    """The requested backbone's weights cannot be had. Message is one line naming the file."""


@dataclass(frozen=True)
class WeightsInfo:
    """Where the backbone's weights came from.

    Attributes:
        path: the weight file, or None for the random backbone.
        source: "flag", "env", "cache", "download" or "random".
        notice: a one-line human description, e.g. for a prominent CLI message.
        network: the architecture the weights belong to, "vgg19" or "vgg16".
    """

    path: str | None
    source: str
    notice: str
    network: str = "vgg19"

    @property
    def is_random(self) -> bool:
        return self.path is None


def keras_cache_path(network: str = "vgg19") -> Path:
    """Where Keras keeps downloaded application weights ($KERAS_HOME/models or ~/.keras/models)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / _WEIGHT_FILES[network][0]


def _download_weights(network: str = "vgg19") -> str:
    """Keras's own download (into its cache). Raises on any failure (offline, blocked, corrupt)."""
    import contextlib
    import importlib

    from keras.utils import get_file

    module = importlib.import_module(f"keras.src.applications.{network}")
    name, md5 = _WEIGHT_FILES[network]
    # Keras prints "Downloading data from ..." on stdout; the library never prints.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        return get_file(name, module.WEIGHTS_PATH_NO_TOP, cache_subdir="models", file_hash=md5)


def resolve_weights(backbone: str = "auto", weights: str | None = None, network: str = "vgg19") -> WeightsInfo:
    """Find ImageNet weights of ``network``: ``weights`` path, then $TFSTYLE_<NET>_WEIGHTS, the Keras
    cache, Keras's download.

    Args:
        backbone: where the weights come from: "imagenet" (fail if not found), "random" (never look),
            "auto" (fall back to random). "vgg19" is the older spelling of "imagenet" and is only
            valid with network="vgg19".
        weights: explicit path to a notop h5 file; an explicit path that does not exist is an error
            whatever the backbone.
        network: the architecture, "vgg19" or "vgg16" (same layer names, own weight file).

    Raises:
        BackboneError: a given path is missing, or backbone="imagenet" and nothing was found.
        ConfigError: unknown network, or backbone="vgg19" with another network.
    """
    if network not in _WEIGHT_FILES:
        raise ConfigError(f"network must be one of {', '.join(_WEIGHT_FILES)}, got {network!r}")
    if backbone == "vgg19" and network != "vgg19":
        raise ConfigError(f"--backbone vgg19 asks for VGG19 weights but --network is {network}; "
                          f"use --backbone imagenet")
    net = network.upper()
    env_name = WEIGHTS_ENVS[network]
    file_name = _WEIGHT_FILES[network][0]
    if backbone == "random":
        return WeightsInfo(None, "random", _random_notice(network, "requested with --backbone random"), network)
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise BackboneError(f"weights file {p} does not exist")
        return WeightsInfo(str(p), "flag", f"{net} ImageNet weights from {p}", network)
    env = os.environ.get(env_name)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise BackboneError(f"${env_name} names {p}, which does not exist")
        return WeightsInfo(str(p), "env", f"{net} ImageNet weights from ${env_name} ({p})", network)
    cached = keras_cache_path(network)
    if cached.is_file():
        return WeightsInfo(str(cached), "cache", f"{net} ImageNet weights from the Keras cache ({cached})",
                           network)
    why = "download disabled by $" + OFFLINE_ENV
    if os.environ.get(OFFLINE_ENV, "") not in ("1", "true", "yes"):
        try:
            path = _download_weights(network)
            return WeightsInfo(path, "download", f"{net} ImageNet weights downloaded to {path}", network)
        except Exception as e:  # noqa: BLE001 - any network/IO/hash failure means "not available"
            first = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            why = f"download failed: {first}"
    if backbone in ("vgg19", "imagenet"):
        raise BackboneError(
            f"{net} ImageNet weights not found ({why}); put {file_name} at {cached}, "
            f"or pass --weights PATH, or set ${env_name}"
        )
    return WeightsInfo(None, "random", _random_notice(network, f"no {net} ImageNet weights found: {why}; "
                                                               f"to use them put {file_name} at {cached}"),
                       network)


def _random_notice(network: str, why: str) -> str:
    return (f"using a fixed-seed random-weight {network.upper()} (random-feature texture synthesis), not "
            f"ImageNet weights ({why})")


def resolve_precision(precision: str) -> str:
    """Map "auto" / "float32" / "mixed" to a Keras dtype policy name.

    "mixed" means bfloat16 on CPUs and float16 on GPUs. "auto" picks mixed only where it is fast:
    a GPU, or a CPU where bfloat16 is native (:func:`tfstyle.hardware.native_bfloat16`: AMX or
    AVX512_BF16 with oneDNN on); elsewhere bfloat16 is emulated and slower than float32.
    """
    import tensorflow as tf

    from .hardware import native_bfloat16

    if precision == "float32":
        return "float32"
    gpu = bool(tf.config.list_physical_devices("GPU"))
    if precision == "mixed":
        return "mixed_float16" if gpu else "mixed_bfloat16"
    if precision != "auto":
        raise ConfigError(f"precision must be auto, float32 or mixed, got {precision!r}")
    if gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if native_bfloat16() else "float32"


def _he_init_(model, seed: int) -> None:
    """Fixed-seed He-normal filters and zero biases for every conv layer (deterministic)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.__class__.__name__ == "Conv2D":
            k = layer.kernel
            fan_in = int(np.prod(k.shape[:3]))
            kernel = rng.standard_normal(k.shape).astype(np.float32) * np.sqrt(2.0 / fan_in)
            layer.set_weights([kernel, np.zeros(layer.bias.shape, np.float32)])


VGG_LAYERS = (
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4", "block5_pool",
)
# VGG16 has the same scheme with three convs (not four) in blocks 3-5.
VGG16_LAYERS = tuple(n for n in VGG_LAYERS if not n.endswith("_conv4"))
NETWORK_LAYERS = {"vgg19": VGG_LAYERS, "vgg16": VGG16_LAYERS}


def check_layers(layers, network: str = "vgg19") -> tuple[str, ...]:
    """The names, deduplicated in order; ConfigError (one line) for a name the network does not have.

    Cheap (no TensorFlow): the CLI calls it before loading the model.
    """
    names = tuple(dict.fromkeys(layers))
    known = NETWORK_LAYERS[network]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown layer name {unknown[0]!r}; {network.upper()} layers are "
                          f"{', '.join(n for n in known if 'conv' in n)}")
    return names


def backbone_taps(info: WeightsInfo, policy: str = "float32", pooling: str = "max"):
    """keras.applications.VGG19 / VGG16 (include_top=False, per ``info.network``) with the resolved
    weights under ``policy``, as a graph whose every layer can be tapped.

    Args:
        info: resolved weights; ``info.network`` picks the architecture.
        policy: Keras dtype policy name.
        pooling: "max" (the Keras model as is) or "avg": the same conv layers (the very same layer
            objects, so the same weights) chained through AveragePooling2D, as in Gatys et al.
            Average pooling gives smaller activations than max pooling after every pool; the losses
            are relative errors against each target's own magnitude (``tfstyle.losses``), so loss
            weights keep their meaning without any rescaling of the network.

    Returns:
        ``(inputs, {layer_name: tensor})``: Keras symbolic tensors to build a ``keras.Model`` from.

    Raises:
        BackboneError: the weight file is not a loadable notop file of that network.
    """
    import keras

    if pooling not in ("max", "avg"):
        raise ConfigError(f"pooling must be max or avg, got {pooling!r}")
    app = {"vgg19": keras.applications.VGG19, "vgg16": keras.applications.VGG16}[info.network]
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)  # layers keep the policy they are built with
    try:
        try:
            model = app(include_top=False, weights=info.path, input_shape=(None, None, 3))
        except Exception as e:  # noqa: BLE001 - h5py/keras raise many types for a bad file
            msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            raise BackboneError(f"weights file {info.path} is not a {info.network.upper()} notop weight "
                                f"file ({msg})") from None
        if info.is_random:
            _he_init_(model, RANDOM_BACKBONE_SEED)
        if pooling == "max":
            return model.input, {layer.name: layer.output for layer in model.layers[1:]}
        # VGG is a plain chain: re-chain it, swapping each MaxPooling2D for an AveragePooling2D of the
        # same size, stride, padding and name. Conv layers are reused (shared weights); their
        # ``.output`` would name the first (max-pool) graph, so the taps are collected here.
        x = inputs = keras.Input((None, None, 3), name=model.layers[0].name)
        taps = {}
        for layer in model.layers[1:]:
            if isinstance(layer, keras.layers.MaxPooling2D):
                layer = keras.layers.AveragePooling2D(layer.pool_size, layer.strides, layer.padding,
                                                      name=layer.name)
            x = taps[layer.name] = layer(x)
        return inputs, taps
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_backbone(info: WeightsInfo, policy: str = "float32", pooling: str = "max"):
    """The whole notop network as one ``keras.Model`` (see :func:`backbone_taps` for the arguments)."""
    import keras

    inputs, taps = backbone_taps(info, policy, pooling)
    return keras.Model(inputs, taps[NETWORK_LAYERS[info.network][-1]], name=f"{info.network}_{pooling}pool")


def build_vgg19(info: WeightsInfo, policy: str = "float32"):
    """VGG19 with max pooling (the original API); see :func:`build_backbone`."""
    return build_backbone(dataclasses.replace(info, network="vgg19"), policy)


class FeatureExtractor:
    """Maps RGB images in [0, 1] to float32 activations of named layers.

    Args:
        layers: Keras layer names (e.g. "block4_conv2"); unknown names raise ConfigError.
        info: resolved weights (see :func:`resolve_weights`); ``info.network`` is the architecture.
        policy: Keras dtype policy, "float32", "mixed_bfloat16" or "mixed_float16".
        pooling: "max" or "avg" (see :func:`build_backbone`).

    Calling it on a (B, H, W, 3) tensor returns ``{name: (B, h, w, C) float32}`` (with
    ``keep_bfloat16=True`` under mixed_bfloat16: the network's own bfloat16 activations, for losses
    that accept them, which saves a float32 copy of every tapped layer).
    The network is truncated after the deepest requested layer.
    """

    def __init__(self, layers, info: WeightsInfo, policy: str = "float32", pooling: str = "max"):
        import keras
        import tensorflow as tf

        self.layers = check_layers(layers, info.network)
        names = NETWORK_LAYERS[info.network]
        self.info = info
        self.policy = policy
        self.pooling = pooling
        inputs, taps = backbone_taps(info, policy, pooling)
        deepest = max(names.index(n) for n in self.layers)
        # Truncate after the deepest requested layer: later layers cost time and are unused.
        self.model = keras.Model(inputs, {n: taps[n] for n in self.layers}, name=f"{info.network}_features")
        self.depth = names[deepest]
        self._mean = tf.constant(_BGR_MEAN, tf.float32)

    def preprocess(self, rgb01):
        """RGB [0, 1] (B, H, W, 3) -> caffe BGR mean-subtracted 0..255 (B, H, W, 3)."""
        import tensorflow as tf

        return tf.reverse(rgb01 * 255.0, axis=[-1]) - self._mean

    def __call__(self, rgb01, keep_bfloat16: bool = False):
        import tensorflow as tf

        feats = self.model(self.preprocess(tf.convert_to_tensor(rgb01, tf.float32)))
        # Grams sum H*W products: float16 ones overflow, so features leave in float32, except
        # bfloat16 ones when the caller asks (float32's range; tfstyle.losses.gram sums in float32).
        keep = tf.bfloat16 if keep_bfloat16 else tf.float32
        return {n: feats[n] if feats[n].dtype == keep else tf.cast(feats[n], tf.float32) for n in self.layers}
