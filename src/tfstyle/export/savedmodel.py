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
    (default: the model's call on one :func:`input_spec` image); a model with several inputs (the
    arbitrary-style transformer) names each by its argument. With ``shapes``, each endpoint takes
    ``input_signature`` fixed by :func:`fixed_signature`.
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(keras_model)
    signature = input_signature or [input_spec()]
    if shapes is None:
        archive.add_endpoint("serve", endpoint or keras_model.__call__, input_signature=signature)
    for h, w in shapes or ():
        archive.add_endpoint(fixed_endpoint(h, w), endpoint or keras_model.__call__,
                             input_signature=fixed_signature(signature, h, w))
    archive.write_out(str(out_dir), verbose=False)
    return Path(out_dir)


def fixed_signature(input_signature, height: int, width: int) -> list:
    """``input_signature`` at batch 1, its image (the spec named ``image``) at ``height`` x ``width``:
    [image (1, H, W, 3)] for a per-style network, [image (1, H, W, 3), style (1, D)] for the
    arbitrary-style transformer."""
    import tensorflow as tf

    return [tf.TensorSpec([1, height, width, 3] if s.name == "image" else [1, *s.shape[1:]], s.dtype, name=s.name)
            for s in input_signature]


def fixed_endpoint(height: int, width: int) -> str:
    """The endpoint (and TFLite signature) name of a fixed input shape: ``s<H>x<W>``."""
    return f"s{int(height)}x{int(width)}"


__all__ = ["default_name", "write", "export_savedmodel", "fixed_endpoint", "fixed_signature"]
