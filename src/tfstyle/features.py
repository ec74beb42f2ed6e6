"""Backbones, weight resolution and preprocessing.

Callers pass RGB images in [0, 1]; the caffe preprocessing (x255, RGB->BGR, ImageNet mean
subtraction, no scaling) happens inside :class:`FeatureExtractor` and nowhere else.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import OFFLINE_ENV, WEIGHTS_ENV, ConfigError

VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
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
    """

    path: str | None
    source: str
    notice: str

    @property
    def is_random(self) -> bool:
        return self.path is None


def keras_cache_path() -> Path:
    """Where Keras keeps downloaded application weights ($KERAS_HOME/models or ~/.keras/models)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / VGG19_WEIGHTS_FILE


def _download_weights() -> str:
    """Keras's own download (into its cache). Raises on any failure (offline, blocked, corrupt)."""
    import contextlib

    from keras.src.applications import vgg19
    from keras.utils import get_file

    # Keras prints "Downloading data from ..." on stdout; the library never prints.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        return get_file(VGG19_WEIGHTS_FILE, vgg19.WEIGHTS_PATH_NO_TOP, cache_subdir="models",
                        file_hash="253f8cb515780f3b799900260a226db6")


def resolve_weights(backbone: str = "auto", weights: str | None = None) -> WeightsInfo:
    """Find VGG19 weights: ``weights`` path, then $TFSTYLE_VGG19_WEIGHTS, the Keras cache, Keras's download.

    Args:
        backbone: "vgg19" (fail if not found), "random" (never look), "auto" (fall back to random).
        weights: explicit path to a notop h5 file; an explicit path that does not exist is an error
            whatever the backbone.

    Raises:
        BackboneError: a given path is missing, or backbone="vgg19" and nothing was found.
    """
    if backbone == "random":
        return WeightsInfo(None, "random", _random_notice("requested with --backbone random"))
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise BackboneError(f"weights file {p} does not exist")
        return WeightsInfo(str(p), "flag", f"VGG19 ImageNet weights from {p}")
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise BackboneError(f"${WEIGHTS_ENV} names {p}, which does not exist")
        return WeightsInfo(str(p), "env", f"VGG19 ImageNet weights from ${WEIGHTS_ENV} ({p})")
    cached = keras_cache_path()
    if cached.is_file():
        return WeightsInfo(str(cached), "cache", f"VGG19 ImageNet weights from the Keras cache ({cached})")
    why = "download disabled by $" + OFFLINE_ENV
    if os.environ.get(OFFLINE_ENV, "") not in ("1", "true", "yes"):
        try:
            path = _download_weights()
            return WeightsInfo(path, "download", f"VGG19 ImageNet weights downloaded to {path}")
        except Exception as e:  # noqa: BLE001 - any network/IO/hash failure means "not available"
            first = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            why = f"download failed: {first}"
    if backbone == "vgg19":
        raise BackboneError(
            f"VGG19 ImageNet weights not found ({why}); put {VGG19_WEIGHTS_FILE} at {cached}, "
            f"or pass --weights PATH, or set ${WEIGHTS_ENV}"
        )
    return WeightsInfo(None, "random", _random_notice(f"no VGG19 ImageNet weights found: {why}; "
                                                      f"to use them put {VGG19_WEIGHTS_FILE} at {cached}"))


def _random_notice(why: str) -> str:
    return (f"using a fixed-seed random-weight VGG19 (random-feature texture synthesis), not ImageNet "
            f"weights ({why})")


def resolve_precision(precision: str) -> str:
    """Map "auto" / "float32" / "mixed" to a Keras dtype policy name.

    "mixed" means bfloat16 on CPUs and float16 on GPUs. "auto" picks mixed only where it is fast:
    a GPU, or a CPU with native bfloat16 math (AMX or AVX512_BF16); elsewhere bfloat16 is
    emulated and slower than float32.
    """
    import tensorflow as tf

    if precision == "float32":
        return "float32"
    gpu = bool(tf.config.list_physical_devices("GPU"))
    if precision == "mixed":
        return "mixed_float16" if gpu else "mixed_bfloat16"
    if precision != "auto":
        raise ConfigError(f"precision must be auto, float32 or mixed, got {precision!r}")
    if gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_fast_bf16() else "float32"


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True if /proc/cpuinfo advertises AMX-BF16 or AVX512_BF16."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


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


def check_layers(layers) -> tuple[str, ...]:
    """The names, deduplicated in order; ConfigError (one line) for a name VGG19 does not have.

    Cheap (no TensorFlow): the CLI calls it before loading the model.
    """
    names = tuple(dict.fromkeys(layers))
    unknown = [n for n in names if n not in VGG_LAYERS]
    if unknown:
        raise ConfigError(f"unknown layer name {unknown[0]!r}; VGG19 layers are "
                          f"{', '.join(n for n in VGG_LAYERS if 'conv' in n)}")
    return names


def build_vgg19(info: WeightsInfo, policy: str = "float32"):
    """keras.applications.VGG19(include_top=False) with the resolved weights under ``policy``.

    Raises:
        BackboneError: the weight file is not a loadable VGG19 notop h5 file.
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)  # layers keep the policy they are built with
    try:
        try:
            model = keras.applications.VGG19(include_top=False, weights=info.path,
                                             input_shape=(None, None, 3))
        except Exception as e:  # noqa: BLE001 - h5py/keras raise many types for a bad file
            msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            raise BackboneError(f"weights file {info.path} is not a VGG19 notop weight file ({msg})") from None
        if info.is_random:
            _he_init_(model, RANDOM_BACKBONE_SEED)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return model


class FeatureExtractor:
    """Maps RGB images in [0, 1] to float32 activations of named layers.

    Args:
        layers: Keras layer names (e.g. "block4_conv2"); unknown names raise ConfigError.
        info: resolved weights (see :func:`resolve_weights`).
        policy: Keras dtype policy, "float32", "mixed_bfloat16" or "mixed_float16".

    Calling it on a (B, H, W, 3) tensor returns ``{name: (B, h, w, C) float32}``.
    The network is truncated after the deepest requested layer.
    """

    def __init__(self, layers, info: WeightsInfo, policy: str = "float32"):
        import keras
        import tensorflow as tf

        self.layers = check_layers(layers)
        self.info = info
        self.policy = policy
        base = build_vgg19(info, policy)
        deepest = max(VGG_LAYERS.index(n) for n in self.layers)
        outputs = {n: base.get_layer(n).output for n in self.layers}
        # Truncate after the deepest requested layer: later layers cost time and are unused.
        self.model = keras.Model(base.input, outputs, name="vgg19_features")
        self.depth = VGG_LAYERS[deepest]
        self._mean = tf.constant(_BGR_MEAN, tf.float32)

    def preprocess(self, rgb01):
        """RGB [0, 1] (B, H, W, 3) -> caffe BGR mean-subtracted 0..255 (B, H, W, 3)."""
        import tensorflow as tf

        return tf.reverse(rgb01 * 255.0, axis=[-1]) - self._mean

    def __call__(self, rgb01):
        import tensorflow as tf

        feats = self.model(self.preprocess(tf.convert_to_tensor(rgb01, tf.float32)))
        # Grams sum H*W products: always compute them in float32, whatever the policy.
        return {n: tf.cast(feats[n], tf.float32) for n in self.layers}
