"""Exporting a trained feed-forward model: one module per format, chosen through the registry.

``tfstyle.config.EXPORT_FORMATS_REGISTRY`` names each format's module and the ``--quantize`` values
it takes. A format module has two functions:

* ``default_name(config) -> str``: the output's name inside the model folder;
* ``write(keras_model, out, config, representative) -> Path``: write ``out`` (a path that does not
  exist yet; a file or a folder), with ``representative`` the calibration photos where
  ``config.quantize`` asks for them.

:func:`export_model` checks the request, loads the model folder, has the format write into a staging
path beside the output and renames it into place, so an interrupted or failed export never leaves a
half-written output, and an existing output is only replaced by a complete new one.

Every export takes any batch, height and width of float32 RGB in [0, 1] and returns the same.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ..config import EXPORT_FORMATS_REGISTRY, ExportConfig
from ..io.outputs import check_output
from .base import ExportError, remove_path, replace_path, representative_images

# Quantisations that calibrate on photos.
CALIBRATED = ("int8",)


def default_output(model_dir: str | os.PathLike, fmt: str, quantize: str) -> Path:
    """Where ``fmt`` is written by default: ``MODEL_DIR/savedmodel``, ``MODEL_DIR/model_<quantize>.tflite``..."""
    config = ExportConfig(format=fmt, quantize=quantize).validate()
    return Path(model_dir) / _module(fmt).default_name(config)


def _module(fmt: str):
    return importlib.import_module(EXPORT_FORMATS_REGISTRY[fmt].module)


def export_model(model_dir: str | os.PathLike, fmt: str = "tflite", quantize: str = "none",
                 output: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                 overwrite: bool = False, calibration_images: int | None = None,
                 calibration_size: int | None = None, named_styles: dict | None = None) -> Path:
    """Export the model in ``model_dir``; returns the written path.

    Args:
        fmt: a format of ``EXPORT_FORMATS_REGISTRY`` ("savedmodel", "tflite", ...).
        quantize: one of the format's quantisations.
        output: target path (default :func:`default_output`).
        data_dir: photos for int8 calibration (default: the training photos named in model.json).
        calibration_images, calibration_size: int8: how many photos, centre-cropped squares of which
            side (defaults: ``ExportConfig``'s).
        overwrite: replace an existing output.
        named_styles: an arbitrary-style model only: ``{name: (H, W, 3) image}`` whose style vectors are
            written beside the two models (``tfstyle.export.arbitrary``).

    Raises:
        ModelError, ExportError, ConfigError: one line each.
    """
    from ..feedforward.networks import KIND_ARBITRARY, load_model_dir, model_kind

    defaults = ExportConfig()
    config = ExportConfig(format=fmt, quantize=quantize,
                          calibration_images=calibration_images or defaults.calibration_images,
                          calibration_size=calibration_size or defaults.calibration_size).validate()
    if model_kind(model_dir) == KIND_ARBITRARY:
        from .arbitrary import export_arbitrary

        return export_arbitrary(model_dir, config, output, data_dir, overwrite, named_styles)
    if named_styles:
        raise ExportError(f"{model_dir}: a model for one style has no style vectors (--named-style needs an "
                          f"arbitrary-style model)")
    module = _module(fmt)
    out = Path(output) if output else Path(model_dir) / module.default_name(config)
    check_output(out, overwrite, ExportError)
    parent = out.parent if str(out.parent) else Path(".")
    keras_model, _, meta = load_model_dir(model_dir)
    representative = None
    if config.quantize in CALIBRATED:
        data = data_dir or meta.get("data")
        if not data:
            raise ExportError(f"{config.quantize} needs calibration photos: pass --data PHOTOS_DIR")
        # Calibrate at the application size, not the training crop size: activation ranges (and
        # instance-norm statistics) shift with the image size.
        representative = representative_images(data, config.calibration_images, config.calibration_size)
    staging = parent / f".{out.name}.{os.getpid()}.staging"
    try:
        module.write(keras_model, staging, config, representative)
        replace_path(staging, out)
    finally:
        remove_path(staging)
    return out


__all__ = ["export_model", "default_output", "ExportError"]
