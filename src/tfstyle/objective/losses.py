"""Loss functions: plain TensorFlow functions with float32 values (bfloat16 Grams: see :func:`gram`).

Normalisation (stated here once, used everywhere):

* Gram: ``G = F^T F / (H*W)`` for features F reshaped to (B, H*W, C). Dividing by H*W makes the Gram
  a per-pixel average, so it does not grow with resolution.
* Style layer loss: ``mean_{C x C}((G - A)^2) / mean(A^2)``. The first factor equals Gatys et al.'s
  ``E_l = sum((G-A)^2) / (4 N_l^2 M_l^2)`` up to the constant 4 (N_l = C, M_l = H*W), which keeps
  the paper's balance between layers. Dividing by the target's own magnitude ``mean(A^2)`` is a
  departure from the paper (as in crowsonkb's scaled MSE): it makes each layer's loss a relative
  error, so style weights mean the same at any resolution, layer choice, pooling or backbone
  (random-weight VGG activations are orders of magnitude off ImageNet ones).
* Content loss: ``mean((F - P)^2) / mean(P^2)``, a relative error for the same reason.
* Total variation: mean squared difference of neighbouring pixels of the [0, 1] image, times
  (H*W)^0.5 / 256 so that it does not vanish as resolution grows (smooth images' neighbour
  differences shrink like 1/side).
"""

from __future__ import annotations

import tensorflow as tf

_EPS = 1e-8


def gram(features: tf.Tensor) -> tf.Tensor:
    """Normalised Gram matrix.

    bfloat16 features (mixed_bfloat16) are multiplied in bfloat16 where bfloat16 is native
    (:func:`tfstyle.hardware.native_bfloat16`: AMX or AVX512_BF16 with oneDNN): there oneDNN's
    bfloat16 matmul sums the H*W products in float32 and rounds the (C, C) result to bfloat16 once
    (about one rounding of the features themselves), and bfloat16 has float32's range, so nothing
    overflows; it is faster than a float32 matmul of the same features (bench/knobs.py). Elsewhere
    bfloat16 is emulated and its long sums round more often, so the features are cast to float32
    first (bench/results/decisions.md, "bfloat16 Grams"). Every other dtype, float16 in
    particular (whose H*W-term sums overflow), is multiplied in float32.

    Its input gradient is one matmul, ``F (dG + dG^T) / (H*W)``, where autodiff's takes two of that
    size and their sum (recorded on the tapes, :func:`tfstyle.tape.record`).

    Args:
        features: (B, H, W, C) activations.

    Returns:
        (B, C, C) float32, ``F^T F / (H*W)``.
    """
    from ..hardware import native_bfloat16
    from ..tape import record

    keep = features.dtype == tf.bfloat16 and native_bfloat16()
    f = features if keep else tf.cast(features, tf.float32)
    shape = tf.shape(f)
    flat = tf.reshape(f, (shape[0], shape[1] * shape[2], shape[3]))  # (B, H*W, C)
    hw = tf.cast(shape[1] * shape[2], tf.float32)
    fixed = tf.stop_gradient(flat)
    g = tf.cast(tf.linalg.matmul(fixed, fixed, transpose_a=True), tf.float32) / hw  # (B, C, C)

    def backward(dg):
        sym = tf.cast((dg + tf.linalg.matrix_transpose(dg)) / hw, flat.dtype)
        return [tf.linalg.matmul(fixed, sym)]

    record("Gram", g, flat, backward)
    return g


def masked_gram(features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Gram matrix over a weighted region: ``sum_p m_p f_p f_p^T / sum_p m_p``.

    With ``m = 1`` everywhere this is :func:`gram`; a binary mask gives the Gram of the masked pixels
    alone, normalised by their count (the region's per-pixel average), so it does not depend on the
    region's size.

    Args:
        features: (B, H, W, C) activations.
        mask: (B or 1, H, W, 1) weights in [0, 1] at the features' resolution.

    Returns:
        (B, C, C) float32.
    """
    f = tf.cast(features, tf.float32)
    shape = tf.shape(f)
    flat = tf.reshape(f, (shape[0], shape[1] * shape[2], shape[3]))  # (B, H*W, C)
    m = tf.cast(mask, tf.float32)
    m = tf.reshape(m, (tf.shape(m)[0], shape[1] * shape[2], 1))  # (B or 1, H*W, 1)
    area = tf.reduce_sum(m, axis=1, keepdims=True)  # (B or 1, 1, 1)
    return tf.linalg.matmul(flat * m, flat, transpose_a=True) / (area + _EPS)  # (B, C, C)


def style_layer_loss(g: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Relative Gram error ``mean((G - A)^2) / mean(A^2)`` (scalar; see module docstring)."""
    return tf.reduce_mean(tf.square(g - target)) / (tf.reduce_mean(tf.square(target)) + _EPS)


def content_layer_loss(f: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Relative feature error ``mean((F - P)^2) / mean(P^2)`` (scalar, float32 for any feature dtype)."""
    f = tf.cast(f, tf.float32)
    return tf.reduce_mean(tf.square(f - target)) / (tf.reduce_mean(tf.square(target)) + _EPS)


def total_variation(image: tf.Tensor) -> tf.Tensor:
    """Resolution-compensated squared total variation of (B, H, W, C) images in [0, 1] (scalar)."""
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    shape = tf.shape(image)
    side = tf.sqrt(tf.cast(shape[1] * shape[2], tf.float32))
    return (tf.reduce_mean(tf.square(dy)) + tf.reduce_mean(tf.square(dx))) * side / 256.0


class StyleContentLoss:
    """Weights and precomputed targets of the Gatys objective.

    Args:
        content_targets: ``{layer: (1, h, w, C)}`` content features.
        style_targets: ``{layer: (1, C, C)}`` Gram matrices of the style image(s).
        style_layer_weights: ``{layer: w}``; normalised to sum to 1.
        content_weight, style_weight, tv_weight: scalar weights.

    Calling it with the current features and image returns ``(total, parts)`` where parts is
    ``{"content/<layer>": ..., "style/<layer>": ..., "tv": ...}``, each already weighted.

    Batches: features and images may hold B > 1 images. Style targets (1, C, C) broadcast over
    the batch; ``content_targets=`` given to the call (``{layer: (B, h, w, C)}``) replaces the
    stored ones, as in feed-forward training where each photo is its own content target, and
    ``style_targets=`` the stored Grams (one compiled objective serving several scales).
    """

    def __init__(self, content_targets, style_targets, style_layer_weights, content_weight,
                 style_weight, tv_weight):
        self.content_targets = {k: tf.constant(v, tf.float32) for k, v in content_targets.items()}
        self.style_targets = {k: tf.constant(v, tf.float32) for k, v in style_targets.items()}
        total = sum(style_layer_weights.values())
        self.style_layer_weights = {k: float(w) / total for k, w in style_layer_weights.items()}
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)

    def __call__(self, features, image, content_targets=None, style_targets=None):
        parts = {}
        targets = self.content_targets if content_targets is None else content_targets
        n_content = len(targets)
        for name, target in targets.items():
            parts[f"content/{name}"] = self.content_weight / n_content * content_layer_loss(features[name], target)
        for name, target in (self.style_targets if style_targets is None else style_targets).items():
            w = self.style_weight * self.style_layer_weights[name]
            parts[f"style/{name}"] = w * style_layer_loss(gram(features[name]), target)
        parts["tv"] = self.tv_weight * total_variation(image)
        total = tf.add_n(list(parts.values()))
        return total, parts
