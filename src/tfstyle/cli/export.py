"""``tfstyle export``: a trained model to another runtime (one module per format in tfstyle.export)."""

from __future__ import annotations

from pathlib import Path

from ..config import EXPORT_FORMATS_REGISTRY, ExportConfig
from .flags import add_config_flags, config_from
from .output import quiet_tensorflow, say


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="export a trained model (" + ", ".join(EXPORT_FORMATS_REGISTRY) + ")",
                       description="Export with dynamic input sizes: float32 RGB [0, 1] in and out.")
    e.add_argument("model", help="model folder written by tfstyle train")
    add_config_flags(e, ExportConfig)
    e.add_argument("-o", "--output", help="output path (default: inside MODEL_DIR, e.g. MODEL_DIR/savedmodel, "
                                          "MODEL_DIR/model_<quantize>.tflite or MODEL_DIR/tfjs_<quantize>)")
    e.add_argument("--data", help="int8: calibration photos (default: the training photos)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing output")
    e.add_argument("--named-style", action="append", default=[], metavar="[NAME=]PAINTING",
                   help="arbitrary-style model: write this painting's style vector into the export's "
                        "styles.json (name: the file's stem unless given); repeatable")
    e.set_defaults(func=run)


def run(args) -> int:
    from ..feedforward.networks import read_model_json

    from ..io.images import load_image

    config = config_from(args, ExportConfig)
    read_model_json(args.model)
    named = {}
    for item in args.named_style:
        name, _, path = item.rpartition("=") if "=" in item else (Path(item).stem, "", item)
        named[name or Path(path).stem] = load_image(path)
    quiet_tensorflow()
    from ..export import export_model

    out = export_model(args.model, config.format, config.quantize, output=args.output, data_dir=args.data,
                       overwrite=args.overwrite, calibration_images=config.calibration_images,
                       calibration_size=config.calibration_size, named_styles=named)
    say(f"wrote {out}")
    return 0
