"""Optical flow, warping and occlusion masks (NumPy and OpenCV; no TensorFlow).

Conventions, stated once:

* A **flow** is (H, W, 2) float32 pixels ``(dx, dy)``. ``flow(a, b)`` maps frame ``a`` onto ``b``:
  ``a(x) ~ b(x + flow(x))``. So ``warp(b, flow(a, b))`` is ``b`` brought into ``a``'s pixel grid;
  the previous output is warped onto the current frame with the *backward* flow
  ``flow(current, previous)`` (Ruder et al. 2016, section 3).
* **Masks** are (H, W) float32 in {0, 1}: 1 where the warped value can be trusted.
* Images are float RGB in [0, 1] (H, W, 3).

Ruder et al. 2016, "Artistic style transfer for videos", eq. for the weights ``c``: with ``w`` the
backward flow (current -> previous) and ``w~`` the forward flow (previous -> current) sampled
along it, a pixel is *disoccluded* when the two do not cancel,

    |w~ + w|^2 > 0.01 (|w~|^2 + |w|^2) + 0.5,

and lies on a *motion boundary* when

    |grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002

(u, v: the components of the backward flow). Both get weight 0.

OpenCV (``opencv-python-headless``) is imported on first use. The temporal loss that uses these
masks is :mod:`tfstyle.objective.temporal`.
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
    from .codecs import require_cv2

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


__all__ = ["FlowEstimator", "warp", "inside_mask", "consistency_mask", "warping_error", "long_term_masks",
           "FLOW_PRESETS"]
