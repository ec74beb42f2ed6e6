"""Settings of using a trained network: ``tfstyle apply``, ``tfstyle export`` and ``tfstyle web``."""

from __future__ import annotations

from dataclasses import dataclass, field

from .parsers import ConfigError, _choice, _h, _positive_int
from .registries import EXPORT_FORMATS, EXPORT_FORMATS_REGISTRY, QUANTIZATIONS

@dataclass(frozen=True)
class ApplyConfig:
    """Settings of applying a trained feed-forward model to images."""

    size: int = field(default=0, metadata=_h("longest side of the outputs in pixels (0: the input's size)"))
    batch_size: int = field(default=4, metadata=_h("images of equal size run together"))
    format: str = field(default="png", metadata=_h("output format", choices=("png", "jpg", "webp", "tif")))

    def validate(self) -> "ApplyConfig":
        if self.size != 0:
            _positive_int("size", self.size, minimum=16)
        _positive_int("batch_size", self.batch_size, minimum=1)
        _choice("format", self.format, ("png", "jpg", "webp", "tif"))
        return self


# tfstyle web --serve listens here only: the site is for this machine's browser, not the network.
WEB_HOST = "127.0.0.1"
# Environment variable naming a node_modules folder that holds @tensorflow/tfjs and
# @tensorflow/tfjs-backend-wasm (default: the one `npm ci` fills inside the tfstyle.web package).
TFJS_DIR_ENV = "TFSTYLE_TFJS_DIR"


@dataclass(frozen=True)
class WebConfig:
    """Settings of ``tfstyle web``: a static site that stylises photos and the webcam with TF.js."""

    # float16 by default: half the download of float32 for the same picture (parity > 60 dB in
    # the tests); TF.js computes in float32 either way.
    quantize: str = field(default="float16", metadata=_h(
        "weights of the exported models: none (float32), float16 (half the size) or uint8 (a quarter)",
        choices=EXPORT_FORMATS_REGISTRY["tfjs"].quantizations))
    thumbnail_size: int = field(default=160, metadata=_h("longest side of each style's thumbnail in pixels"))
    port: int = field(default=8000, metadata=_h(f"--serve: the port on {WEB_HOST} (0: any free port)"))

    def validate(self) -> "WebConfig":
        _choice("quantize", self.quantize, EXPORT_FORMATS_REGISTRY["tfjs"].quantizations)
        _positive_int("thumbnail_size", self.thumbnail_size, minimum=16)
        if self.thumbnail_size > 1024:
            raise ConfigError(f"thumbnail_size must be at most 1024, got {self.thumbnail_size}")
        _positive_int("port", self.port, minimum=0)
        if self.port > 65535:
            raise ConfigError(f"port must be at most 65535, got {self.port}")
        return self


@dataclass(frozen=True)
class ExportConfig:
    """Settings of exporting a trained feed-forward model."""

    format: str = field(default="tflite", metadata=_h("savedmodel, tflite or tfjs (a TensorFlow.js graph model)",
                                                      choices=EXPORT_FORMATS))
    quantize: str = field(default="none", metadata=_h("none (float32); TFLite: float16, dynamic (int8 weights) or "
                                                      "int8 (calibrated on the training photos); TF.js: float16 "
                                                      "or uint8 (weights)", choices=QUANTIZATIONS))
    calibration_images: int = field(default=32, metadata=_h("int8: photos in the representative dataset"))
    calibration_size: int = field(default=256, metadata=_h("int8: side of the calibration crops (use the "
                                                           "size the model will run at)"))

    def validate(self) -> "ExportConfig":
        _choice("format", self.format, EXPORT_FORMATS)
        _choice("quantize", self.quantize, QUANTIZATIONS)
        _positive_int("calibration_images", self.calibration_images, minimum=1)
        _positive_int("calibration_size", self.calibration_size, minimum=16)
        accepted = EXPORT_FORMATS_REGISTRY[self.format].quantizations
        if self.quantize not in accepted:
            raise ConfigError(f"--format {self.format} takes --quantize {', '.join(accepted)}, got {self.quantize!r}")
        return self
