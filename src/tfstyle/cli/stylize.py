"""``tfstyle stylize``: image optimisation (Gatys et al.) of one content image and one or more styles."""

from __future__ import annotations

from pathlib import Path

from ..config import INITS, PRESETS, SAVE_EVERY, ConfigError, StylizeConfig
from . import signals
from .flags import add_config_flags, config_from
from .output import (StepRenderer, note, note_native_build, outputs_closed, quiet_tensorflow, say,
                     short_parts)

EXIT_OK, EXIT_NONFINITE, EXIT_INTERRUPTED = 0, 3, 130


def add_parser(sub) -> None:
    s = sub.add_parser("stylize", help="optimise an image to match a content photo and a style image",
                       description="Gatys et al. image optimisation on the features of a pretrained network "
                                   "(VGG19 by default).")
    s.add_argument("content", help="content image (any format Pillow reads)")
    s.add_argument("styles", nargs="+", metavar="style",
                   help="style image(s); several are blended (see --style-blend, --style-masks)")
    s.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif, .bmp)")
    s.add_argument("--preset", choices=tuple(PRESETS),
                   help="starting values of size, steps and optimizer: "
                        + "; ".join(f"{k}: {' '.join(f'{n}={v}' for n, v in d.items())}" for k, d in PRESETS.items())
                        + " (explicit flags override)")
    add_config_flags(s, StylizeConfig)
    s.add_argument("--save-every", type=int, default=SAVE_EVERY, metavar="N",
                   help="write an intermediate image (and the resumable state) every N steps")
    s.add_argument("--logdir", help="write TensorBoard scalars (every loss part) and images here")
    s.add_argument("--resume", action="store_true",
                   help="continue from the state saved beside OUTPUT by an interrupted run")
    s.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=run)


def check_inputs(config: StylizeConfig, content, styles) -> None:
    """Checks of layers and sizes that need no TensorFlow: bad flags fail in a fraction of a second."""
    from ..backbones import get
    from ..io.images import output_shape, style_shape

    get(config.network).check_settings(config)
    output_shape(content.shape[:2], config.size)  # a strip too thin at this --size
    for i, st in enumerate(styles):
        style_shape(st.shape[:2], round(config.size * config.style_scale), i, len(styles))


def run(args) -> int:
    from ..io.images import check_output_path, load_image
    from ..io.state import load_state, run_fingerprint, state_path

    config = config_from(args, StylizeConfig)
    if args.save_every < 0:
        raise ConfigError(f"--save-every must be >= 0, got {args.save_every}")
    out = check_output_path(args.output, overwrite=args.overwrite or args.resume)
    # Read the inputs before loading TensorFlow: bad files fail in a fraction of a second.
    content = load_image(args.content, notice=note)
    styles = [load_image(p, notice=note) for p in args.styles]
    config.blend_weights(len(styles))  # one --style-blend weight per style, else a one-line error
    if config.style_masks and len(config.style_masks) != len(styles):
        raise ConfigError(f"--style-masks has {len(config.style_masks)} masks for {len(styles)} style "
                          f"images; give one mask per style")
    init_image = None if config.init in INITS else _init_image(config.init)
    for mask in ([config.content_mask] if config.content_mask else []) + list(config.style_masks):
        load_image(mask, notice=note)  # unreadable mask files fail here; the Stylizer checks them again
    check_inputs(config, content, styles)
    spath = state_path(out)
    fp = run_fingerprint(config, content, styles, init_image)
    resume = load_state(spath, expect_fingerprint=fp) if args.resume else None
    if resume is not None and resume.step >= config.steps:
        raise ConfigError(f"saved state is already at step {resume.step} of {config.steps}; raise --steps")

    quiet_tensorflow()
    signals.start_polling()
    from ..backbones.weights import resolve_weights
    from ..optimize.multiscale import MultiScaleStylizer

    weights = resolve_weights(config.backbone, config.weights, config.network)
    note_native_build(config)
    # Plans scales, tiling and memory first: a run that cannot fit stops here (exit 2), in one line.
    stylizer = MultiScaleStylizer(content, styles, config, weights, init_image=init_image)
    if weights.is_random:
        note(weights.notice)
    signals.check_interrupt()  # an interrupt during setup: nothing written
    render = _Renderer(args, config, out)
    result = stylizer.run(callback=render, resume=resume)
    with signals.deferred():
        return _finish(args, result, render, out, spath, weights)


def _finish(args, result, render, out, spath, weights) -> int:
    from ..io.images import save_image
    from ..io.state import save_state

    render.close()
    if result.stop_reason == "interrupted":
        save_image(result.image, out)
        save_state(result.state, spath)
        say(f"{result.message}; wrote the best image so far to {out}; continue with --resume")
        return EXIT_INTERRUPTED
    save_image(result.image, out)
    if result.stop_reason == "nonfinite":
        save_state(result.state, spath)
        say(f"error: {result.message}; wrote the last good image to {out}")
        return EXIT_NONFINITE
    if spath.exists():
        spath.unlink()
    if result.stop_reason == "converged":
        say(result.message)
    total = result.history.get("total", [])
    if len(total) > 1 and min(total[1:]) >= total[0]:
        note(f"the loss never fell below its starting value ({total[0]:.4g}), so the output is the starting "
             f"image; try a lower --lr, --smoothing none or another --network")
    if not args.quiet:
        facts = [f"{result.image.shape[1]}x{result.image.shape[0]}", f"{result.steps} steps",
                 f"{result.timings['per_step']:.2f} s/step", result.policy, result.convolutions, weights.notice]
        say(f"wrote {out} ({', '.join(f for f in facts if f)})")
    outputs_closed()
    return EXIT_OK


def _init_image(path: str):
    from ..io.images import ImageError, load_image

    try:
        return load_image(path, notice=note)
    except ImageError as e:
        raise ConfigError(f"--init takes content, noise, style or an image file; {e}") from None


def intermediate_path(out: Path, step: int) -> Path:
    return out.with_name(f"{out.stem}.step{step:05d}{out.suffix}")


class _Renderer(StepRenderer):
    """The progress callback: the bar, TensorBoard, intermediate images and states."""

    def __init__(self, args, config, out):
        # The bar appears with the first step: a scale's setup can still fail (one line, no bar).
        super().__init__(config.steps, args.quiet, args.logdir)
        self.args, self.out = args, out

    def __call__(self, p) -> None:
        from ..io.images import save_image
        from ..io.state import save_state, state_path

        scale = f"{p.size}px " if getattr(p, "n_scales", 1) > 1 else ""
        self.advance(p, scale + short_parts(p.loss, p.parts))
        every = self.args.save_every
        if every and p.step % every == 0:
            save_image(p.image, intermediate_path(self.out, p.step))
            save_state(p.state(), state_path(self.out))
            if self.writer is not None:
                import tensorflow as tf

                with self.writer.as_default(step=p.step):
                    tf.summary.image("image", p.image[None], max_outputs=1)
