"""Export a trained model to a TensorFlow SavedModel or to TensorFlow Lite (LiteRT).

Both take any input size: the SavedModel's ``serve`` signature and the TFLite model have input
shape (None, None, None, 3) (batch, height, width dynamic; LiteRT needs ``resize_tensor_input``
then ``allocate_tensors``). Input and output are float32 RGB in [0, 1] in every variant, including
int8, whose quantise/dequantise steps sit inside the model.

Quantisation (TFLite):

* ``none``: float32.
* ``float16``: weights stored as float16 (half the file), computed in float32.
* ``dynamic``: weights int8, activations quantised on the fly.
* ``int8``: weights and activations of the convolutions int8, calibrated on a representative set of
  training photos; instance-normalisation statistics stay float32 (see ``INT8_FLOAT_OPS``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from . import image as imageio
from .config import EXPORT_FORMATS, QUANTIZATIONS, ConfigError


# Default side of the int8 calibration crops. Min/max calibration widens the ranges as images
# grow (more pixels, more extreme activations): calibrate near the size the model will run at.
CALIBRATION_SIZE = 256
# TFLite ops left in float32 in an int8 model (those of instance normalisation).
INT8_FLOAT_OPS = ["MEAN", "SQUARED_DIFFERENCE", "RSQRT", "MUL", "SUB", "ADD"]


class ExportError(ValueError):
    """The export cannot be done (e.g. int8 without photos). One-line message."""


def _input_spec():
    import tensorflow as tf

    return tf.TensorSpec([None, None, None, 3], tf.float32, name="image")


def export_savedmodel(keras_model, out_dir: str | os.PathLike) -> Path:
    """Write a SavedModel with a ``serve`` (and ``serving_default``) endpoint of any input size.

    The folder is written beside ``out_dir`` and renamed into place, so no half-written folder is
    left behind. ``out_dir`` must not exist.
    """
    import keras

    out = Path(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if str(out.parent) else "."))
    try:
        archive = keras.export.ExportArchive()
        archive.track(keras_model)
        archive.add_endpoint("serve", keras_model.__call__, input_signature=[_input_spec()])
        archive.write_out(str(tmp / "sm"), verbose=False)
        os.replace(tmp / "sm", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def tflite_bytes(keras_model, quantize: str = "none", representative: list[np.ndarray] | None = None) -> bytes:
    """Convert to a TFLite flatbuffer.

    The conversion goes through a SavedModel written by Keras's ExportArchive: converting a
    Keras 3 model's concrete function directly leaves its variables as READ_VARIABLE ops that
    LiteRT cannot run.

    Args:
        keras_model: the transform network (float32 policy).
        quantize: one of ``QUANTIZATIONS``.
        representative: for int8, a list of (H, W, 3) float RGB [0, 1] calibration images.
    """
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ConfigError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if quantize == "int8" and not representative:
        raise ExportError("int8 needs representative images (the training photos)")
    with tempfile.TemporaryDirectory(prefix="tfstyle-export-") as tmp:
        sm = Path(tmp) / "sm"
        export_savedmodel(keras_model, sm)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(sm), signature_keys=["serve"])
        if quantize == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantize == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]

            def gen():
                for a in representative:
                    yield [np.asarray(a, np.float32)[None]]

            converter.representative_dataset = gen
            # Instance normalisation (mean, variance, rsqrt, the normalising sub/mul/add) and the
            # residual additions stay float32: fully int8 they cost 3-5 dB (measured on briefly
            # trained light networks: 26-28 dB -> 29-33 dB PSNR against Keras). Convolutions,
            # padding and resizing run in int8.
            with warnings.catch_warnings():
                # The converter calibrates with its own tf.lite.Interpreter, whose deprecation
                # notice is addressed to TensorFlow's code, not to whoever runs the export.
                warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated")
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=gen,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=INT8_FLOAT_OPS))
                return debugger.get_nondebug_quantized_model()
        return converter.convert()


def representative_images(data_dir: str | os.PathLike, count: int = 32, size: int = 256,
                          seed: int = 0) -> list[np.ndarray]:
    """Up to ``count`` photos from ``data_dir`` (recursively), centre-cropped squares of side ``size``.

    Unreadable files are skipped. Raises ExportError if none can be read.
    """
    from .apply import centre_crops, find_images

    root = Path(data_dir)
    if not root.is_dir():
        raise ExportError(f"{root}: photo folder for int8 calibration does not exist (pass --data)")
    files = find_images(root)
    rng = np.random.default_rng(seed)
    rng.shuffle(files)
    out = centre_crops(files, count, size)
    if not out:
        raise ExportError(f"{root}: no readable photos for int8 calibration")
    return out


def default_output(model_dir: str | os.PathLike, fmt: str, quantize: str) -> Path:
    """``MODEL_DIR/savedmodel`` or ``MODEL_DIR/model_<quantize>.tflite``."""
    d = Path(model_dir)
    return d / "savedmodel" if fmt == "savedmodel" else d / f"model_{quantize}.tflite"


def export_model(model_dir: str | os.PathLike, fmt: str = "tflite", quantize: str = "none",
                 output: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                 overwrite: bool = False, calibration_images: int = 32,
                 calibration_size: int = CALIBRATION_SIZE) -> Path:
    """Export the model in ``model_dir``; returns the written path.

    Args:
        fmt: "savedmodel" or "tflite".
        quantize: TFLite quantisation (must be "none" for a SavedModel).
        output: target path (default :func:`default_output`).
        data_dir: photos for int8 calibration (default: the training photos named in model.json).
        calibration_images, calibration_size: int8: how many photos, centre-cropped squares of which side.
        overwrite: replace an existing output.

    Raises:
        ModelError, ExportError, ConfigError: one line each.
    """
    from .models import load_model_dir

    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    if quantize not in QUANTIZATIONS:
        raise ConfigError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if fmt == "savedmodel" and quantize != "none":
        raise ConfigError("--quantize applies to --format tflite only")
    out = Path(output) if output else default_output(model_dir, fmt, quantize)
    if out.exists() and not overwrite:
        raise ExportError(f"{out}: already exists (pass --overwrite to replace it)")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"{out}: folder {parent} does not exist")
    keras_model, _, meta = load_model_dir(model_dir)
    representative = None
    if quantize == "int8":
        data = data_dir or meta.get("data")
        if not data:
            raise ExportError("int8 needs calibration photos: pass --data PHOTOS_DIR")
        # Calibrate at the application size, not the training crop size: activation ranges (and
        # instance-norm statistics) shift with the image size.
        representative = representative_images(data, calibration_images, calibration_size)
    if fmt == "savedmodel":
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        return export_savedmodel(keras_model, out)
    blob = tflite_bytes(keras_model, quantize, representative)
    return imageio.atomic_write(out, lambda f: f.write(blob))
