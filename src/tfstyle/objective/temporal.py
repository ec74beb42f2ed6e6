"""Temporal consistency: optical flow, warping, occlusion masks, the temporal loss, the warping error.

Conventions, stated once:

* A **flow** is (H, W, 2) float32 pixels ``(dx, dy)``. ``flow(a, b)`` maps frame ``a`` onto ``b``:
  ``a(x) ~ b(x + flow(x))``. So ``warp(b, flow(a, b))`` is ``b`` brought into ``a``'s pixel grid;
  the previous output is warped onto the current frame with the *backward* flow
  ``flow(current, previous)`` (Ruder et al. 2016, section 3).
* **Masks** are (H, W) float32 in {0, 1}: 1 where the warped value can be trusted.
* Images are float RGB in [0, 1] (H, W, 3); the losses take (B, H, W, 3) tensors.

Ruder et al. 2016, "Artistic style transfer for videos", eq. for the weights ``c``: with ``w`` the
backward flow (current -> previous) and ``w~`` the forward flow (previous -> current) sampled
along it, a pixel is *disoccluded* when the two do not cancel,

    |w~ + w|^2 > 0.01 (|w~|^2 + |w|^2) + 0.5,

and lies on a *motion boundary* when

    |grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002

(u, v: the components of the backward flow). Both get weight 0.

The numeric parts run in NumPy/OpenCV (``opencv-python-headless``, imported on first use); the
loss and the training warps are TensorFlow functions.
"""

from __future__ import annotations

import numpy as np

from ..config import FLOW_PRESETS

# Ruder et al.'s constants (see the module docstring).
OCCLUSION_RELATIVE = 0.01
OCCLUSION_ABSOLUTE = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002


def _cv2():
    from ..io.video import require_cv2

    return require_cv2()


class FlowEstimator:
    """OpenCV's DIS optical flow (Kroeger et al. 2016) on the CPU.

    Args:
        preset: "ultrafast", "fast" or "medium" (OpenCV's presets: more patches and iterations,
            slower and more accurate in that order).

    Calling it with two (H, W, 3) RGB images (uint8, or float in [0, 1]) returns ``flow(a, b)``.
    """

    def __init__(self, preset: str = "medium"):
        cv2 = _cv2()
        if preset not in FLOW_PRESETS:
            raise ValueError(f"flow preset must be one of {', '.join(FLOW_PRESETS)}, got {preset!r}")
        code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
        self._dis = cv2.DISOpticalFlow_create(code)
        self._cv2 = cv2

    def grey(self, image: np.ndarray) -> np.ndarray:
        a = image if image.dtype == np.uint8 else (np.clip(image, 0, 1) * 255.0 + 0.5).astype(np.uint8)
        return self._cv2.cvtColor(np.ascontiguousarray(a), self._cv2.COLOR_RGB2GRAY)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._dis.calc(self.grey(a), self.grey(b), None).astype(np.float32)

    def pair(self, current: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(backward, mask): ``flow(current, previous)`` and Ruder et al.'s consistency mask."""
        gc, gp = self.grey(current), self.grey(previous)
        backward = self._dis.calc(gc, gp, None).astype(np.float32)
        forward = self._dis.calc(gp, gc, None).astype(np.float32)
        return backward, consistency_mask(backward, forward)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + flow(x)`` (bilinear; outside the frame: the nearest edge pixel).

    Args:
        image: (H, W, C) float32 (or (H, W)). flow: (H, W, 2) float32 pixels.

    Returns:
        The warped image, same shape and dtype as ``image``.
    """
    cv2 = _cv2()
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(np.ascontiguousarray(image), gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def inside_mask(flow: np.ndarray) -> np.ndarray:
    """1 where ``x + flow(x)`` lands inside the frame (a value exists to warp from), else 0."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    x, y = gx + flow[..., 0], gy + flow[..., 1]
    return ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).astype(np.float32)


def consistency_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s weights for warping with ``backward``: 0 at disocclusions (forward-backward
    check), motion boundaries and where the flow leaves the frame, 1 elsewhere (see the module
    docstring).

    Args:
        backward: ``flow(current, previous)``; forward: ``flow(previous, current)``; (H, W, 2).
    """
    cv2 = _cv2()
    fw = warp(forward, backward)  # w~(x) = forward(x + backward(x))
    both = np.sum(np.square(fw + backward), axis=-1)
    mags = np.sum(np.square(fw), axis=-1) + np.sum(np.square(backward), axis=-1)
    occluded = both > OCCLUSION_RELATIVE * mags + OCCLUSION_ABSOLUTE
    gradient = np.zeros(backward.shape[:2], np.float32)
    for c in range(2):
        # ksize=1: the kernel [-1, 0, 1], twice the central difference.
        gx = cv2.Sobel(backward[..., c], cv2.CV_32F, 1, 0, ksize=1)
        gy = cv2.Sobel(backward[..., c], cv2.CV_32F, 0, 1, ksize=1)
        gradient += 0.25 * (gx * gx + gy * gy)
    boundary = gradient > BOUNDARY_RELATIVE * np.sum(np.square(backward), axis=-1) + BOUNDARY_ABSOLUTE
    return ((~occluded) & (~boundary)).astype(np.float32) * inside_mask(backward)


def warping_error(a: np.ndarray, b: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Lai et al. (ECCV 2018) warping error of two consecutive outputs.

    ``sum_x M(x) |a(x) - warp(b, flow)(x)|^2 / sum_x M(x)``: the squared difference summed over the
    three channels (RGB in [0, 1]) and averaged over the pixels of the mask, as in their code.

    Args:
        a, b: (H, W, 3) outputs of frames t and t+1. flow: ``flow(a's frame, b's frame)`` of the
            *input* frames (exact, or estimated). mask: (H, W) 1 where the flow is valid.
    """
    wb = warp(np.asarray(b, np.float32), flow)
    d = np.sum(np.square(np.asarray(a, np.float32) - wb), axis=-1)
    m = np.asarray(mask, np.float32)
    return float(np.sum(d * m) / max(float(np.sum(m)), 1.0))


def long_term_masks(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Ruder et al.'s long-term weights: ``c_long_j = max(c_j - sum_{k < j} c_k, 0)`` for masks
    ordered from the nearest previous frame to the farthest, so each pixel is pulled toward the
    nearest frame where it was visible, not toward all of them."""
    out, covered = [], np.zeros_like(masks[0]) if masks else None
    for m in masks:
        out.append(np.maximum(m - covered, 0.0).astype(np.float32))
        covered = covered + m
    return out


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


__all__ = ["FlowEstimator", "warp", "inside_mask", "consistency_mask", "warping_error", "long_term_masks",
           "temporal_loss", "TemporalTerm", "random_affine", "affine_warp", "masked_mse", "FLOW_PRESETS"]
