"""``tfstyle apply``: a trained model on image files and folders, in batches."""

from __future__ import annotations

import sys

from ..config import AnyStyleApplyConfig, ApplyConfig
from .flags import add_config_flags, config_from
from .output import quiet_tensorflow, say


def add_parser(sub) -> None:
    a = sub.add_parser("apply", help="stylise images or folders with a trained model",
                       description="Run a trained feed-forward model on files and folders, in batches.")
    a.add_argument("model", help="model folder written by tfstyle train")
    a.add_argument("images", nargs="+", help="image files and/or folders (searched recursively)")
    a.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    add_config_flags(a, ApplyConfig)
    a.add_argument("--style", action="append", default=[], metavar="PAINTING",
                   help="arbitrary-style model: the style image (repeat to mix several, see --style-blend)")
    add_config_flags(a, AnyStyleApplyConfig)
    a.add_argument("--overwrite", action="store_true", help="replace existing output files")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=run)


def run(args) -> int:
    from ..feedforward.apply import plan_outputs
    from ..feedforward.arbitrary import check_style_args
    from ..feedforward.networks import read_model_json
    from ..io.images import ImageError, load_image

    config = config_from(args, ApplyConfig)
    anystyle = config_from(args, AnyStyleApplyConfig)
    suffix = "." + config.format
    plan = plan_outputs(args.images, args.output, suffix)  # missing inputs fail before TF loads
    if not args.overwrite:
        for _, dst, _ in plan:
            if dst.exists():
                raise ImageError(f"{dst}: already exists (pass --overwrite to replace it)")
    read_model_json(args.model)
    check_style_args(args.model, len(args.style), anystyle.style_blend, anystyle.strength)
    styles = [load_image(p) for p in args.style]
    quiet_tensorflow()
    from tqdm import tqdm

    from ..feedforward.apply import apply_files
    from ..feedforward.arbitrary import load_any

    model = load_any(args.model, styles, anystyle.style_blend, anystyle.strength)
    bar = None if args.quiet else tqdm(total=len(plan), unit="image", dynamic_ncols=True, file=sys.stderr)
    try:
        result = apply_files(model, args.images, args.output, size=config.size or None,
                             batch_size=config.batch_size, suffix=suffix, overwrite=args.overwrite,
                             callback=(lambda _: bar.update(1)) if bar else None)
    finally:
        if bar is not None:
            bar.close()
    for path, why in result.skipped[:3]:
        say(f"skipped {why}")
    if len(result.skipped) > 3:
        say(f"skipped {len(result.skipped) - 3} more unreadable image(s)")
    if not args.quiet:
        say(f"wrote {len(result.written)} image(s) to {args.output}")
    return 0
