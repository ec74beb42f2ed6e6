"""Files a site's models are made of, whichever kind of model wrote them: LiteRT.js's fixed-shape
``.tflite`` files and the thumbnails of style images (``web/site.py`` for per-style models,
``web/anystyle.py`` for an arbitrary-style one)."""

from __future__ import annotations

from pathlib import Path


def write_litert(keras_model, folder: Path, shapes: dict[int, list[tuple[int, int]]], prefix: str = "litert",
                 endpoint=None, input_signature=None) -> dict:
    """One ``<prefix>_<size>.tflite`` per size into ``folder`` with one signature per shape;
    {size: {file, bytes, shapes}}.

    Weights in float32 whatever the TF.js models' quantisation: LiteRT.js's WebAssembly builds
    dequantise float16 weights at every run instead of once, which cost more than the smaller
    download saves (docs/browser-litert.md); TFLite's int8 forms change the arithmetic.

    Args:
        shapes: {size: [(height, width), ...]} (``config.litert_shapes``).
        endpoint, input_signature: a model of several inputs (the arbitrary-style transformer), as
            :func:`tfstyle.export.tflite.tflite_bytes` takes them; each signature takes them at batch 1.
    """
    from ..export.tflite import tflite_bytes

    out = {}
    for size, sizes_shapes in shapes.items():
        blob = tflite_bytes(keras_model, "none", shapes=sizes_shapes, endpoint=endpoint,
                            input_signature=input_signature)
        file = f"{prefix}_{size}.tflite"
        (folder / file).write_bytes(blob)
        out[size] = {"file": file, "bytes": len(blob), "shapes": [list(s) for s in sizes_shapes]}
    return out


def thumbnail(style, out: Path, side: int) -> Path | None:
    """Write a JPEG thumbnail of the style image ``style`` (longest side ``side``); None if it cannot
    be read."""
    from PIL import Image

    from ..io.images import ImageError, fit_size, load_image, resize, to_uint8

    if not isinstance(style, str) or not style:
        return None
    try:
        image = load_image(style)
    except ImageError:
        return None
    small = resize(image, fit_size(image.shape[:2], side))
    Image.fromarray(to_uint8(small), mode="RGB").save(out, format="JPEG", quality=85)
    return Path(style)


__all__ = ["write_litert", "thumbnail"]
