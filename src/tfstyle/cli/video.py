"""``tfstyle video``: stylise a clip with a trained model (fast) or by optimisation per frame (best)."""

from __future__ import annotations

import sys

from ..config import ConfigError, StylizeConfig, VideoConfig
from . import signals
from .flags import add_config_flags, config_from
from .output import note, note_native_build, quiet_tensorflow, say, short_parts

EXIT_OK, EXIT_NONFINITE, EXIT_INTERRUPTED = 0, 3, 130


def add_parser(sub) -> None:
    v = sub.add_parser(
        "video", help="stylise a video clip without flicker (a trained model, or optimisation per frame)",
        description="Stylise a video file, a folder of frames or an image sequence (e.g. 'shots/%%05d.png'). "
                    "With --model: a trained network on every frame (fast), blended with the previous output "
                    "along the optical flow (--blend). With a style image: image optimisation per frame, "
                    "each frame starting from the previous output warped by optical flow, with a temporal "
                    "loss (Ruder et al. 2016); the network, weight, layer and loss flags are those of stylize.")
    v.add_argument("input", help="video file (anything FFmpeg decodes), folder of frames or image sequence")
    v.add_argument("style", nargs="*", help="style image(s) for the optimisation path")
    v.add_argument("-o", "--output", required=True,
                   help="output video (.mp4, .mov, .mkv) or a folder of PNG frames (a path ending in /)")
    v.add_argument("--model", help="model folder written by tfstyle train (the fast path)")
    v.add_argument("--style", dest="model_style", action="append", default=[], metavar="PAINTING",
                   help="with an arbitrary-style --model: the style image (repeat to mix, see --style-blend)")
    v.add_argument("--strength", type=float, default=None,
                   help="with an arbitrary-style --model: 1 the painting's style, 0 the frame's own (default: 1)")
    add_config_flags(v, StylizeConfig, helps={"size": (
        "longest side of the output frames in pixels (default: the clip's own size; with a style image "
        f"at most {StylizeConfig.size}, never enlarged)")})
    add_config_flags(v, VideoConfig)
    v.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from the frames it kept (OUT.mp4.tfstyle-frames/)")
    v.add_argument("--overwrite", action="store_true",
                   help="replace OUTPUT, and discard the frames of an interrupted run")
    v.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=run)


_IMAGE_ONLY = ("content_mask", "style_masks", "tile_size", "memory_limit")


def run(args) -> int:
    from ..feedforward.networks import read_model_json
    from ..io.images import load_image
    from ..video.codecs import FrameFolder, check_output, probe, require_av, require_cv2
    from ..video.pipelines import frame_shape, frame_size, prepare_store, store_path, video_fingerprint

    config = config_from(args, StylizeConfig)
    video = config_from(args, VideoConfig)
    if args.model and args.style:
        raise ConfigError("give --model or style image(s), not both (an arbitrary-style model takes --style)")
    if (args.model_style or args.strength is not None) and not args.model:
        raise ConfigError("--style and --strength need an arbitrary-style --model")
    if not args.model and not args.style:
        raise ConfigError("give --model MODEL_DIR (fast) or a style image (optimisation)")
    for name in _IMAGE_ONLY:
        if getattr(args, name) is not None:
            raise ConfigError(f"--{name.replace('_', '-')} is not supported for video")
    if args.scales is not None and args.scales != "auto":
        raise ConfigError("--scales is not supported for video (each frame runs at one scale)")
    require_av()
    require_cv2()
    # Every check that needs no TensorFlow first: bad input fails in a fraction of a second.
    info = probe(args.input, fps=video.fps)
    out, as_frames = check_output(args.output, overwrite=args.overwrite or args.resume)
    # An explicit --size does what it says; by default the frames keep the clip's size (never enlarged
    # on the optimisation path, where --size's default is a cost limit).
    size = frame_size(info, args.size, bool(args.model), config.size)
    config = config.replace(size=size)
    hw = frame_shape(info, size, as_frames)
    styles = []
    anystyle, kind = None, None
    if args.model:
        from ..config import AnyStyleApplyConfig
        from ..feedforward.arbitrary import check_style_args

        read_model_json(args.model)
        anystyle = AnyStyleApplyConfig(strength=1.0 if args.strength is None else args.strength,
                                       style_blend=config.style_blend).validate()
        kind = check_style_args(args.model, len(args.model_style), anystyle.style_blend, anystyle.strength)
        painting = [load_image(p, notice=note) for p in args.model_style]
    else:
        from .stylize import check_inputs

        styles = [load_image(p, notice=note) for p in args.style]
        config.blend_weights(len(styles))
        check_inputs(config, _Shape(info), styles)
    style = (styles if len(styles) > 1 else styles[0]) if styles else None
    # The frames of an interrupted run: resumed, refused or (with --overwrite) discarded, all before
    # TensorFlow loads; an arbitrary-style model's frames depend on its style vector, so its store is
    # checked once the model has computed it.
    arbitrary = kind == "arbitrary"
    if not arbitrary:
        fp = video_fingerprint(info, hw, args.model, style, config, video)
        prepare_store(FrameFolder(out if as_frames else store_path(out)), fp, args.resume, args.overwrite, as_frames)

    quiet_tensorflow()
    signals.start_polling()
    from ..video.pipelines import stylize_video

    weights = model = None
    if args.model:
        from ..feedforward.arbitrary import load_any

        model = load_any(args.model, painting, anystyle.style_blend, anystyle.strength)
        if arbitrary:
            fp = video_fingerprint(info, hw, args.model, None, config, video, model.fingerprint)
            prepare_store(FrameFolder(out if as_frames else store_path(out)), fp, args.resume, args.overwrite,
                          as_frames)
    else:
        from ..backbones.weights import resolve_weights

        weights = resolve_weights(config.backbone, config.weights, config.network)
        if weights.is_random:
            note(weights.notice)
        note_native_build(config)
    signals.check_interrupt()
    render = _Renderer(args, info.frames, 0 if args.model else config.steps)
    try:
        result = stylize_video(info.path if info.kind == "video" else args.input, args.output, model=model,
                               style=style,
                               config=config, video=video, callback=render, resume=args.resume,
                               overwrite=args.overwrite, weights=weights, info=info,
                               model_dir=args.model, size=size)
    finally:
        render.close()
    if result.stop_reason == "interrupted":
        say(f"{result.message}; kept the finished frames in {result.store}; continue with --resume")
        return EXIT_INTERRUPTED
    if result.stop_reason == "nonfinite":
        say(f"error: {result.message}; kept the finished frames in {result.store}")
        return EXIT_NONFINITE
    if not args.quiet:
        h, w = result.shape
        new = result.frames - result.resumed
        rate = f", {new / result.seconds:.2f} frames/s" if new and result.seconds > 0 else ""
        say(f"wrote {result.output} ({result.frames} frames, {w}x{h}{rate})")
    return EXIT_OK


class _Shape:
    """Stands in for the content image in :func:`tfstyle.cli.stylize.check_inputs` (only its shape)."""

    def __init__(self, info):
        self.shape = (info.height, info.width, 3)


class _Renderer:
    """A tqdm bar with ETA, counted in frames (fractions of a frame during an optimised frame's steps)."""

    def __init__(self, args, frames: int, steps: int):
        self.quiet, self.frames, self.steps = args.quiet, frames, steps
        self.bar = None

    def __call__(self, p) -> None:
        signals.check_interrupt()  # ends the loop between frames or steps; finished frames are kept
        if self.quiet or (self.steps and not p.step):
            return
        done = p.frame + p.step / p.steps if p.steps else float(p.frame)
        if self.bar is None:
            from tqdm import tqdm

            # From the first progress on: a resumed run starts where it stopped, so the ETA is right.
            first = p.frame if p.steps else p.frame - 1
            self.bar = tqdm(total=self.frames, initial=first, unit="frame", dynamic_ncols=True, file=sys.stderr,
                            bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
                            if self.steps else None)
        if p.steps:
            parts = short_parts(p.loss, p.parts)
            if "temporal" in p.parts:
                parts += f" temporal={p.parts['temporal']:.3g}"
            self.bar.set_postfix_str(f"frame {p.frame + 1} step {p.step}/{p.steps} {parts}", refresh=False)
        self.bar.update(max(0.0, done - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
