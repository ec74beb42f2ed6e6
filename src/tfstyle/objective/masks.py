"""Spatial control: where the style goes (Gatys et al. 2017, section 4).

A mask is a greyscale image over the content (white = 1: stylise here, black = 0; grey values
blend). Two uses:

* ``content_mask``: the style only inside the mask. The loss sees ``m * x + (1 - m) * content``, so
  pixels outside get no gradient and the result outside is the content itself; inside, the Grams
  are taken over the masked region only (a style Gram over the whole image would pull harder inside
  to make up for the untouched outside).
* ``style_masks``: one mask per style image; each style's Gram loss is measured over its own region.

Masked Gram (see :func:`tfstyle.objective.losses.masked_gram`): ``sum_p m_p f_p f_p^T / sum_p m_p``, the
features weighted by the mask downsampled to the layer's resolution (area averaging), normalised by
the mask's area, so it is the region's per-pixel average just as the plain Gram is the image's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..config import ConfigError
from ..io import images
from .losses import StyleContentLoss, masked_gram, style_layer_loss

# A mask whose mean is below this (a handful of pixels) cannot carry a style loss.
MIN_AREA = 1e-3


def load_mask(source, shape: tuple[int, int], what: str = "mask") -> np.ndarray:
    """A mask at the output size.

    Args:
        source: path of a greyscale (or any) image, or an (H, W) / (H, W, 3) float array in [0, 1].
        shape: output (H, W); the mask is resized to it and must have about the same aspect ratio.
        what: name used in error messages (the flag or file).

    Returns:
        (H, W) float32 in [0, 1].

    Raises:
        tfstyle.io.images.ImageError: unreadable, aspect ratio far from the content's, or all black.
    """
    if isinstance(source, np.ndarray):
        a = np.asarray(source, np.float32)
        name = what
    else:
        a = images.load_image(source)
        name = f"{what} {source}"
    if a.ndim == 3:
        a = a.mean(axis=-1)
    if a.ndim != 2 or not np.isfinite(a).all():
        raise images.ImageError(f"{name}: must be a finite (H, W) greyscale image")
    h, w = a.shape
    if abs((w / h) / (shape[1] / shape[0]) - 1) > 0.02:
        raise images.ImageError(f"{name}: is {w}x{h}, its aspect ratio differs from the content's "
                                 f"({shape[1]}x{shape[0]} output)")
    # Box (area) filter down, bilinear up: no ringing, so pure black stays exactly 0 away from edges
    # (Lanczos would leak a little style into areas meant to stay the content).
    down = shape[0] * shape[1] < h * w
    pil = Image.fromarray(np.clip(a, 0, 1).astype(np.float32), mode="F")
    m = np.asarray(pil.resize((shape[1], shape[0]), Image.Resampling.BOX if down else Image.Resampling.BILINEAR))
    m = np.clip(m, 0, 1)
    if m.mean() < MIN_AREA:
        raise images.ImageError(f"{name}: is (almost) all black, so it selects nothing to stylise")
    return m.astype(np.float32)


def load_masks(shape: tuple[int, int], n_styles: int, content_mask=None, style_masks=None):
    """The content mask and the per-style region masks of a run, at the output size.

    Args:
        shape: output (H, W).
        n_styles: number of style images.
        content_mask: path or array (see :func:`load_mask`), or None (stylise everywhere).
        style_masks: sequence of paths or arrays, one per style, or None.

    Returns:
        ``(mask, regions)``: the (H, W) content mask or None, and a list of (H, W) region masks (each
        already multiplied by the content mask) or None.

    Raises:
        tfstyle.config.ConfigError: not one style mask per style, or a region outside the content mask.
        tfstyle.io.images.ImageError: an unreadable or unusable mask (see :func:`load_mask`).
    """
    mask = None if content_mask is None else load_mask(content_mask, shape, "content mask")
    if style_masks is None:
        return mask, None
    if len(style_masks) != n_styles:
        raise ConfigError(f"style_masks has {len(style_masks)} masks for {n_styles} style images; "
                          f"give one mask per style")
    regions = []
    for i, source in enumerate(style_masks):
        m = load_mask(source, shape, f"style mask {i + 1}")
        if mask is not None:
            m = m * mask
            if m.mean() < MIN_AREA:
                raise ConfigError(f"style mask {i + 1} does not overlap the content mask")
        regions.append(m)
    return mask, regions


def layer_masks(mask: np.ndarray, shapes: dict[str, tuple[int, int]]):
    """Downsample an (H, W) mask to each layer's (h, w) by area averaging.

    Returns:
        ``{layer: (1, h, w, 1) float32 tensor}``.
    """
    import tensorflow as tf

    m = tf.constant(mask[None, :, :, None], tf.float32)
    return {n: tf.image.resize(m, hw, method="area") for n, hw in shapes.items()}


class RegionStyleContentLoss(StyleContentLoss):
    """The Gatys objective with each style's Gram loss measured over its own region.

    Args:
        content_targets: ``{layer: (1, h, w, C)}`` content features.
        regions: list of ``(weight, {layer: (1, C, C) target Gram}, {layer: (1, h, w, 1) mask})``;
            the weights (blend weights) should sum to 1.
        style_layer_weights, content_weight, style_weight, tv_weight: as in
            :class:`tfstyle.objective.losses.StyleContentLoss`.

    Parts are named ``style/<layer>`` for one region and ``style/s<i>/<layer>`` (i from 1) for more.
    """

    def __init__(self, content_targets, regions, style_layer_weights, content_weight, style_weight,
                 tv_weight):
        import tensorflow as tf

        super().__init__(content_targets, {}, style_layer_weights, content_weight, style_weight, tv_weight)
        self.regions = [(float(w), {k: tf.constant(v, tf.float32) for k, v in targets.items()}, masks)
                        for w, targets, masks in regions]

    def __call__(self, features, image):
        import tensorflow as tf

        _, parts = super().__call__(features, image)  # content and tv (no unmasked style targets)
        for i, (region_weight, targets, masks) in enumerate(self.regions, start=1):
            prefix = "style/" if len(self.regions) == 1 else f"style/s{i}/"
            for name, target in targets.items():
                w = self.style_weight * self.style_layer_weights[name] * region_weight
                parts[prefix + name] = w * style_layer_loss(masked_gram(features[name], masks[name]), target)
        return tf.add_n(list(parts.values())), parts
