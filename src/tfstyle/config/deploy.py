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
    # LiteRT.js runs fixed shapes only: one .tflite per size, one signature per aspect (see
    # litert_shapes below and docs/browser-litert.md).
    litert_sizes: tuple[int, ...] = field(default=(256, 512), metadata=_h(
        "processing sizes (longest side, px) exported for LiteRT.js; other sizes run on TensorFlow.js "
        "(none: TensorFlow.js only)", parse=lambda text: parse_litert_sizes(text), metavar="N,N"))
    litert_aspects: tuple[str, ...] = field(default=("1:1", "4:3", "3:4", "16:9", "9:16"), metadata=_h(
        "aspect ratios (width:height) exported at each LiteRT.js size; a photo is cropped to the nearest",
        parse=lambda text: parse_litert_aspects(text), metavar="W:H,W:H"))

    def validate(self) -> "WebConfig":
        _choice("quantize", self.quantize, EXPORT_FORMATS_REGISTRY["tfjs"].quantizations)
        _positive_int("thumbnail_size", self.thumbnail_size, minimum=16)
        if self.thumbnail_size > 1024:
            raise ConfigError(f"thumbnail_size must be at most 1024, got {self.thumbnail_size}")
        _positive_int("port", self.port, minimum=0)
        if self.port > 65535:
            raise ConfigError(f"port must be at most 65535, got {self.port}")
        litert_shapes(self.litert_sizes, self.litert_aspects)  # raises on a bad size or aspect
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


# The browser runtime (LiteRT.js in tfstyle web).
# LiteRT.js refuses a tensor whose shape differs from the model's, and a model exported with
# dynamic dimensions refuses every fixed-size tensor, so the site carries fixed shapes: per style
# one .tflite per processing size, with one signature per aspect ratio (the weights stored once).
LITERT_MIN_SIDE = 16
LITERT_MAX_SIDE = 2048
LITERT_MAX_SHAPES = 64


def parse_litert_sizes(text: str) -> tuple[int, ...]:
    """``"256,512"`` -> ``(256, 512)``; ``""`` or ``"none"`` -> ``()`` (TensorFlow.js only)."""
    text = text.strip()
    if text in ("", "none"):
        return ()
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ConfigError(f"litert_sizes must be whole numbers separated by commas, got {text!r}") from None


def parse_litert_aspects(text: str) -> tuple[str, ...]:
    """``"1:1,4:3"`` -> ``("1:1", "4:3")`` (checked by :func:`litert_shapes`)."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def litert_shapes(sizes, aspects) -> dict[int, list[tuple[int, int]]]:
    """The fixed (height, width) shapes exported for LiteRT.js: per size, one per aspect "W:H", the
    longest side ``size`` and the other rounded to a multiple of 4 (the networks downsample by 4).

    Raises:
        ConfigError: a size outside 16..2048, an aspect that is not "W:H" with positive integers,
            repeats, or more than LITERT_MAX_SHAPES shapes in all.
    """
    out: dict[int, list[tuple[int, int]]] = {}
    ratios = []
    for a in aspects:
        parts = str(a).split(":")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ConfigError(f"litert_aspects must be W:H with positive whole numbers, got {a!r}")
        ratios.append((int(parts[0]), int(parts[1])))
    if sizes and not ratios:
        raise ConfigError("litert_aspects must name at least one aspect ratio")
    for size in sizes:
        if not isinstance(size, int) or isinstance(size, bool) or not LITERT_MIN_SIDE <= size <= LITERT_MAX_SIDE:
            raise ConfigError(f"litert_sizes must be integers in {LITERT_MIN_SIDE}..{LITERT_MAX_SIDE}, got {size!r}")
        if size in out:
            raise ConfigError(f"litert_sizes names {size} twice")
        shapes = []
        for w, h in ratios:
            short = max(4, int(round(size * min(w, h) / max(w, h) / 4)) * 4)
            shape = (size, short) if h >= w else (short, size)
            if shape in shapes:
                raise ConfigError(f"litert_aspects give the shape {shape[1]}x{shape[0]} twice at size {size}")
            shapes.append(shape)
        out[size] = shapes
    if sum(len(v) for v in out.values()) > LITERT_MAX_SHAPES:
        raise ConfigError(f"litert_sizes x litert_aspects must make at most {LITERT_MAX_SHAPES} shapes")
    return out
