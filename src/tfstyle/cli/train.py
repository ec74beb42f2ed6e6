"""``tfstyle train``: a feed-forward network for one style, on a folder of photos."""

from __future__ import annotations

from pathlib import Path

from ..config import PREVIEW_EVERY, ArbitraryConfig, ConfigError, TrainConfig
from . import signals
from .flags import add_config_flags, config_from
from .output import StepRenderer, note, note_native_build, quiet_tensorflow, say, short_parts

EXIT_OK, EXIT_NONFINITE, EXIT_INTERRUPTED = 0, 3, 130


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a feed-forward (real-time) network for one style or for any style",
                       description="Johnson et al. feed-forward training on a folder of photos; with --styles, "
                                   "one network for any painting (Ghiasi et al. 2017).")
    t.add_argument("style", nargs="?", help="style image (or --styles)")
    t.add_argument("--styles", metavar="PAINTINGS",
                   help="folder of paintings (searched recursively): train one arbitrary-style model for all")
    t.add_argument("--data", required=True, help="folder of training photos (searched recursively)")
    t.add_argument("-o", "--output", required=True, help="model folder to write")
    add_config_flags(t, TrainConfig)
    add_config_flags(t, ArbitraryConfig)
    t.add_argument("--resume", action="store_true", help="continue from the checkpoints in the model folder")
    t.add_argument("--overwrite", action="store_true", help="replace a model already in the folder")
    t.add_argument("--logdir", help="TensorBoard folder (default: MODEL_DIR/logs)")
    t.add_argument("--preview-every", type=int, default=PREVIEW_EVERY, metavar="N",
                   help="log preview images to TensorBoard every N steps (0: never)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=run)


def run(args) -> int:
    from ..backbones import get
    from ..feedforward.data import find_photos, scan_photos
    from ..feedforward.train import prepare_model_dir
    from ..io.images import load_image

    config = config_from(args, TrainConfig)
    arbitrary = config_from(args, ArbitraryConfig)
    if args.preview_every < 0:
        raise ConfigError(f"--preview-every must be >= 0, got {args.preview_every}")
    if (args.style is None) == (args.styles is None):
        raise ConfigError("give either a style image or --styles PAINTINGS (a folder), not both" if args.style
                          else "give a style image, or --styles PAINTINGS (a folder) for an arbitrary-style model")
    # Cheap checks before TensorFlow loads: bad inputs fail in a fraction of a second.
    get(config.network).check_settings(config)
    if args.styles is not None:
        return _run_arbitrary(args, config, arbitrary)
    style = load_image(args.style)
    scan_photos(find_photos(args.data))
    out = prepare_model_dir(args.output, resume=args.resume, overwrite=args.overwrite)

    quiet_tensorflow()
    signals.start_polling()
    from ..feedforward.train import Trainer

    weights = _loss_weights(config)
    trainer = Trainer(style, args.data, out, config, weights=weights, resume=args.resume)
    return _train(args, config, trainer, out, weights)


def _loss_weights(config):
    """The loss network's weights, the weight-free fallback said in one line, and the native build's
    note (TensorFlow is loaded by then)."""
    from ..backbones.weights import resolve_weights

    weights = resolve_weights(config.backbone, config.weights, config.network)
    if weights.is_random:
        note(weights.notice)
    note_native_build(config)
    return weights


def _run_arbitrary(args, config, arbitrary) -> int:
    from ..backbones import get
    from ..feedforward.arbitrary_train import describe_run, find_styles, prepare_arbitrary_dir
    from ..feedforward.data import find_photos, scan_photos

    if arbitrary.predictor != "auto":
        get(arbitrary.predictor).check_layers([arbitrary.cut])
    find_styles(args.styles)
    scan_photos(find_photos(args.data))
    out = prepare_arbitrary_dir(args.output, resume=args.resume, overwrite=args.overwrite)
    quiet_tensorflow()
    signals.start_polling()
    from ..feedforward.arbitrary_train import ArbitraryTrainer

    weights = _loss_weights(config)
    trainer = ArbitraryTrainer(args.styles, args.data, out, config, arbitrary, weights=weights, resume=args.resume)
    if trainer.predictor_weights.is_random or trainer.predictor_choice:
        note(trainer.predictor_notice)
    if not args.quiet:
        say(describe_run(trainer))
    return _train(args, config, trainer, out, weights)


def _train(args, config, trainer, out, weights) -> int:
    signals.check_interrupt()  # an interrupt during setup: nothing new to save
    if trainer.unreadable:
        say(f"skipping {len(trainer.unreadable)} unreadable photo(s), e.g. {trainer.unreadable[0]}")
    render = _TrainRenderer(args, config, trainer)
    try:
        result = trainer.run(callback=render)
    finally:
        render.close()
    skipped = len(result.unreadable)
    if skipped and not args.quiet:
        say(f"{skipped} photo(s) could not be read and were skipped")
    if result.stop_reason == "interrupted":
        if result.steps == trainer.start_step:
            say(f"{result.message}; nothing new to save")
        else:
            say(f"{result.message}; saved a checkpoint and the model to {out}; continue with --resume")
        return EXIT_INTERRUPTED
    if result.stop_reason == "nonfinite":
        say(f"error: {result.message}")
        return EXIT_NONFINITE
    if not args.quiet:
        say(f"wrote {out} ({result.steps} steps, {result.images_per_second:.1f} images/s, "
            f"{result.replicas} replica(s), {result.policy}, {weights.notice})")
    return EXIT_OK


class _TrainRenderer(StepRenderer):
    """Progress bar with ETA, TensorBoard scalars and preview images (chief only)."""

    def __init__(self, args, config, trainer):
        logdir = (args.logdir or str(Path(args.output) / "logs")) if trainer.is_chief else None
        super().__init__(config.steps, args.quiet, logdir)
        self.args = args

    def __call__(self, p) -> None:
        self.advance(p, short_parts(p.loss, p.parts) + f" {p.images_per_second:.1f}img/s")
        if self.writer is not None:
            import tensorflow as tf

            with self.writer.as_default(step=p.step):
                tf.summary.scalar("images_per_second", p.images_per_second)
                every = self.args.preview_every
                if every and (p.step % every == 0 or p.step == p.total_steps):
                    tf.summary.image("preview", p.preview(), step=p.step, max_outputs=4)
