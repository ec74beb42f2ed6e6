"""The ``tfstyle`` command: parses, builds a config, makes one library call, maps errors to exit codes.

Exit codes: 0 done; 2 bad input (files, flags, weights, saved state); 3 the loss became NaN/Inf
(best image so far written); 130 interrupted (best image so far and the state written); 1 an
unexpected internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .config import (INITS, PRESETS, ApplyConfig, ConfigError, ExportConfig, StylizeConfig, TrainConfig,
                     parse_layers, parse_style_layers)

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_NONFINITE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add_config_flags(p: argparse.ArgumentParser, cls) -> None:
    """One flag per dataclass field; help, choices and defaults come from the dataclass."""
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        kw = {"dest": f.name, "default": None, "help": f"{f.metadata.get('help', '')} (default: "
              f"{_show(f.default)})"}
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if "metavar" in f.metadata:
            kw["metavar"] = f.metadata["metavar"]
        if "parse" in f.metadata:
            kw["type"] = _wrap(f.metadata["parse"])
        elif f.name == "style_layers":
            kw["type"] = _wrap(parse_style_layers)
        elif f.name == "content_layers":
            kw["type"] = _wrap(parse_layers)
        elif isinstance(f.default, bool):
            kw["action"] = argparse.BooleanOptionalAction
        elif isinstance(f.default, int):
            kw["type"] = int
        elif isinstance(f.default, float):
            kw["type"] = float
        p.add_argument(flag, **kw)


def _show(v) -> str:
    if v == ():
        return "none"
    if isinstance(v, tuple) and v and isinstance(v[0], tuple):
        return ",".join(f"{n}:{w:g}" for n, w in v)
    if isinstance(v, tuple):
        return ",".join(v)
    return str(v)


def _wrap(fn):
    def parse(text):
        try:
            return fn(text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = fn.__name__
    return parse


def _config_from(args, cls):
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name) is not None}
    preset = getattr(args, "preset", None)
    if preset is not None:  # explicit flags override the preset's values
        return cls.from_preset(preset, **given).validate()
    return cls(**given).validate()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfstyle", description="Neural image style transfer on TensorFlow / Keras.")
    parser.add_argument("--version", action="version", version=f"tfstyle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("stylize", help="optimise an image to match a content photo and a style image",
                       description="Gatys et al. image optimisation on VGG19 features.")
    s.add_argument("content", help="content image (any format Pillow reads)")
    s.add_argument("styles", nargs="+", metavar="style",
                   help="style image(s); several are blended (see --style-blend, --style-masks)")
    s.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif, .bmp)")
    s.add_argument("--preset", choices=tuple(PRESETS),
                   help="starting values of size, steps and optimizer: "
                        + "; ".join(f"{k}: {' '.join(f'{n}={v}' for n, v in d.items())}" for k, d in PRESETS.items())
                        + " (explicit flags override)")
    _add_config_flags(s, StylizeConfig)
    s.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="write an intermediate image (and the resumable state) every N steps")
    s.add_argument("--logdir", help="write TensorBoard scalars (every loss part) and images here")
    s.add_argument("--resume", action="store_true",
                   help="continue from the state saved beside OUTPUT by an interrupted run")
    s.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_stylize)
    _add_feedforward_commands(sub)
    return parser


def _add_feedforward_commands(sub) -> None:
    t = sub.add_parser("train", help="train a feed-forward (real-time) network for one style",
                       description="Johnson et al. feed-forward training on a folder of photos.")
    t.add_argument("style", help="style image")
    t.add_argument("--data", required=True, help="folder of training photos (searched recursively)")
    t.add_argument("-o", "--output", required=True, help="model folder to write")
    _add_config_flags(t, TrainConfig)
    t.add_argument("--resume", action="store_true", help="continue from the checkpoints in the model folder")
    t.add_argument("--overwrite", action="store_true", help="replace a model already in the folder")
    t.add_argument("--logdir", help="TensorBoard folder (default: MODEL_DIR/logs)")
    t.add_argument("--preview-every", type=int, default=100, metavar="N",
                   help="log preview images to TensorBoard every N steps (0: never)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)

    a = sub.add_parser("apply", help="stylise images or folders with a trained model",
                       description="Run a trained feed-forward model on files and folders, in batches.")
    a.add_argument("model", help="model folder written by tfstyle train")
    a.add_argument("images", nargs="+", help="image files and/or folders (searched recursively)")
    a.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    _add_config_flags(a, ApplyConfig)
    a.add_argument("--overwrite", action="store_true", help="replace existing output files")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=_cmd_apply)

    e = sub.add_parser("export", help="export a trained model to SavedModel or TensorFlow Lite",
                       description="Export with dynamic input sizes; TFLite runs under LiteRT.")
    e.add_argument("model", help="model folder written by tfstyle train")
    _add_config_flags(e, ExportConfig)
    e.add_argument("-o", "--output", help="output path (default: MODEL_DIR/savedmodel or "
                                          "MODEL_DIR/model_<quantize>.tflite)")
    e.add_argument("--data", help="int8: calibration photos (default: the training photos)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing output")
    e.set_defaults(func=_cmd_export)


def _say(msg: str) -> None:
    # One line, whatever a file name holds.
    msg = msg.replace("\r", "\\r").replace("\n", "\\n")
    print(f"tfstyle: {msg}", file=sys.stderr, flush=True)


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


_SIGNALLED: list[int] = []
# While True, a signal only sets _SIGNALLED and the code polls it (between optimisation steps, after
# setup): a KeyboardInterrupt raised inside TensorFlow's C++ calls or imports can surface as a
# SystemError with a traceback instead.
_POLLED = [False]


def _interrupt(signum, frame):
    _SIGNALLED.append(signum)
    if not _POLLED[0]:
        raise KeyboardInterrupt


def _check_interrupt() -> None:
    if _SIGNALLED:
        raise KeyboardInterrupt


def _interrupts_as_keyboard_interrupt() -> dict:
    """SIGINT and SIGTERM raise KeyboardInterrupt (exit 130, best image and state written) and are
    remembered: an interrupt landing inside an import can surface as another exception (Keras
    turns it into an ImportError), which then still means "interrupted". Returns the old handlers."""
    _SIGNALLED.clear()
    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            old[s] = signal.signal(s, _interrupt)
        except ValueError:  # not the main thread (main() called from a worker thread): leave it
            pass
    return old


@contextlib.contextmanager
def _signals_deferred():
    """Finish writing the final files even if Ctrl-C or SIGTERM arrives meanwhile (the run is over)."""
    try:
        old = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        old = {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _note(msg: str) -> None:
    _say(f"NOTE: {msg}")


def _intermediate_path(out: Path, step: int) -> Path:
    return out.with_name(f"{out.stem}.step{step:05d}{out.suffix}")


def _cmd_stylize(args) -> int:
    from .image import check_output_path, load_image, save_image
    from .state import fingerprint, load_state, save_state, state_path

    config = _config_from(args, StylizeConfig)
    if args.save_every < 0:
        raise ConfigError(f"--save-every must be >= 0, got {args.save_every}")
    out = check_output_path(args.output, overwrite=args.overwrite or args.resume)
    # Read the inputs before loading TensorFlow: bad files fail in a fraction of a second.
    content = load_image(args.content, notice=_note)
    styles = [load_image(p, notice=_note) for p in args.styles]
    config.blend_weights(len(styles))  # one --style-blend weight per style, else a one-line error
    if config.style_masks and len(config.style_masks) != len(styles):
        raise ConfigError(f"--style-masks has {len(config.style_masks)} masks for {len(styles)} style "
                          f"images; give one mask per style")
    init_image = None if config.init in INITS else _init_image(config.init)
    for mask in ([config.content_mask] if config.content_mask else []) + list(config.style_masks):
        load_image(mask, notice=_note)  # unreadable mask files fail here; the Stylizer checks them again
    from .features import check_layers
    from .optimize import output_shape, style_shape

    check_layers(list(config.content_layers) + [n for n, _ in config.style_layers], config.network)
    output_shape(content.shape[:2], config.size)  # a strip too thin at this --size
    for i, st in enumerate(styles):
        style_shape(st.shape[:2], round(config.size * config.style_scale), i, len(styles))
    spath = state_path(out)
    # The memory limit only changes how a scale is computed (tiled or not), not what: a run may
    # resume under another limit.
    inputs = [args.content, *args.styles, *([config.init] if init_image is not None else []),
              *([config.content_mask] if config.content_mask else []), *config.style_masks]
    fp = fingerprint(*(Path(p).read_bytes() for p in inputs), repr(dataclasses.replace(config, steps=0, memory_limit=0.0)))
    resume = load_state(spath, expect_fingerprint=fp) if args.resume else None
    if resume is not None and resume.step >= config.steps:
        raise ConfigError(f"saved state is already at step {resume.step} of {config.steps}; raise --steps")

    _quiet_tensorflow()
    _POLLED[0] = True  # from here on TensorFlow runs: poll for signals instead of raising anywhere
    from .features import resolve_weights
    from .multiscale import MultiScaleStylizer

    weights = resolve_weights(config.backbone, config.weights, config.network)
    if weights.is_random:
        _say(f"NOTE: {weights.notice}")
    # Plans scales, tiling and memory first: a run that cannot fit stops here (exit 2).
    stylizer = MultiScaleStylizer(content, styles, config, weights, init_image=init_image)
    _check_interrupt()  # an interrupt during setup: nothing written
    render = _Renderer(args, config, out, resume, fp)
    result = stylizer.run(callback=render, resume=resume, fingerprint=fp)
    with _signals_deferred():
        return _finish(args, result, render, out, spath, fp, weights)


def _finish(args, result, render, out, spath, fp, weights) -> int:
    from .image import save_image
    from .state import save_state

    render.close()
    result.state.fingerprint = fp
    if result.stop_reason == "interrupted":
        save_image(result.image, out)
        save_state(result.state, spath)
        _say(f"{result.message}; wrote the best image so far to {out}; continue with --resume")
        return EXIT_INTERRUPTED
    save_image(result.image, out)
    if result.stop_reason == "nonfinite":
        save_state(result.state, spath)
        _say(f"error: {result.message}; wrote the last good image to {out}")
        return EXIT_NONFINITE
    if spath.exists():
        spath.unlink()
    if result.stop_reason == "converged":
        _say(result.message)
    if not args.quiet:
        _say(f"wrote {out} ({result.image.shape[1]}x{result.image.shape[0]}, {result.steps} steps, "
             f"{result.timings['per_step']:.2f} s/step, {result.policy}, {weights.notice})")
    return EXIT_OK


def _init_image(path: str):
    from .image import ImageError, load_image

    try:
        return load_image(path, notice=_note)
    except ImageError as e:
        raise ConfigError(f"--init takes content, noise, style or an image file; {e}") from None


class _Renderer:
    """The CLI's progress callback: tqdm bar, intermediate images + state, TensorBoard."""

    def __init__(self, args, config, out, resume, fingerprint):
        self.args, self.config, self.out, self.fingerprint = args, config, out, fingerprint
        # The bar appears with the first step: a scale's setup can still fail (one line, no bar).
        self.bar = None
        self.writer = None
        if args.logdir:
            import tensorflow as tf

            self.writer = tf.summary.create_file_writer(args.logdir)

    def __call__(self, p) -> None:
        from .image import save_image
        from .state import save_state, state_path

        _check_interrupt()  # ends the loop between steps; the library returns the best image so far

        scale = f"{p.size}px " if getattr(p, "n_scales", 1) > 1 else ""
        self._advance(p, scale + _short_parts(p.loss, p.parts))
        every = self.args.save_every
        if every and p.step % every == 0:
            state = p.state()
            save_image(p.image, _intermediate_path(self.out, p.step))
            state.fingerprint = self.fingerprint
            save_state(state, state_path(self.out))
            if self.writer is not None:
                import tensorflow as tf

                with self.writer.as_default(step=p.step):
                    tf.summary.image("image", p.image[None], max_outputs=1)

    def _advance(self, p, postfix: str) -> None:
        """One step on the bar (with ``postfix``) and every loss part as a TensorBoard scalar."""
        if self.bar is None and not self.args.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=self.config.steps, initial=p.step - 1, unit="step", dynamic_ncols=True,
                            file=sys.stderr)
        if self.bar is not None:
            self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(1)
        if self.writer is not None:
            import tensorflow as tf

            with self.writer.as_default(step=p.step):
                tf.summary.scalar("loss/total", p.loss)
                for k, v in p.parts.items():
                    tf.summary.scalar(f"loss/{k}", v)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.flush()


def _cmd_train(args) -> int:
    from .image import load_image
    from .train import find_photos, prepare_model_dir, scan_photos

    config = _config_from(args, TrainConfig)
    if args.preview_every < 0:
        raise ConfigError(f"--preview-every must be >= 0, got {args.preview_every}")
    # Cheap checks before TensorFlow loads: bad inputs fail in a fraction of a second.
    style = load_image(args.style)
    scan_photos(find_photos(args.data))
    out = prepare_model_dir(args.output, resume=args.resume, overwrite=args.overwrite)

    _quiet_tensorflow()
    _POLLED[0] = True  # TensorFlow runs from here: signals are polled between steps
    from .features import resolve_weights
    from .train import Trainer

    weights = resolve_weights(config.backbone, config.weights)
    if weights.is_random:
        _say(f"NOTE: {weights.notice}")
    trainer = Trainer(style, args.data, out, config, weights=weights, resume=args.resume)
    _check_interrupt()  # an interrupt during setup: nothing new to save
    if trainer.unreadable:
        _say(f"skipping {len(trainer.unreadable)} unreadable photo(s), e.g. {trainer.unreadable[0]}")
    render = _TrainRenderer(args, config, trainer)
    try:
        result = trainer.run(callback=render)
    finally:
        render.close()
    skipped = len(result.unreadable)
    if skipped and not args.quiet:
        _say(f"{skipped} photo(s) could not be read and were skipped")
    if result.stop_reason == "interrupted":
        if result.steps == trainer.start_step:
            _say(f"{result.message}; nothing new to save")
        else:
            _say(f"{result.message}; saved a checkpoint and the model to {out}; continue with --resume")
        return EXIT_INTERRUPTED
    if result.stop_reason == "nonfinite":
        _say(f"error: {result.message}")
        return EXIT_NONFINITE
    if not args.quiet:
        _say(f"wrote {out} ({result.steps} steps, {result.images_per_second:.1f} images/s, "
             f"{result.replicas} replica(s), {result.policy}, {weights.notice})")
    return EXIT_OK


class _TrainRenderer(_Renderer):
    """Progress bar with ETA, TensorBoard scalars and preview images (chief only)."""

    def __init__(self, args, config, trainer):
        from tqdm import tqdm

        self.args = args
        self.bar = None if args.quiet else tqdm(total=config.steps, initial=trainer.start_step, unit="step",
                                                 dynamic_ncols=True, file=sys.stderr)
        self.writer = None
        if trainer.is_chief:
            import tensorflow as tf

            self.writer = tf.summary.create_file_writer(args.logdir or str(Path(args.output) / "logs"))

    def __call__(self, p) -> None:
        _check_interrupt()  # the trainer saves a checkpoint and returns
        self._advance(p, _short_parts(p.loss, p.parts) + f" {p.images_per_second:.1f}img/s")
        if self.writer is not None:
            import tensorflow as tf

            with self.writer.as_default(step=p.step):
                tf.summary.scalar("images_per_second", p.images_per_second)
                every = self.args.preview_every
                if every and (p.step % every == 0 or p.step == p.total_steps):
                    tf.summary.image("preview", p.preview(), step=p.step, max_outputs=4)


def _cmd_apply(args) -> int:
    from .apply import plan_outputs

    config = _config_from(args, ApplyConfig)
    suffix = "." + config.format
    plan = plan_outputs(args.images, args.output, suffix)  # missing inputs fail before TF loads
    if not args.overwrite:
        from .image import ImageError

        for _, dst, _ in plan:
            if dst.exists():
                raise ImageError(f"{dst}: already exists (pass --overwrite to replace it)")
    from .models import read_model_json

    read_model_json(args.model)
    _quiet_tensorflow()
    from tqdm import tqdm

    from .apply import StyleModel, apply_files

    model = StyleModel(args.model)
    bar = None if args.quiet else tqdm(total=len(plan), unit="image", dynamic_ncols=True, file=sys.stderr)
    try:
        result = apply_files(model, args.images, args.output, size=config.size or None,
                             batch_size=config.batch_size, suffix=suffix, overwrite=args.overwrite,
                             callback=(lambda _: bar.update(1)) if bar else None)
    finally:
        if bar is not None:
            bar.close()
    for path, why in result.skipped[:3]:
        _say(f"skipped {why}")
    if len(result.skipped) > 3:
        _say(f"skipped {len(result.skipped) - 3} more unreadable image(s)")
    if not args.quiet:
        _say(f"wrote {len(result.written)} image(s) to {args.output}")
    return EXIT_OK


def _cmd_export(args) -> int:
    from .models import read_model_json

    config = _config_from(args, ExportConfig)
    read_model_json(args.model)
    _quiet_tensorflow()
    from .export import export_model

    out = export_model(args.model, config.format, config.quantize, output=args.output, data_dir=args.data,
                       overwrite=args.overwrite, calibration_images=config.calibration_images,
                       calibration_size=config.calibration_size)
    _say(f"wrote {out}")
    return EXIT_OK


def _short_parts(loss: float, parts: dict[str, float]) -> str:
    """'loss=1.23 c=0.4 s=0.7 tv=0.1': content and style summed over layers, to fit one line."""
    c = sum(v for k, v in parts.items() if k.startswith("content/"))
    s = sum(v for k, v in parts.items() if k.startswith("style/"))
    return f"loss={loss:.4g} content={c:.3g} style={s:.3g} tv={parts.get('tv', 0.0):.3g}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfstyle`` command. Returns the exit code."""
    _POLLED[0] = False
    old_handlers = _interrupts_as_keyboard_interrupt()  # first: imports below take a while
    try:
        return _main(argv)
    finally:
        if argv is None:
            # The process exits with this code next; a late signal during interpreter shutdown
            # (seconds with TensorFlow loaded) must not turn it into a kill.
            for s in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError):
                    signal.signal(s, signal.SIG_IGN)
        else:
            for s, h in old_handlers.items():
                signal.signal(s, h)


def _main(argv) -> int:
    known: tuple = (ConfigError,)  # grows once the modules defining the others are imported
    try:
        from .export import ExportError
        from .features import BackboneError
        from .image import ImageError
        from .models import ModelError
        from .state import StateError
        from .train import DataError

        known = (ImageError, ConfigError, BackboneError, StateError, ModelError, DataError, ExportError)
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:
            return int(e.code or 0)
        return args.func(args)
    except KeyboardInterrupt:
        _say("interrupted before the run started; nothing written")
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if _SIGNALLED:
            _say("interrupted before the run started; nothing written")
            return EXIT_INTERRUPTED
        if isinstance(e, known):
            _say(f"error: {e}")
            return EXIT_USAGE
        if os.environ.get("TFSTYLE_DEBUG"):
            raise
        msg = str(e).splitlines()[0][:300] if str(e) else ""
        _say(f"internal error: {type(e).__name__}: {msg} (set TFSTYLE_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
