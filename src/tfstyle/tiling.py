"""Tiled optimisation of large images with global style statistics (see TiledStylizer)."""

from __future__ import annotations

# Context around each tile's core, in pixels (a multiple of ALIGN).
MARGIN = 64


def max_core(tile: int) -> int:
    """Largest core a tile grid of nominal ``tile`` produces: edge pieces under tile/4 merge inward."""
    return tile + tile // 4
