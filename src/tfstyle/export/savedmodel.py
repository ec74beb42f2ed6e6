"""TensorFlow SavedModel export: a ``serve`` (and ``serving_default``) endpoint of any input size."""

from __future__ import annotations

import os
from pathlib import Path

from .base import input_spec


def default_name(config) -> str:
    return "savedmodel"


def write(keras_model, out: Path, config, representative=None) -> Path:
    """Write the SavedModel folder ``out`` (which must not exist)."""
    return export_savedmodel(keras_model, out)


def export_savedmodel(keras_model, out_dir: str | os.PathLike, endpoint=None, input_signature=None) -> Path:
    """Write a SavedModel with a ``serve`` (and ``serving_default``) endpoint of any input size into
    ``out_dir``, which must not exist.

    ``endpoint`` and ``input_signature``: another function of the model's variables and its inputs
    (default: the model's call on one :func:`input_spec` image); a model with several inputs (the
    arbitrary-style transformer) names each by its argument.
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(keras_model)
    archive.add_endpoint("serve", endpoint or keras_model.__call__, input_signature=input_signature or [input_spec()])
    archive.write_out(str(out_dir), verbose=False)
    return Path(out_dir)


__all__ = ["default_name", "write", "export_savedmodel"]
