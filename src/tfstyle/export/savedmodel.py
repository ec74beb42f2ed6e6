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


def export_savedmodel(keras_model, out_dir: str | os.PathLike, shapes=None, endpoint=None,
                      input_signature=None) -> Path:
    """Write a SavedModel into ``out_dir``, which must not exist: a ``serve`` (and
    ``serving_default``) endpoint of any input size, or with ``shapes`` (a list of (height, width))
    one endpoint per shape of batch 1, named by :func:`fixed_endpoint`.

    ``endpoint`` and ``input_signature``: another function of the model's variables and its inputs
    for ``serve`` (default: the model's call on one :func:`input_spec` image); a model with several
    inputs (the arbitrary-style transformer) names each by its argument.
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(keras_model)
    if shapes is None:
        archive.add_endpoint("serve", endpoint or keras_model.__call__,
                             input_signature=input_signature or [input_spec()])
    for h, w in shapes or ():
        archive.add_endpoint(fixed_endpoint(h, w), keras_model.__call__,
                             input_signature=[tf.TensorSpec([1, h, w, 3], tf.float32, name="image")])
    archive.write_out(str(out_dir), verbose=False)
    return Path(out_dir)


def fixed_endpoint(height: int, width: int) -> str:
    """The endpoint (and TFLite signature) name of a fixed input shape: ``s<H>x<W>``."""
    return f"s{int(height)}x{int(width)}"


__all__ = ["default_name", "write", "export_savedmodel", "fixed_endpoint"]
