"""The feature extractor: RGB in [0, 1] in, the named layers' activations out.

Callers pass RGB images in [0, 1]; each network's own preprocessing (caffe for VGG and ResNet,
0..255 for EfficientNet) happens inside :class:`FeatureExtractor` (through its backbone) and
nowhere else. Optional smoothing of the activations (:func:`smooth`) happens here too, so every loss
(stylize, tiles, training) sees the same features.
"""

from __future__ import annotations

from ..config import ConfigError
from ..hardware import resolve_precision, winograd_by_default  # resolve_precision: also imported from here
from . import get
from .base import check_winograd
from .weights import WeightsInfo


def smooth(features, temperature: float = 1.0):
    """Softmax smoothing of one layer's activations (Wang et al., CVPR 2021, "SWAG").

    ``S = N * softmax(F / T)``, the softmax taken over all N = H*W*C positions and channels of each
    image, computed in float32 as ``exp(F/T - logsumexp(F/T) + log N)``. The paper's softmax sums to
    1, so its values are ~1/N and their Grams ~1/N^2 (1e-13 at 64x64x512); the factor N (a constant)
    keeps them O(1), and tfstyle's losses are relative to their targets' magnitude, so it changes no
    loss value. For the same reason the plain scaling of activations that the authors' repository
    later used instead (``alpha * F``) is exactly no change at all under tfstyle's losses.

    Args:
        features: (B, H, W, C) activations (any float dtype).
        temperature: T > 0; larger T is closer to a linear map of F.

    Returns:
        (B, H, W, C) float32, mean 1 per image.
    """
    import tensorflow as tf

    z = tf.cast(features, tf.float32) / temperature
    shape = tf.shape(z)
    flat = tf.reshape(z, (shape[0], -1))  # (B, H*W*C)
    n = tf.cast(tf.shape(flat)[1], tf.float32)
    lse = tf.reduce_logsumexp(flat, axis=1)  # (B,)
    return tf.exp(z - tf.reshape(lse - tf.math.log(n), (-1, 1, 1, 1)))


def resolve_conv(conv: str, policy: str, chain: bool) -> str:
    """Map "auto" / "direct" / "winograd" to the convolutions a network runs: "winograd"
    (:mod:`tfstyle.kernels.winograd`) or "direct" (TensorFlow's).

    "auto" asks the machine (:func:`tfstyle.hardware.winograd_by_default`: a float32 step on a CPU
    through a plain-chain network, where Winograd was measured faster).

    Raises:
        ConfigError: "winograd" for a network that is not a plain chain, or under a mixed policy.
    """
    if conv == "direct":
        return "direct"
    if conv == "winograd":
        check_winograd(chain, policy)  # a resolved policy: float32 or a mixed one
        return "winograd"
    if conv != "auto":
        raise ConfigError(f"conv_algorithm must be auto, direct or winograd, got {conv!r}")
    return "winograd" if winograd_by_default(policy, chain) else "direct"


def build_network(info: WeightsInfo, policy: str = "float32", pooling: str = "max"):
    """``(backbone, inputs, {layer: tensor}, keras model)``: the whole notop network of
    ``info.network`` with the resolved weights under the Keras dtype ``policy``.

    Raises:
        BackboneError: the weight file is not a loadable notop file of that network.
    """
    return _build(get(info.network), info, policy, pooling)


def _build(bb, info: WeightsInfo, policy: str, pooling: str):
    """:func:`build_network` for the :class:`tfstyle.backbones.base.Backbone` ``bb`` of ``info.network``."""
    import keras

    from .weights import BackboneError

    bb.check_pooling(pooling)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)  # layers keep the policy they are built with
    try:
        try:
            inputs, taps, model = bb.build(info.path, pooling)
        except Exception as e:  # noqa: BLE001 - h5py/keras raise many types for a bad file
            if info.is_random:
                raise
            msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            raise BackboneError(f"weights file {info.path} is not a {bb.title} notop weight file ({msg})") from None
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return bb, inputs, taps, model


def build_model(info: WeightsInfo, policy: str = "float32", pooling: str = "max"):
    """The whole notop network of ``info.network`` as one ``keras.Model`` (see :func:`build_network`)."""
    return build_network(info, policy, pooling)[3]


class FeatureExtractor:
    """Maps RGB images in [0, 1] to float32 activations of named layers.

    Args:
        layers: Keras layer names (e.g. "block4_conv2"); unknown names raise ConfigError.
        info: resolved weights (see :func:`tfstyle.backbones.weights.resolve_weights`);
            ``info.network`` is the architecture.
        policy: Keras dtype policy, "float32", "mixed_bfloat16" or "mixed_float16".
        pooling: "max" or "avg" (VGG only).
        smoothing: "none" or "softmax" (:func:`smooth` on every tapped layer).
        temperature: the softmax's temperature.
        conv: "direct", "winograd" or "auto" (:func:`resolve_conv`): how the 3x3 convolutions run.

    Calling it on a (B, H, W, 3) tensor returns ``{name: (B, h, w, C) float32}`` (with
    ``keep_bfloat16=True`` under mixed_bfloat16 and no smoothing: the network's own bfloat16
    activations, for losses that accept them, which saves a float32 copy of every tapped layer).
    The network is truncated after the deepest requested layer.

    Attributes:
        backbone: the :class:`tfstyle.backbones.base.Backbone`.
        facts: ``{layer: LayerFacts}`` of the whole network (strides, channels, receptive fields).
        conv: the resolved convolution algorithm, "direct" or "winograd".
        convolutions: says so in words, with how Winograd's transforms run ("Winograd convolutions,
            native transforms" or the TensorFlow-op ones and why, :func:`tfstyle.kernels.native.status`).
    """

    def __init__(self, layers, info: WeightsInfo, policy: str = "float32", pooling: str = "max",
                 smoothing: str = "none", temperature: float = 1.0, conv: str = "direct"):
        import keras

        if smoothing not in ("none", "softmax"):
            raise ConfigError(f"smoothing must be none or softmax, got {smoothing!r}")
        backbone = get(info.network)
        self.layers = backbone.check_layers(layers)
        self.info = info
        self.policy = policy
        self.pooling = pooling
        self.smoothing = smoothing
        self.temperature = float(temperature)
        self.backbone, inputs, taps, full = _build(backbone, info, policy, pooling)
        self.facts = self.backbone.facts(full)
        # Keras keeps only the layers the requested outputs need: the network ends at the deepest one.
        self.model = keras.Model(inputs, {n: taps[n] for n in self.layers}, name=f"{info.network}_features")
        self.conv = resolve_conv(conv, policy, self.backbone.chain)
        self._chain = None
        if self.conv == "winograd":
            from ..kernels.winograd import WinogradChain

            chain = [layer for layer in full.layers if not isinstance(layer, keras.layers.InputLayer)]
            self._chain = WinogradChain(chain, self.layers)
        self.convolutions = self._describe()

    def _describe(self) -> str:
        if self._chain is None:
            return "direct convolutions"
        from ..kernels.native import status

        return f"Winograd convolutions, {status()}" if self._chain.replaced else "direct convolutions"

    def preprocess(self, rgb01):
        """RGB [0, 1] (B, H, W, 3) -> the network's input."""
        return self.backbone.preprocess(rgb01, self.info.is_random)

    def __call__(self, rgb01, keep_bfloat16: bool = False):
        import tensorflow as tf

        x = self.preprocess(tf.convert_to_tensor(rgb01, tf.float32))
        feats = self._chain(x) if self._chain is not None else self.model(x)
        if self.smoothing == "softmax":
            return {n: smooth(feats[n], self.temperature) for n in self.layers}
        # Grams sum H*W products: float16 ones overflow, so features leave in float32, except
        # bfloat16 ones when the caller asks (float32's range; tfstyle.objective.losses.gram decides
        # how to multiply them).
        keep = tf.bfloat16 if keep_bfloat16 else tf.float32
        return {n: feats[n] if feats[n].dtype == keep else tf.cast(feats[n], tf.float32) for n in self.layers}


__all__ = ["FeatureExtractor", "build_model", "build_network", "resolve_conv", "resolve_precision", "smooth"]
