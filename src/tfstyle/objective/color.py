"""Colour preservation (Gatys et al. 2017, "Controlling perceptual factors in neural style transfer").

Two ways of keeping the content's colours:

* ``luminance``: the transfer runs on luminance only. Content and style become grey images of their
  YIQ luminance (the style's luminance first shifted and scaled to the content's mean and standard
  deviation, as in the paper), the optimiser works on a grey image, and the result takes the
  content's chrominance (I and Q) back: the output's chrominance *is* the content's.
* ``histogram``: before anything else, the style image's colours are mapped by the linear transform
  that gives them the content's mean and covariance (the paper's "colour histogram matching";
  the symmetric square-root variant, from Image Analogies). The transfer then runs as usual.

All functions take and return float32 RGB in [0, 1] of shape (H, W, 3) unless stated.
"""

from __future__ import annotations

import numpy as np

# NTSC YIQ: Y is luminance, I and Q chrominance. Rows: (Y, I, Q) from (R, G, B).
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]], np.float64)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)
_EPS = 1e-5


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (..., 3) YIQ (Y in [0, 1]; I, Q roughly in [-0.6, 0.6])."""
    return (np.asarray(rgb, np.float64) @ RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """(..., 3) YIQ -> (..., 3) RGB, not clipped."""
    return (np.asarray(yiq, np.float64) @ YIQ_TO_RGB.T).astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W) luminance Y."""
    return rgb_to_yiq(rgb)[..., 0]


def grey(y: np.ndarray) -> np.ndarray:
    """(H, W) luminance -> (H, W, 3) grey RGB image with that luminance (R = G = B = Y)."""
    return np.repeat(np.clip(y, 0, 1)[..., None], 3, axis=-1).astype(np.float32)


def luminance_tf(rgb):
    """TensorFlow version of ``grey(luminance(rgb))`` for (B, H, W, 3) tensors (differentiable)."""
    import tensorflow as tf

    y = tf.reduce_sum(rgb * tf.constant(RGB_TO_YIQ[0], rgb.dtype), axis=-1, keepdims=True)  # (B, H, W, 1)
    return tf.tile(y, (1, 1, 1, 3))


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style's luminance as a grey image, shifted and scaled to the content's mean and standard
    deviation (Gatys et al. 2017, section 3.1), so that the content's brightness range is kept."""
    ys, yc = luminance(style), luminance(content)
    y = (ys - ys.mean()) * (yc.std() / (ys.std() + _EPS)) + yc.mean()
    return grey(y)


def with_chrominance(image: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``image``'s luminance with ``source``'s chrominance (same (H, W)), clipped to [0, 1]."""
    yiq = rgb_to_yiq(source)
    yiq[..., 0] = luminance(image)
    return np.clip(yiq_to_rgb(yiq), 0, 1).astype(np.float32)


def _sqrtm(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, _EPS)
    return (vecs * (vals ** (-0.5 if inverse else 0.5))) @ vecs.T


def match_color(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Map the style's RGB values by ``x -> A (x - mu_s) + mu_c`` with ``A = C_c^1/2 C_s^-1/2``, so the
    result has the content's mean colour and colour covariance (before clipping to [0, 1]).

    Args:
        style: (H, W, 3) RGB in [0, 1], the image whose colours change.
        content: (H', W', 3) RGB in [0, 1], whose colour statistics are copied (any size).

    Returns:
        (H, W, 3) float32 RGB in [0, 1].
    """
    s = np.asarray(style, np.float64).reshape(-1, 3)  # (N, 3)
    c = np.asarray(content, np.float64).reshape(-1, 3)
    mu_s, mu_c = s.mean(0), c.mean(0)
    cov_s = np.cov(s, rowvar=False) + _EPS * np.eye(3)
    cov_c = np.cov(c, rowvar=False) + _EPS * np.eye(3)
    a = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)  # (3, 3)
    out = (s - mu_s) @ a.T + mu_c
    return np.clip(out, 0, 1).reshape(style.shape).astype(np.float32)


def prepare(mode: str, content: np.ndarray, styles: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content and style images the targets are computed from, for a ``preserve_color`` mode.

    Returns:
        ``(content, styles)``: unchanged for "none"; style colours matched to the content for
        "histogram"; grey luminance images for "luminance".
    """
    if mode == "none":
        return content, list(styles)
    if mode == "histogram":
        return content, [match_color(s, content) for s in styles]
    if mode == "luminance":
        return grey(luminance(content)), [match_luminance(s, content) for s in styles]
    raise ValueError(f"unknown preserve_color mode {mode!r}")
