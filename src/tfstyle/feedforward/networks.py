"""The transform network: RGB [0, 1] in, stylised RGB [0, 1] out, any input size.

Architecture (Johnson et al. 2016, with the later fixes the field settled on):

* reflection padding before every convolution (zero padding darkens borders), or, in the light
  variant, the input reflected once by a margin that is cropped off at the end;
* instance normalisation (Ulyanov et al. 2016) instead of batch normalisation;
* downsampling by stride-2 convolutions, upsampling by nearest-neighbour x2 followed by a
  convolution (transposed convolutions give checkerboard artefacts, Odena et al. 2016);
* inputs are reflection-padded to a multiple of 4 (two stride-2 stages) and the output is cropped
  back, so any H x W works;
* a sigmoid output, float32 under any mixed policy.

The light variant swaps the inner convolutions for depthwise-separable ones and halves the
channels (see ``tfstyle.config.train.NETWORK_PRESETS`` and :func:`network_cost`).

On disk a model is a folder with ``model.json`` (format, version, the :class:`NetworkConfig` and
training metadata) and ``model.weights.h5`` (Keras weights only). Loading rebuilds the network from
the JSON with this module's code and then reads the weight arrays: no pickle, no code from the
folder is ever run.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import warnings
from pathlib import Path

import numpy as np

from ..config import ConfigError, NetworkConfig
from ..io.images import MIN_SIDE, atomic_write

MODEL_FILE = "model.json"
WEIGHTS_FILE = "model.weights.h5"
FORMAT = "tfstyle-feedforward"
FORMAT_VERSION = 1
# model.json "kind": a network for one style, or one for any style image (feedforward/arbitrary.py).
KIND_PER_STYLE = "per-style"
KIND_ARBITRARY = "arbitrary"
KINDS = (KIND_PER_STYLE, KIND_ARBITRARY)
# Two stride-2 stages: sizes must be multiples of 4 inside the network.
MULTIPLE = 4


def photo_batch(images) -> tuple[np.ndarray, bool]:
    """(H, W, 3) or (B, H, W, 3) float RGB -> ((B, H, W, 3) float32 clipped to [0, 1], whether one image
    was given), as every model's call takes them.

    Raises:
        ConfigError: another shape, or a side under ``MIN_SIDE`` (one line).
    """
    a = np.asarray(images, np.float32)
    single = a.ndim == 3
    if single:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ConfigError(f"images must be (H, W, 3) or (B, H, W, 3), got {a.shape}")
    if min(a.shape[1:3]) < MIN_SIDE:
        raise ConfigError(f"images must be at least {MIN_SIDE} px on each side, got {a.shape[2]}x{a.shape[1]}")
    return np.clip(a, 0, 1), single


class ModelError(ValueError):
    """A model folder is missing, malformed or does not match its architecture. One-line message."""


# Set while tracing for a runtime that takes fixed shapes (LiteRT.js): see :func:`fixed_shape_ops`.
_FIXED_SHAPE_OPS = contextvars.ContextVar("tfstyle_fixed_shape_ops", default=False)


@contextlib.contextmanager
def fixed_shape_ops():
    """While active, layers traced with static H and W express reflection padding as slices and one
    concatenation, and nearest upsampling as concatenations and reshapes: the same numbers, in ops
    that XNNPACK (LiteRT's CPU delegate) runs itself. MirrorPad and ResizeNearestNeighbor fall back
    to LiteRT's built-in kernels, which split the XNNPACK graph and made LiteRT.js's WebAssembly
    builds markedly slower (docs/browser-litert.md, "What did not help")."""
    token = _FIXED_SHAPE_OPS.set(True)
    try:
        yield
    finally:
        _FIXED_SHAPE_OPS.reset(token)


def _reflect_pad_static(x, pads):
    """Reflection padding by slices and concatenations; ``pads`` = ((top, bottom), (left, right)),
    each at most the side - 1, as tf.pad's REFLECT mode requires."""
    import tensorflow as tf

    for axis, (before, after) in zip((1, 2), pads):
        if not before and not after:
            continue
        n = x.shape[axis]
        row = (lambda i: x[:, i:i + 1]) if axis == 1 else (lambda i: x[:, :, i:i + 1])  # one row / column
        parts = [row(i) for i in range(before, 0, -1)] + [x] + [row(n - 1 - i) for i in range(1, after + 1)]
        x = tf.concat(parts, axis=axis)
    return x


def _nearest_up2_static(x):
    """Nearest upsampling by 2 of (B, H, W, C) with static shape: each pixel twice along W (channels
    concatenated, then reshaped), then each row twice along H."""
    import tensorflow as tf

    b, h, w, c = x.shape
    y = tf.reshape(tf.concat([x, x], axis=3), [-1, h, 2 * w, c])  # (B, H, 2W, C)
    return tf.reshape(tf.concat([y, y], axis=2), [-1, 2 * h, 2 * w, c])  # (B, 2H, 2W, C)


def _static_hw(x) -> bool:
    return _FIXED_SHAPE_OPS.get() and x.shape[1] is not None and x.shape[2] is not None


def _layers():
    """The custom layers, defined lazily so that importing this module does not import Keras."""
    import keras
    import tensorflow as tf

    class ReflectPad(keras.layers.Layer):
        """Reflection padding of ``pad`` pixels on each side of H and W."""

        def __init__(self, pad: int, **kw):
            super().__init__(**kw)
            self.pad = pad

        def call(self, x):
            p = self.pad
            if _static_hw(x):
                return _reflect_pad_static(x, ((p, p), (p, p)))
            return _keep_channels(tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT"), x)

        def compute_output_shape(self, s):
            grow = lambda d: None if d is None else d + 2 * self.pad  # noqa: E731
            return (s[0], grow(s[1]), grow(s[2]), s[3])

    class PadToMultiple(keras.layers.Layer):
        """Reflection-pads bottom and right so that H and W become multiples of ``MULTIPLE``."""

        def call(self, x):
            if _static_hw(x):
                return _reflect_pad_static(x, ((0, -x.shape[1] % MULTIPLE), (0, -x.shape[2] % MULTIPLE)))
            shape = tf.shape(x)
            ph = (-shape[1]) % MULTIPLE
            pw = (-shape[2]) % MULTIPLE
            return _keep_channels(tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]], mode="REFLECT"), x)

        def compute_output_shape(self, s):
            up = lambda d: None if d is None else -(-d // MULTIPLE) * MULTIPLE  # noqa: E731
            return (s[0], up(s[1]), up(s[2]), s[3])

    class CropTo(keras.layers.Layer):
        """Crops the first input to the H and W of the second, from ``offset`` pixels in."""

        def __init__(self, offset: int = 0, **kw):
            super().__init__(**kw)
            self.offset = offset

        def call(self, inputs):
            y, like = inputs
            shape = tf.shape(like)
            o = self.offset
            return _keep_channels(y[:, o:o + shape[1], o:o + shape[2], :], y)

        def compute_output_shape(self, shapes):
            y, like = shapes
            return (y[0], like[1], like[2], y[3])

    class NearestUp2(keras.layers.Layer):
        """Nearest-neighbour upsampling by 2 (followed by a convolution: no checkerboard artefacts)."""

        def call(self, x):
            if _static_hw(x):
                return _nearest_up2_static(x)
            s = tf.shape(x)
            return _keep_channels(tf.image.resize(x, 2 * s[1:3], method="nearest"), x)

        def compute_output_shape(self, s):
            twice = lambda d: None if d is None else 2 * d  # noqa: E731
            return (s[0], twice(s[1]), twice(s[2]), s[3])

    class InstanceNorm(keras.layers.Layer):
        """Per-image, per-channel normalisation over H and W, with a learnt scale and shift.

        Statistics are computed in float32 under any policy: a mean over H*W products in bfloat16
        loses most of its digits.
        """

        def __init__(self, epsilon: float = 1e-5, **kw):
            super().__init__(**kw)
            self.epsilon = epsilon

        def build(self, shape):
            c = shape[-1]
            self.gamma = self.add_weight(name="gamma", shape=(c,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(c,), initializer="zeros")

        def call(self, x):
            x32 = tf.cast(x, tf.float32)
            mean = tf.reduce_mean(x32, axis=[1, 2], keepdims=True)  # (B, 1, 1, C)
            var = tf.reduce_mean(tf.square(x32 - mean), axis=[1, 2], keepdims=True)
            # Fold everything per channel into one scale and shift: two full-size ops (a multiply
            # and an add) instead of four; element-wise ops dominate TFLite's time here.
            scale = tf.math.rsqrt(var + self.epsilon) * tf.cast(self.gamma, tf.float32)  # (B, 1, 1, C)
            shift = tf.cast(self.beta, tf.float32) - mean * scale
            return tf.cast(x32 * scale + shift, self.compute_dtype)

    def _keep_channels(y, x):
        # A pad with run-time amounts loses the static channel count, and the TFLite converter
        # cannot lower a convolution whose input channels are unknown. A reshape to
        # (B, H, W, <constant C>) restores it in any graph (EnsureShape is not a TFLite op and
        # set_shape does not survive the converter's own shape inference).
        s = tf.shape(y)
        return tf.reshape(y, tf.stack([s[0], s[1], s[2], x.shape[-1]]))

    return ReflectPad, PadToMultiple, CropTo, InstanceNorm, NearestUp2


def build_transform_net(net: NetworkConfig, policy: str = "float32", input_hw=(None, None), seed: int = 0):
    """Build the Keras transform network.

    Args:
        net: the architecture.
        policy: Keras dtype policy for the convolutions; the output is always float32.
        input_hw: fixed (H, W), or (None, None) for any size (the default).
        seed: seed of the initial weights.

    Returns:
        A ``keras.Model`` mapping (B, H, W, 3) RGB [0, 1] to (B, H, W, 3) float32 RGB [0, 1].
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        inp = keras.Input((*input_hw, 3), name="image")
        model = keras.Model(inp, transform_graph(net, inp, seed=seed), name="transform_net")
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return model


def transform_graph(net: NetworkConfig, inp, seed: int = 0, norm=None):
    """The transform network's layers applied to the Keras tensor ``inp`` (under the caller's policy).

    Args:
        net: the architecture.
        inp: (B, H, W, 3) RGB [0, 1] Keras input.
        seed: seed of the initial weights.
        norm: ``norm(x, name) -> x``, the normalisation after every convolution (default: instance
            normalisation with learnt scale and shift; the arbitrary-style network passes a conditional
            one, ``tfstyle.feedforward.arbitrary``).

    Returns:
        The (B, H, W, 3) float32 RGB [0, 1] output tensor.
    """
    import keras

    net = net.validate()
    ReflectPad, PadToMultiple, CropTo, InstanceNorm, NearestUp2 = _layers()
    if norm is None:
        norm = lambda x, name: InstanceNorm(name=name)(x)  # noqa: E731
    f1, f2, f3 = net.filters
    init = keras.initializers.GlorotUniform
    counter = iter(range(10_000))

    # Per-conv reflection padding, or (border > 0) zero "same" padding inside a reflected margin.
    padding = "same" if net.border else "valid"

    def conv(x, filters, k, stride=1, separable=False, name="", use_bias=False):
        if not net.border:
            x = ReflectPad(k // 2, name=f"{name}_pad")(x)
        if separable:
            x = keras.layers.DepthwiseConv2D(k, strides=stride, use_bias=False, name=f"{name}_dw", padding=padding,
                                             depthwise_initializer=init(seed + next(counter)))(x)
            stride = 1
            k = 1
        # No bias before a normalisation: it removes it anyway.
        return keras.layers.Conv2D(filters, k, strides=stride, use_bias=use_bias, name=name, padding=padding,
                                   kernel_initializer=init(seed + next(counter)))(x)

    def block(x, filters, k, stride=1, separable=False, name="", relu=True):
        x = conv(x, filters, k, stride, separable, name)
        x = norm(x, f"{name}_norm")
        return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x

    x = ReflectPad(net.border, name="border")(inp) if net.border else inp
    x = PadToMultiple(name="pad_to_multiple")(x)
    # The first conv sees only 3 channels: a depthwise filter there would be too weak.
    x = block(x, f1, net.outer_kernel, name="down0")
    x = block(x, f2, 3, 2, net.separable, name="down1")
    x = block(x, f3, 3, 2, net.separable, name="down2")
    for i in range(net.residual_blocks):
        r = block(x, f3, 3, separable=net.separable, name=f"res{i}_a")
        r = block(r, f3, 3, separable=net.separable, name=f"res{i}_b", relu=False)
        x = keras.layers.Add(name=f"res{i}_add")([x, r])
    x = NearestUp2(name="up1_resize")(x)
    x = block(x, f2, 3, separable=net.separable, name="up1")
    x = NearestUp2(name="up2_resize")(x)
    x = block(x, f1, 3, separable=net.separable, name="up2")
    x = conv(x, 3, net.outer_kernel, name="out_conv", use_bias=True)
    x = keras.layers.Activation("sigmoid", dtype="float32", name="out_rgb")(x)
    return CropTo(net.border, name="crop", dtype="float32")([x, inp])


def network_cost(net: NetworkConfig, hw=(256, 256)) -> dict:
    """Parameters and FLOPs of one forward pass at (H, W).

    FLOPs count 2 per multiply-add of the convolutions (the bulk; normalisation, padding and
    activations add a few per cent and are left out), from each layer's actual output shape.

    Returns:
        ``{"params": int, "flops": int, "macs": int}``.
    """
    model = build_transform_net(net, input_hw=hw)
    macs = 0
    for layer in model.layers:
        kind = layer.__class__.__name__
        if kind not in ("Conv2D", "DepthwiseConv2D"):
            continue
        _, h, w, c_out = layer.output.shape
        kh, kw = layer.kernel_size
        c_in = layer.input.shape[-1]
        macs += h * w * kh * kw * (c_in if kind == "DepthwiseConv2D" else c_in * c_out)
    return {"params": int(model.count_params()), "flops": 2 * macs, "macs": macs}


def read_model_json(model_dir: str | os.PathLike) -> tuple[NetworkConfig, dict]:
    """Read and validate ``MODEL_DIR/model.json``.

    Returns:
        (network, metadata) where metadata is the file's ``"meta"`` object (training settings).

    Raises:
        ModelError: missing folder or files, not JSON, wrong format or version, bad architecture.
    """
    net, meta, _ = read_model_doc(model_dir)
    return net, meta


def model_kind(model_dir: str | os.PathLike) -> str:
    """``"per-style"`` (one style, trained in) or ``"arbitrary"`` (any style image, given at run time:
    ``tfstyle.feedforward.arbitrary``). Raises ModelError as :func:`read_model_json`."""
    return read_model_doc(model_dir)[2].get("kind", KIND_PER_STYLE)


def read_model_doc(model_dir: str | os.PathLike) -> tuple[NetworkConfig, dict, dict]:
    """:func:`read_model_json` plus the whole validated document (its ``"kind"`` and, for an
    arbitrary-style model, its ``"arbitrary"`` object)."""
    d = Path(model_dir)
    if not d.is_dir():
        raise ModelError(f"{d}: not a model folder (no such directory)")
    p = d / MODEL_FILE
    if not p.is_file():
        raise ModelError(f"{d}: not a model folder ({MODEL_FILE} is missing)")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{p}: not valid JSON ({type(e).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError(f"{p}: not a tfstyle feed-forward model (format is not {FORMAT!r})")
    if doc.get("version") != FORMAT_VERSION:
        raise ModelError(f"{p}: model format version {doc.get('version')!r} is not {FORMAT_VERSION}")
    try:
        net = NetworkConfig.from_dict(doc.get("network"))
    except ConfigError as e:
        raise ModelError(f"{p}: bad architecture: {e}") from None
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise ModelError(f"{p}: meta must be a JSON object")
    if doc.get("kind", KIND_PER_STYLE) not in KINDS:
        raise ModelError(f"{p}: kind must be one of {', '.join(KINDS)}, got {doc.get('kind')!r}")
    return net, meta, doc


def load_model_dir(model_dir: str | os.PathLike, policy: str = "float32"):
    """Rebuild the network from ``model.json`` and load ``model.weights.h5`` into it.

    Returns:
        (keras_model, network, metadata).

    Raises:
        ModelError: anything wrong with the folder, one line naming the file.
    """
    net, meta, doc = read_model_doc(model_dir)
    if doc.get("kind", KIND_PER_STYLE) != KIND_PER_STYLE:
        raise ModelError(f"{Path(model_dir)}: an arbitrary-style model: it needs a style image (--style PAINTING)")
    model = build_transform_net(net, policy=policy)
    load_weights(model, Path(model_dir) / WEIGHTS_FILE)
    return model, net, meta


def load_weights(model, w: Path) -> None:
    """Load the weight file ``w`` into ``model``; ModelError (one line) if missing or not matching."""
    if not w.is_file():
        raise ModelError(f"{w.parent}: not a model folder ({w.name} is missing)")
    try:
        # Keras only warns when parts of the file do not match and keeps fresh random weights
        # there: treat every warning as a failed load.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.load_weights(w)
    except Exception as e:  # noqa: BLE001 - h5py/keras raise many types for a bad or mismatched file
        msg = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise ModelError(f"{w}: weights do not load into the architecture of {MODEL_FILE} ({msg})") from None


def save_model_dir(model, net: NetworkConfig, model_dir: str | os.PathLike, meta: dict | None = None,
                   extra: dict | None = None) -> Path:
    """Write ``model.weights.h5`` then ``model.json`` into ``model_dir`` (created), each atomically.

    ``extra``: further top-level entries of ``model.json`` (an arbitrary-style model's ``"kind"`` and
    ``"arbitrary"``).
    """
    d = Path(model_dir)
    save_weights(model, d / WEIGHTS_FILE)
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "network": net.to_dict(), "meta": meta or {},
           **(extra or {})}
    atomic_write(d / MODEL_FILE, lambda f: f.write(json.dumps(doc, indent=2).encode()))
    return d


def save_weights(model, path: Path) -> None:
    """``model.save_weights(path)`` atomically (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists on the .weights.h5 suffix: write to a hidden temporary name that has it.
    tmp = path.parent / f".tmp-{os.getpid()}.{path.name}"
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
