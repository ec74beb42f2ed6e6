"""Exporting an arbitrary-style model: two models, as the TensorFlow Lite style-transfer example ships.

The output is a folder:

* the **prediction** model: style image (any batch, height and width of float32 RGB [0, 1]) -> style
  vector ``(batch, style_dim)``;
* the **transformer**: photo (float32 RGB [0, 1], any size) and style vector -> stylised photo
  (float32 RGB [0, 1], the photo's shape). A style's strength and a mix of styles are arithmetic on
  vectors (``tfstyle.feedforward.arbitrary``), done by the caller;
* ``styles.json``: ``{"style_dim": D, "styles": {name: vector}}`` with the vectors of the named style
  images given at export time (none by default), so that a phone or a page need not run the
  prediction model for its built-in styles.

Per format: ``savedmodel`` writes ``predictor/`` and ``transformer/`` SavedModels (endpoint
``serve``; the transformer's arguments are ``image`` and ``style``); ``tflite`` writes
``predictor.tflite`` and ``transformer.tflite`` (signature ``serve`` with the same names); ``tfjs``
writes ``predictor/`` and ``transformer/`` graph models (inputs ``image`` and ``style``, outputs
``style`` and ``stylized``). The quantisations are the per-style export's; int8 calibrates the prediction
model on paintings and the transformer on photos with those paintings' vectors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..config import ExportConfig
from .base import ExportError, input_spec, remove_path, replace_path, representative_images

STYLES_FILE = "styles.json"


def default_name(config) -> str:
    """``anystyle_savedmodel``, ``anystyle_tflite_<quantize>`` or ``anystyle_tfjs[_<quantize>]``."""
    if config.format == "savedmodel":
        return "anystyle_savedmodel"
    if config.format == "tfjs":
        return "anystyle_tfjs" if config.quantize == "none" else f"anystyle_tfjs_{config.quantize}"
    return f"anystyle_{config.format}_{config.quantize}"


def transformer_endpoint(transformer, style_dim: int):
    """The transformer's export function ``serve(image, style)`` and its input signature: ``image``
    (any batch, height and width of float32 RGB) and ``style`` (batch, style_dim)."""
    import tensorflow as tf

    def serve(image, style):
        return transformer([image, style], training=False)

    return serve, [input_spec(), tf.TensorSpec([None, style_dim], tf.float32, name="style")]


def write_pair(predictor, transformer, out: Path, config: ExportConfig, style_dim: int,
               paintings=None, photos=None) -> Path:
    """Write the two models of ``config.format`` into the new folder ``out``.

    Args:
        paintings, photos: int8 calibration: (S, S, 3) style crops and photo crops in [0, 1].
    """
    out.mkdir()
    endpoint, signature = transformer_endpoint(transformer, style_dim)
    fmt, q = config.format, config.quantize
    if fmt == "savedmodel":
        from .savedmodel import export_savedmodel

        export_savedmodel(predictor, out / "predictor")
        export_savedmodel(transformer, out / "transformer", endpoint=endpoint, input_signature=signature)
    elif fmt == "tflite":
        from .tflite import tflite_bytes

        rep_p = rep_t = None
        if q == "int8":
            rep_p = paintings
            vectors = np.asarray(predictor(np.stack(paintings), training=False))
            rep_t = [{"image": np.asarray(p, np.float32)[None], "style": vectors[i % len(vectors)][None]}
                     for i, p in enumerate(photos)]
        (out / "predictor.tflite").write_bytes(tflite_bytes(predictor, q, rep_p))
        (out / "transformer.tflite").write_bytes(tflite_bytes(transformer, q, rep_t, endpoint=endpoint, input_signature=signature))
    elif fmt == "tfjs":
        from .tfjs import INPUT_KEY, OUTPUT_KEY, frozen_graph_def, write_graph_model

        g, inp, o = frozen_graph_def(predictor)
        write_graph_model(g, inp, o, out / "predictor", q, output=("style", (-1, style_dim)),
                          about={"input": "float32 RGB [0, 1] style image, shape [batch, height, width, 3]",
                                 "output": f"float32 style vector, shape [batch, {style_dim}]"})
        g, (image, style), o = frozen_graph_def(transformer, endpoint=endpoint, input_signature=signature)
        write_graph_model(g, None, o, out / "transformer", q,
                          inputs={INPUT_KEY: (image, (-1, -1, -1, 3)), "style": (style, (-1, style_dim))},
                          output=(OUTPUT_KEY, (-1, -1, -1, 3)),
                          about={"input": f"image: float32 RGB [0, 1] [batch, height, width, 3]; style: float32 "
                                          f"[batch, {style_dim}]", "output": "float32 RGB [0, 1], the image's shape"})
    else:
        raise ExportError(f"--format {fmt} cannot export an arbitrary-style model")
    return out


def export_arbitrary(model_dir: str | os.PathLike, config: ExportConfig, output: str | os.PathLike | None = None,
                     data_dir: str | os.PathLike | None = None, overwrite: bool = False,
                     named_styles: dict | None = None) -> Path:
    """Export the arbitrary-style model in ``model_dir`` (see the module docstring); returns the folder.

    Args:
        config: format, quantisation and int8 calibration settings (validated).
        output: the folder to write (default ``MODEL_DIR/<default_name>``).
        data_dir: int8: calibration photos (default: the training photos named in model.json); the
            paintings are the training paintings named there.
        named_styles: ``{name: (H, W, 3) image}`` whose vectors go into ``styles.json``.

    Raises:
        ModelError, ExportError, ConfigError: one line each. Nothing is left half-written.
    """
    from ..feedforward.arbitrary import ArbitraryModel

    out = Path(output) if output else Path(model_dir) / default_name(config)
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ExportError(f"{out}: already exists (pass --overwrite to replace it)")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"{out}: folder {parent} does not exist")
    model = ArbitraryModel(model_dir)
    paintings = photos = None
    if config.quantize == "int8":
        data, styles = data_dir or model.meta.get("data"), model.meta.get("style")
        if not data or not styles:
            raise ExportError("int8 needs calibration photos and paintings: pass --data PHOTOS_DIR")
        photos = representative_images(data, config.calibration_images, config.calibration_size)
        paintings = representative_images(styles, config.calibration_images, model.config.style_image_size)
    vectors = {name: model.style_vector(img).tolist() for name, img in (named_styles or {}).items()}
    staging = parent / f".{out.name}.{os.getpid()}.staging"
    try:
        write_pair(model.predictor, model.transformer, staging, config, model.style_dim, paintings, photos)
        doc = {"style_dim": model.style_dim, "style_image_size": model.config.style_image_size, "styles": vectors}
        (staging / STYLES_FILE).write_text(json.dumps(doc), encoding="utf-8")
        replace_path(staging, out)
    finally:
        remove_path(staging)
    return out


__all__ = ["STYLES_FILE", "default_name", "export_arbitrary", "transformer_endpoint", "write_pair"]
