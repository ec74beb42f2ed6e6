"""The temporal loss (Ruder et al. 2016) and synthetic motion for training (TensorFlow functions).

* :func:`temporal_loss` and :class:`TemporalTerm`: the optimisation path of ``tfstyle video`` pulls
  each frame toward the previous output warped onto it, weighted by a mask; the flow, the warping
  and the masks are :mod:`tfstyle.video.flow`'s (conventions stated there).
* :func:`random_affine`, :func:`affine_warp`, :func:`masked_mse`: feed-forward training with
  ``TrainConfig.temporal_weight`` moves each photo a little and asks the network for the same
  output moved the same way.

Images are float RGB in [0, 1]; the losses take (B, H, W, 3) tensors.
"""

from __future__ import annotations

import numpy as np

def temporal_loss(x, warped, mask):
    """Ruder et al.'s short-term temporal loss ``(1/D) sum c (x - w)^2`` (D: all pixel values).

    Args:
        x: (B, H, W, 3) image being optimised. warped: (1 or B, H, W, 3) previous output warped onto
            this frame. mask: (1 or B, H, W, 1) weights c in [0, 1].

    Returns:
        float32 scalar.
    """
    import tensorflow as tf

    x = tf.cast(x, tf.float32)
    return tf.reduce_mean(tf.cast(mask, tf.float32) * tf.square(x - tf.cast(warped, tf.float32)))


class TemporalTerm:
    """The temporal part of the objective of one frame: ``weight * sum_j temporal_loss(x, w_j, c_j)``
    over the previous outputs ``w_j`` warped onto this frame and their masks ``c_j``.

    An extra loss for :class:`tfstyle.optimize.stylizer.Stylizer` (``extra_loss=``): calling it with
    the optimised (1, H, W, 3) image returns ``(total, {"temporal": total})``.
    """

    def __init__(self, warped: list[np.ndarray], masks: list[np.ndarray], weight: float):
        import tensorflow as tf

        self.warped = [tf.constant(w[None], tf.float32) for w in warped]
        self.masks = [tf.constant(m[None, :, :, None], tf.float32) for m in masks]
        self.weight = float(weight)

    def __call__(self, x):
        import tensorflow as tf

        terms = [temporal_loss(x, w, m) for w, m in zip(self.warped, self.masks)]
        total = self.weight * tf.add_n(terms)
        return total, {"temporal": total}


# ------------------------------------------------------------------ synthetic motion (training)

def random_affine(batch: int, size: int, max_shift: float, max_angle: float, max_zoom: float, seed=None):
    """Random small affine motions as (B, 8) projective transforms for :func:`affine_warp`.

    Each maps an output pixel to the input pixel it samples: a rotation by up to ``max_angle``
    radians and a zoom by up to ``1 +- max_zoom`` about the centre, then a shift of up to
    ``max_shift`` pixels; uniform in each.
    """
    import tensorflow as tf

    u = tf.random.uniform((batch, 4), -1.0, 1.0, seed=seed)
    angle, zoom = u[:, 0] * max_angle, 1.0 + u[:, 1] * max_zoom
    tx, ty = u[:, 2] * max_shift, u[:, 3] * max_shift
    c = (size - 1) / 2.0
    a, b = zoom * tf.cos(angle), zoom * tf.sin(angle)
    # input = R (output - centre) + centre + shift
    a0, a1, a2 = a, -b, c - a * c + b * c + tx
    b0, b1, b2 = b, a, c - b * c - a * c + ty
    zeros = tf.zeros_like(a)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def affine_warp(images, transforms):
    """(B, H, W, C) images resampled through (B, 8) transforms (bilinear), and the (B, H, W, 1)
    mask of output pixels whose source lies inside the image (0 outside, no wrap-around)."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)[1:3]

    def apply(x):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=tf.cast(transforms, tf.float32), output_shape=shape,
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")

    warped = apply(tf.cast(images, tf.float32))
    ones = tf.ones_like(images[..., :1], tf.float32)
    # A pixel whose bilinear footprint touched the outside has a value below 1: trust only full ones.
    valid = tf.cast(apply(ones) > 0.999, tf.float32)
    return warped, valid


def masked_mse(a, b, mask):
    """``sum(m (a - b)^2) / (3 sum(m))``: the mean squared difference over valid pixels (float32)."""
    import tensorflow as tf

    m = tf.cast(mask, tf.float32)
    d = tf.square(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)) * m
    return tf.reduce_sum(d) / (tf.reduce_sum(m) * tf.cast(tf.shape(a)[-1], tf.float32) + 1e-8)


__all__ = ["temporal_loss", "TemporalTerm", "random_affine", "affine_warp", "masked_mse"]
