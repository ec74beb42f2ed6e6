"""The ``tfstyle`` command: parses, builds a config, makes one library call, maps errors to exit codes.

Exit codes: 0 done; 2 bad input (files, flags, weights, saved state); 3 the loss became NaN/Inf
(best image so far written); 130 interrupted (best image so far and the state written); 1 an
unexpected internal error.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, StylizeConfig, parse_layers, parse_style_layers

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
        if f.name == "style_layers":
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
    return cls(**given).validate()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfstyle", description="Neural image style transfer on TensorFlow / Keras.")
    parser.add_argument("--version", action="version", version=f"tfstyle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("stylize", help="optimise an image to match a content photo and a style image",
                       description="Gatys et al. image optimisation on VGG19 features.")
    s.add_argument("content", help="content image (any format Pillow reads)")
    s.add_argument("style", help="style image")
    s.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp, .tif, .bmp)")
    _add_config_flags(s, StylizeConfig)
    s.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="write an intermediate image (and the resumable state) every N steps")
    s.add_argument("--logdir", help="write TensorBoard scalars (every loss part) and images here")
    s.add_argument("--resume", action="store_true",
                   help="continue from the state saved beside OUTPUT by an interrupted run")
    s.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_stylize)
    return parser


def _say(msg: str) -> None:
    print(f"tfstyle: {msg}", file=sys.stderr, flush=True)


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def _sigterm_as_interrupt() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


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
    content = load_image(args.content)
    style = load_image(args.style)
    spath = state_path(out)
    # The memory limit only changes how a scale is computed (tiled or not), not what: a run may
    # resume under another limit.
    fp = fingerprint(Path(args.content).read_bytes(), Path(args.style).read_bytes(),
                     repr(dataclasses.replace(config, steps=0, memory_limit=0.0)))
    resume = load_state(spath, expect_fingerprint=fp) if args.resume else None
    if resume is not None and resume.step >= config.steps:
        raise ConfigError(f"saved state is already at step {resume.step} of {config.steps}; raise --steps")

    _quiet_tensorflow()
    _sigterm_as_interrupt()
    from .features import resolve_weights
    from .multiscale import MultiScaleStylizer

    weights = resolve_weights(config.backbone, config.weights)
    if weights.is_random:
        _say(f"NOTE: {weights.notice}")
    # Plans scales, tiling and memory first: a run that cannot fit stops here (exit 2).
    stylizer = MultiScaleStylizer(content, style, config, weights)
    render = _Renderer(args, config, out, resume, fp)
    result = stylizer.run(callback=render, resume=resume, fingerprint=fp)
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


class _Renderer:
    """The CLI's progress callback: tqdm bar, intermediate images + state, TensorBoard."""

    def __init__(self, args, config, out, resume, fingerprint):
        from tqdm import tqdm

        self.args, self.config, self.out, self.fingerprint = args, config, out, fingerprint
        start = resume.step if resume else 0
        self.bar = None if args.quiet else tqdm(total=config.steps, initial=start, unit="step",
                                                 dynamic_ncols=True, file=sys.stderr)
        self.writer = None
        if args.logdir:
            import tensorflow as tf

            self.writer = tf.summary.create_file_writer(args.logdir)

    def __call__(self, p) -> None:
        from .image import save_image
        from .state import save_state, state_path

        if self.bar is not None:
            scale = f"{p.size}px " if getattr(p, "n_scales", 1) > 1 else ""
            self.bar.set_postfix_str(scale + _short_parts(p.loss, p.parts), refresh=False)
            self.bar.update(1)
        if self.writer is not None:
            import tensorflow as tf

            with self.writer.as_default(step=p.step):
                tf.summary.scalar("loss/total", p.loss)
                for k, v in p.parts.items():
                    tf.summary.scalar(f"loss/{k}", v)
        every = self.args.save_every
        if every and p.step % every == 0:
            state = p.state()
            save_image(state.image, _intermediate_path(self.out, p.step))
            state.fingerprint = self.fingerprint
            save_state(state, state_path(self.out))
            if self.writer is not None:
                import tensorflow as tf

                with self.writer.as_default(step=p.step):
                    tf.summary.image("image", state.image[None], max_outputs=1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.flush()


def _short_parts(loss: float, parts: dict[str, float]) -> str:
    """'loss=1.23 c=0.4 s=0.7 tv=0.1': content and style summed over layers, to fit one line."""
    c = sum(v for k, v in parts.items() if k.startswith("content/"))
    s = sum(v for k, v in parts.items() if k.startswith("style/"))
    return f"loss={loss:.4g} content={c:.3g} style={s:.3g} tv={parts.get('tv', 0.0):.3g}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfstyle`` command. Returns the exit code."""
    from .image import ImageError
    from .state import StateError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        from .features import BackboneError
    except ImportError:  # pragma: no cover
        BackboneError = ConfigError
    try:
        return args.func(args)
    except (ImageError, ConfigError, BackboneError, StateError) as e:
        _say(f"error: {e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted before the run started; nothing written")
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if os.environ.get("TFSTYLE_DEBUG"):
            raise
        msg = str(e).splitlines()[0][:300] if str(e) else ""
        _say(f"internal error: {type(e).__name__}: {msg} (set TFSTYLE_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
