"""``tfstyle apply``: a trained model on image files and folders, in batches."""

from __future__ import annotations

import sys

from ..config import CLUSTER_MANIFEST, AnyStyleApplyConfig, ApplyConfig, ClusterConfig
from .flags import add_config_flags, config_from
from .output import quiet_tensorflow, say
from .signals import check_interrupt


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
    c = a.add_argument_group("cluster", "the same job on a Ray cluster (pip install \"tfstyle[cluster]\")")
    c.add_argument("--cluster", metavar="auto|local|ADDRESS",
                   help="run on Ray Data: local (Ray started here), auto ($RAY_ADDRESS, else local) or the "
                        f"HOST:PORT of a running cluster's head; a {CLUSTER_MANIFEST} beside the outputs, a "
                        "rerun finishes what is missing")
    c.add_argument("--styles", metavar="PAINTINGS",
                   help="--cluster with an arbitrary-style model: a folder of paintings, one chosen per "
                        "image from --seed and the image's path")
    add_config_flags(c, ClusterConfig)
    a.set_defaults(func=run)


def run(args) -> int:
    if args.cluster is not None:
        return run_cluster(args)
    _refuse_cluster_flags(args)
    from ..feedforward.apply import check_plan, plan_outputs
    from ..feedforward.arbitrary import check_style_args
    from ..feedforward.networks import read_model_json
    from ..io.images import load_image

    config = config_from(args, ApplyConfig)
    anystyle = config_from(args, AnyStyleApplyConfig)
    suffix = "." + config.format
    plan = plan_outputs(args.images, args.output, suffix)  # missing inputs fail before TF loads
    check_plan(plan, args.overwrite)
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
    _say_skipped(result.skipped)
    if not args.quiet:
        say(f"wrote {len(result.written)} image(s) to {args.output}")
    return 0


def _refuse_cluster_flags(args) -> None:
    """The cluster's flags without --cluster: one line naming what is missing."""
    import dataclasses

    from ..config import ConfigError

    if args.styles is not None:
        from ..cluster.plan import refuse_styles
        from ..feedforward.networks import read_model_json

        refuse_styles(args.model, *read_model_json(args.model))
        raise ConfigError("--styles needs --cluster")
    for f in dataclasses.fields(ClusterConfig):
        if getattr(args, f.name) is not None:
            raise ConfigError(f"--{f.name.replace('_', '-')} needs --cluster")


def run_cluster(args) -> int:
    from ..cluster.job import run_job

    apply_config, cluster_config = config_from(args, ApplyConfig), config_from(args, ClusterConfig)
    quiet_tensorflow()
    bar = None

    def progress(finished: int, total: int) -> None:
        nonlocal bar
        check_interrupt()  # a signal that landed while a batch was being recorded
        if not args.quiet:
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="image", dynamic_ncols=True, file=sys.stderr)
            bar.update(finished - bar.n)

    # Ctrl-C raises KeyboardInterrupt wherever this process waits (this process runs no TensorFlow):
    # the library keeps the manifest and what is written, and says it was interrupted.
    try:
        result = run_job(args.model, args.images, args.output, cluster=args.cluster, apply=apply_config,
                         config=cluster_config, styles=args.styles, overwrite=args.overwrite, callback=progress)
    finally:
        if bar is not None:
            bar.close()
    _say_skipped(result.skipped)
    done = f"wrote {result.written} image(s) to {args.output}"
    if result.already:
        done += f", {result.already} already done"
    if result.skipped:
        done += f", {len(result.skipped)} unreadable skipped"
    if result.interrupted:
        say(f"interrupted: {done}; every file written is whole: run the same command again to finish")
        return 130
    if not args.quiet:
        say(f"{done} ({result.actors} actor(s) on {result.nodes} node(s)); manifest: {result.manifest}")
    return 0


def _say_skipped(skipped) -> None:
    """The first three unreadable images by name, the rest counted."""
    for _, why in skipped[:3]:
        say(f"skipped {why}")
    if len(skipped) > 3:
        say(f"skipped {len(skipped) - 3} more unreadable image(s)")
