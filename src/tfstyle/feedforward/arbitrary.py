"""One transform network for every painting: arbitrary style transfer (Ghiasi et al. 2017).

Two networks, as in Magenta's arbitrary image stylisation and the TensorFlow Lite example built on it:

* the **style-prediction network** maps a style image (RGB [0, 1], any size) to a style vector of
  ``ArbitraryConfig.style_dim`` numbers: a ``keras.applications`` network cut at a block at 1/16
  resolution (``PREDICTOR_LAYERS``; without ImageNet weights VGG19's early layers,
  ``PREDICTOR_FALLBACK``), a spatial mean, a layer normalisation and a dense bottleneck
  (Ghiasi et al.: Inception-v3 to Mixed_6e, mean, a 1x1 convolution to 100 numbers);
* the **transformer**, tfstyle's standard or light transform network
  (:func:`tfstyle.feedforward.networks.transform_graph`) in which every instance normalisation is
  *conditional*: its per-channel scale and shift are an affine map of the style vector. The photo goes
  through the transformer only, so a frame costs what a per-style network's frame costs plus a few
  small matrix products.

Style strength interpolates the style vector with the photo's own (the photo through the prediction
network), as the TFLite example does; several styles are a weighted mean of their vectors
(:func:`blend_vectors`).

On disk an arbitrary-style model is a model folder like a per-style one: ``model.json`` with
``"kind": "arbitrary"`` and an ``"arbitrary"`` object (:class:`tfstyle.config.ArbitraryConfig`),
``model.weights.h5`` (the transformer) and ``predictor.weights.h5``. Loading rebuilds both networks from
code and the JSON and reads the weight arrays; nothing in the folder is executed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..config import RANDOM_BACKBONE_SEED, ArbitraryConfig, ConfigError, NetworkConfig
from ..io.images import fit_size, resize
from .networks import (photo_batch, KIND_ARBITRARY, KIND_PER_STYLE, WEIGHTS_FILE, ModelError, load_weights, read_model_doc,
                       save_model_dir, save_weights, transform_graph)

PREDICTOR_WEIGHTS_FILE = "predictor.weights.h5"
VECTOR_LAYER = "style_vector"
# Where the style-vector size sits in the weight files (Keras names layers there by class and order):
# the predictor's top-level dense kernel (F, D), the transformer's conditional norms' kernels (D, C).
_PREDICTOR_KERNEL = "layers/dense/vars/0"
_COND_NORM = "layers/cond_instance_norm"
# Initial deviation of the maps from the style vector to each normalisation's scale and shift: small,
# so that a new network starts as a plain instance-normalised one (scale 1, shift 0) and the
# conditioning grows with training; not zero, so that the prediction network gets a gradient at once.
COND_INIT_STDDEV = 0.01


def _cond_norm_class():
    """The conditional instance normalisation layer, defined lazily (importing this module does not
    import Keras)."""
    import keras
    import tensorflow as tf

    class CondInstanceNorm(keras.layers.Layer):
        """Instance normalisation whose scale and shift come from the style vector.

        Inputs ``[x, style]``: x (B, H, W, C) features, style (B, D) vectors. Scale
        ``style @ W_g + b_g`` and shift ``style @ W_b + b_b``, (B, C) each. Statistics in float32 under
        any policy, as in :class:`InstanceNorm`.
        """

        def __init__(self, epsilon: float = 1e-5, seed: int = 0, **kw):
            super().__init__(**kw)
            self.epsilon = epsilon
            self.seed = seed

        def build(self, shapes):
            x_shape, s_shape = shapes
            c, d = x_shape[-1], s_shape[-1]
            init = keras.initializers.RandomNormal(stddev=COND_INIT_STDDEV, seed=self.seed)
            self.gamma_kernel = self.add_weight(name="gamma_kernel", shape=(d, c), initializer=init)
            self.gamma_bias = self.add_weight(name="gamma_bias", shape=(c,), initializer="ones")
            init = keras.initializers.RandomNormal(stddev=COND_INIT_STDDEV, seed=self.seed + 1)
            self.beta_kernel = self.add_weight(name="beta_kernel", shape=(d, c), initializer=init)
            self.beta_bias = self.add_weight(name="beta_bias", shape=(c,), initializer="zeros")

        def call(self, inputs):
            x, style = inputs
            x32 = tf.cast(x, tf.float32)
            s = tf.cast(style, tf.float32)  # (B, D)
            gamma = tf.matmul(s, tf.cast(self.gamma_kernel, tf.float32)) + tf.cast(self.gamma_bias, tf.float32)
            beta = tf.matmul(s, tf.cast(self.beta_kernel, tf.float32)) + tf.cast(self.beta_bias, tf.float32)
            mean = tf.reduce_mean(x32, axis=[1, 2], keepdims=True)  # (B, 1, 1, C)
            var = tf.reduce_mean(tf.square(x32 - mean), axis=[1, 2], keepdims=True)
            # One scale and one shift per image and channel: two full-size ops, as InstanceNorm.
            scale = tf.math.rsqrt(var + self.epsilon) * gamma[:, None, None, :]  # (B, 1, 1, C)
            shift = beta[:, None, None, :] - mean * scale
            return tf.cast(x32 * scale + shift, self.compute_dtype)

        def compute_output_shape(self, shapes):
            return shapes[0]

    return CondInstanceNorm


def build_transformer(net: NetworkConfig, style_dim: int, policy: str = "float32", input_hw=(None, None),
                      seed: int = 0):
    """The conditional transform network.

    Returns:
        A ``keras.Model`` with inputs ``[image (B, H, W, 3) RGB [0, 1], style (B, style_dim)]`` and output
        (B, H, W, 3) float32 RGB [0, 1].
    """
    import keras

    CondInstanceNorm = _cond_norm_class()
    counter = iter(range(10_000))
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        image = keras.Input((*input_hw, 3), name="image")
        style = keras.Input((style_dim,), name="style", dtype="float32")

        def norm(x, name):
            return CondInstanceNorm(seed=seed + 50_000 + 2 * next(counter), name=name)([x, style])

        model = keras.Model([image, style], transform_graph(net, image, seed=seed, norm=norm),
                            name="anystyle_transform_net")
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return model


def build_predictor(config: ArbitraryConfig, weights_path: str | None = None, random_init: bool = True,
                    policy: str = "float32", seed: int = 0):
    """The style-prediction network.

    Args:
        config: its size and backbone.
        weights_path: the backbone's ImageNet weights (None: weight-free).
        random_init: with ``weights_path`` None, give the backbone its fixed-seed random weights (as the
            loss networks' fallback); False when a trained predictor's weights are loaded next anyway.
        policy: Keras dtype policy of the backbone; the vector is float32.

    Returns:
        A ``keras.Model`` mapping (B, H, W, 3) RGB [0, 1] to (B, style_dim) float32.
    """
    import keras

    from ..backbones import get

    config = config.validate()
    bb = get(config.predictor)
    bb.check_layers([config.cut])
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        base = bb.keras_model(weights_path)
        if weights_path is None and random_init:
            bb.random_init(base, RANDOM_BACKBONE_SEED)
        trunk = keras.Model(base.input, base.get_layer(config.cut).output, name="predictor_trunk")
        inp = keras.Input((None, None, 3), name="style_image")
        x = keras.layers.Lambda(lambda t: bb.preprocess(t, weights_path is None), output_shape=lambda s: s,
                                name="preprocess")(inp)
        x = trunk(x)
        x = keras.layers.GlobalAveragePooling2D(dtype="float32", name="spatial_mean")(x)
        # The trunk's feature scale differs by orders of magnitude between ImageNet and random weights
        # and between layers; normalised means keep the vector O(1) for any of them, which the
        # conditional norms' maps and every quantisation of the export need.
        x = keras.layers.LayerNormalization(dtype="float32", name="feature_norm")(x)
        v = keras.layers.Dense(config.style_dim, dtype="float32", name=VECTOR_LAYER,
                               kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
        model = keras.Model(inp, v, name="style_predictor")
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return model


def blend_vectors(vectors, weights=None) -> np.ndarray:
    """Weighted mean of style vectors (the "combine styles" of Magenta's and the TF.js demos).

    Args:
        vectors: (K, D) style vectors. weights: K non-negative numbers (default: equal); normalised.

    Raises:
        ConfigError: the number of weights differs from K, or they sum to 0.
    """
    v = np.asarray(vectors, np.float32)
    if v.ndim != 2 or len(v) == 0:
        raise ConfigError(f"style vectors must be (K, D) with K >= 1, got {v.shape}")
    w = np.ones(len(v), np.float32) if weights is None or len(weights) == 0 else np.asarray(weights, np.float32)
    if w.shape != (len(v),):
        raise ConfigError(f"{len(w)} blend weight(s) for {len(v)} style image(s)")
    if np.any(w < 0) or w.sum() <= 0:
        raise ConfigError("blend weights must be >= 0 and not all 0")
    return (w / w.sum()) @ v


def with_strength(style_vector, photo_vectors, strength: float) -> np.ndarray:
    """``strength * style + (1 - strength) * photo``: 1 the painting's style, 0 the photo's own.

    Args:
        style_vector: (D,). photo_vectors: (B, D). Returns (B, D) float32.
    """
    if not 0 <= strength <= 1:
        raise ConfigError(f"strength must be in [0, 1], got {strength}")
    s = np.asarray(style_vector, np.float32)[None]
    return (strength * s + (1 - strength) * np.asarray(photo_vectors, np.float32)).astype(np.float32)


def style_input(image: np.ndarray, size: int) -> np.ndarray:
    """A style image as the prediction network sees it: longest side ``size`` (aspect kept)."""
    a = np.asarray(image, np.float32)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ConfigError(f"a style image must be (H, W, 3), got {a.shape}")
    return resize(a, fit_size(a.shape[:2], size))


# ------------------------------------------------------------------------------------ model folder

def save_arbitrary_dir(predictor, transformer, net: NetworkConfig, config: ArbitraryConfig,
                       model_dir: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write ``predictor.weights.h5``, ``model.weights.h5`` and ``model.json`` (last), each atomically."""
    d = Path(model_dir)
    save_weights(predictor, d / PREDICTOR_WEIGHTS_FILE)
    return save_model_dir(transformer, net, d, meta, extra={"kind": KIND_ARBITRARY, "arbitrary": config.to_dict()})


def read_arbitrary_json(model_dir: str | os.PathLike) -> tuple[NetworkConfig, ArbitraryConfig, dict]:
    """Read ``model.json`` of an arbitrary-style model: (network, arbitrary config, metadata).

    Raises:
        ModelError: not a model folder, or a per-style model (one line).
    """
    net, meta, doc = read_model_doc(model_dir)
    if doc.get("kind", KIND_PER_STYLE) != KIND_ARBITRARY:
        raise ModelError(f"{Path(model_dir)}: a model for one style takes no --style (an arbitrary-style "
                         f"model is trained with tfstyle train --styles)")
    try:
        config = ArbitraryConfig.from_dict(doc.get("arbitrary"))
    except ConfigError as e:
        raise ModelError(f"{Path(model_dir) / 'model.json'}: bad arbitrary-style settings: {e}") from None
    return net, config, meta


def _vector_sizes(path: Path, prefix: str, axis: int, ndim: int) -> set[int]:
    """Sizes along ``axis`` of the ``ndim``-D arrays in the Keras weight file ``path`` whose path
    starts with ``prefix`` (empty set for an unreadable file: the load reports that)."""
    import h5py

    sizes: set[int] = set()
    try:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset) and name.startswith(prefix) and len(obj.shape) == ndim:
                    sizes.add(int(obj.shape[axis]))

            f.visititems(visit)
    except (OSError, ValueError):
        pass
    return sizes


def _check_style_dims(model_dir: Path, style_dim: int) -> None:
    """The style vector's size must agree between model.json, the predictor and the transformer."""
    predicted = _vector_sizes(model_dir / PREDICTOR_WEIGHTS_FILE, _PREDICTOR_KERNEL, axis=1, ndim=2)
    taken = _vector_sizes(model_dir / WEIGHTS_FILE, _COND_NORM, axis=0, ndim=2)
    for what, sizes in (("the prediction network makes", predicted), ("the transformer takes", taken)):
        if sizes and sizes != {style_dim}:
            raise ModelError(f"{model_dir}: style vectors of {style_dim} numbers in model.json, but {what} "
                             f"{'/'.join(map(str, sorted(sizes)))}")


def load_arbitrary_dir(model_dir: str | os.PathLike, policy: str = "float32"):
    """Rebuild both networks from ``model.json`` and load their weights.

    Returns:
        (predictor, transformer, network, arbitrary_config, metadata).

    Raises:
        ModelError: anything wrong with the folder, one line naming the file.
    """
    d = Path(model_dir)
    net, config, meta = read_arbitrary_json(d)
    for name in (PREDICTOR_WEIGHTS_FILE, WEIGHTS_FILE):
        if not (d / name).is_file():
            raise ModelError(f"{d}: not a model folder ({name} is missing)")
    _check_style_dims(d, config.style_dim)
    predictor = build_predictor(config, None, random_init=False)
    load_weights(predictor, d / PREDICTOR_WEIGHTS_FILE)
    transformer = build_transformer(net, config.style_dim, policy=policy)
    load_weights(transformer, d / WEIGHTS_FILE)
    return predictor, transformer, net, config, meta


class ArbitraryModel:
    """A loaded arbitrary-style model.

    Args:
        model_dir: a folder written by ``tfstyle train --styles``.

    Raises:
        ModelError: the folder is missing, malformed, or holds a per-style model.
    """

    def __init__(self, model_dir: str | os.PathLike):
        import tensorflow as tf

        self.model_dir = Path(model_dir)
        self.predictor, self.transformer, self.network, self.config, self.meta = load_arbitrary_dir(model_dir)
        self._predict = tf.function(self.predictor.__call__, reduce_retracing=True)
        self._transform = tf.function(self.transformer.__call__, reduce_retracing=True)

    @property
    def style_dim(self) -> int:
        return self.config.style_dim

    def style_vector(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) RGB [0, 1] style image -> (style_dim,) float32 vector."""
        a = style_input(np.clip(image, 0, 1), self.config.style_image_size)
        return np.asarray(self._predict(a[None]), np.float32)[0]

    def photo_vectors(self, photos: np.ndarray) -> np.ndarray:
        """The photos' own style vectors, (B, H, W, 3) -> (B, style_dim)."""
        return np.stack([self.style_vector(p) for p in photos])

    def mixed_vector(self, styles, weights=None) -> np.ndarray:
        """The weighted mean of the vectors of ``styles`` ((H, W, 3) arrays)."""
        return blend_vectors([self.style_vector(s) for s in styles], weights)

    def stylize(self, photos: np.ndarray, vector: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Stylise (H, W, 3) or (B, H, W, 3) RGB [0, 1] photos with a (style_dim,) style vector.

        Returns the input's shape, float32 RGB [0, 1].
        """
        a, single = photo_batch(photos)
        v = np.asarray(vector, np.float32)
        if v.shape != (self.style_dim,):
            raise ConfigError(f"a style vector of this model has {self.style_dim} numbers, got shape {v.shape}")
        vs = with_strength(v, self.photo_vectors(a), strength) if strength < 1 else np.repeat(v[None], len(a), 0)
        out = np.asarray(self._transform([a, vs]))
        return out[0] if single else out

    def bind(self, vector: np.ndarray, strength: float = 1.0) -> "BoundStyle":
        """A callable ``images -> stylised images`` with this style (what ``apply_files`` and the
        video pipeline call)."""
        return BoundStyle(self, vector, strength)


class BoundStyle:
    """An arbitrary-style model with its style vector and strength fixed: called like a per-style
    :class:`tfstyle.feedforward.apply.StyleModel`.

    Attributes:
        model_dir: the model's folder. fingerprint: sha256 of the vector and the strength (what a
            resumable video run must match besides the model's files).
    """

    def __init__(self, model: ArbitraryModel, vector: np.ndarray, strength: float = 1.0):
        import hashlib

        self.model, self.vector, self.strength = model, np.asarray(vector, np.float32), float(strength)
        self.model_dir = model.model_dir
        self.fingerprint = hashlib.sha256(self.vector.tobytes() + repr(self.strength).encode()).hexdigest()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.model.stylize(images, self.vector, self.strength)


def check_style_args(model_dir: str | os.PathLike, styles: int, blend=(), strength: float = 1.0) -> str:
    """Whether ``styles`` style images (with ``blend`` weights and ``strength``) fit the model in
    ``model_dir``; cheap (reads model.json only). Returns the model's kind.

    Raises:
        ModelError: style images for a per-style model, or none for an arbitrary-style one.
        ConfigError: blend weights that do not match the styles.
    """
    from .networks import model_kind

    kind = model_kind(model_dir)
    if kind == KIND_PER_STYLE:
        if styles or blend or strength != 1:
            read_arbitrary_json(model_dir)  # raises its one-line error
        return kind
    if not styles:
        raise ModelError(f"{Path(model_dir)}: an arbitrary-style model needs a style image (--style PAINTING)")
    if blend and len(blend) != styles:
        raise ConfigError(f"--style-blend has {len(blend)} weight(s) for {styles} --style image(s)")
    read_arbitrary_json(model_dir)
    return kind


def load_any(model_dir: str | os.PathLike, styles=(), blend=(), strength: float = 1.0):
    """The model in ``model_dir`` as a callable ``images -> stylised images``: a per-style model as it
    is, an arbitrary-style one bound to the weighted mean of the vectors of ``styles`` ((H, W, 3)
    arrays) at ``strength``.

    Raises:
        ModelError, ConfigError: see :func:`check_style_args`.
    """
    if check_style_args(model_dir, len(styles), blend, strength) == KIND_PER_STYLE:
        from .apply import StyleModel

        return StyleModel(model_dir)
    model = ArbitraryModel(model_dir)
    return model.bind(model.mixed_vector(styles, blend or None), strength)


__all__ = ["ArbitraryModel", "BoundStyle", "PREDICTOR_WEIGHTS_FILE", "blend_vectors", "build_predictor", "build_transformer",
           "check_style_args", "load_any", "load_arbitrary_dir", "read_arbitrary_json", "save_arbitrary_dir", "style_input",
           "with_strength"]
