"""TensorFlow Lite (LiteRT) export, float32 or quantised.

The model takes any input size: input shape (None, None, None, 3) (LiteRT needs
``resize_tensor_input`` then ``allocate_tensors``). Input and output are float32 RGB in [0, 1] in every
variant, including int8, whose quantise/dequantise steps sit inside the model.

Quantisation:

* ``none``: float32.
* ``float16``: weights stored as float16 (half the file), computed in float32.
* ``dynamic``: weights int8, activations quantised on the fly.
* ``int8``: weights and activations of the convolutions int8, calibrated on a representative set of
  training photos; instance-normalisation statistics stay float32 (see ``INT8_FLOAT_OPS``).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..config import EXPORT_FORMATS_REGISTRY, ConfigError
from .base import ExportError
from .savedmodel import export_savedmodel, fixed_endpoint

# TFLite ops left in float32 in an int8 model (those of instance normalisation).
INT8_FLOAT_OPS = ["MEAN", "SQUARED_DIFFERENCE", "RSQRT", "MUL", "SUB", "ADD"]
QUANTIZATIONS = EXPORT_FORMATS_REGISTRY["tflite"].quantizations


def default_name(config) -> str:
    return f"model_{config.quantize}.tflite"


def write(keras_model, out: Path, config, representative=None) -> Path:
    """Convert and write the flatbuffer to ``out``."""
    out.write_bytes(tflite_bytes(keras_model, config.quantize, representative))
    return out


def tflite_bytes(keras_model, quantize: str = "none", representative: list | None = None,
                 shapes: list[tuple[int, int]] | None = None, endpoint=None, input_signature=None) -> bytes:
    """Convert to a TFLite flatbuffer.

    The conversion goes through a SavedModel written by Keras's ExportArchive: converting a
    Keras 3 model's concrete function directly leaves its variables as READ_VARIABLE ops that
    LiteRT cannot run.

    Args:
        keras_model: the transform network (float32 policy).
        quantize: one of ``QUANTIZATIONS``.
        representative: for int8, a list of (H, W, 3) float RGB [0, 1] calibration images, or of
            ``{input name: batch}`` dicts for a model of several inputs.
        shapes: None: one signature ``serve`` of any input size. A list of (height, width): one
            signature per shape, batch 1, named ``s<H>x<W>`` (``savedmodel.fixed_endpoint``); the
            signatures share the weights, stored once. For runtimes that take fixed shapes only
            (LiteRT.js). Every input is fixed at batch 1 (``savedmodel.fixed_signature``).
        endpoint, input_signature: see :func:`tfstyle.export.savedmodel.export_savedmodel`.
    """
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ConfigError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if quantize == "int8" and not representative:
        raise ExportError("int8 needs representative images (the training photos)")
    with tempfile.TemporaryDirectory(prefix="tfstyle-export-") as tmp:
        sm = Path(tmp) / "sm"
        if shapes is None:
            export_savedmodel(keras_model, sm, endpoint=endpoint, input_signature=input_signature)
        else:
            from ..feedforward.networks import fixed_shape_ops

            with fixed_shape_ops():  # ops XNNPACK runs itself, possible now that the shapes are fixed
                export_savedmodel(keras_model, sm, shapes, endpoint=endpoint, input_signature=input_signature)
        keys = ["serve"] if shapes is None else [fixed_endpoint(h, w) for h, w in shapes]
        converter = tf.lite.TFLiteConverter.from_saved_model(str(sm), signature_keys=keys)
        if quantize == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantize == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]

            def gen():
                for a in representative:
                    yield a if isinstance(a, dict) else [np.asarray(a, np.float32)[None]]

            converter.representative_dataset = gen
            # Instance normalisation (mean, variance, rsqrt, the normalising sub/mul/add) and the
            # residual additions stay float32: fully int8 they cost several dB of PSNR against Keras
            # (bench/results/decisions.md). Convolutions, padding and resizing run in int8.
            with warnings.catch_warnings():
                # The converter calibrates with its own tf.lite.Interpreter, whose deprecation
                # notice is addressed to TensorFlow's code, not to whoever runs the export.
                warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated")
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=gen,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=INT8_FLOAT_OPS))
                return debugger.get_nondebug_quantized_model()
        return converter.convert()


__all__ = ["default_name", "write", "tflite_bytes", "INT8_FLOAT_OPS"]
