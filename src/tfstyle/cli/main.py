"""The ``tfstyle`` command: parses, builds a config, makes one library call, maps errors to exit codes.

Each subcommand is one module of this package (``add_parser(sub)`` and ``run(args) -> int``), listed
in :data:`COMMANDS`.

Exit codes: 0 done; 2 bad input (files, flags, weights, saved state, model folders); 3 the loss
became NaN/Inf (best result so far written); 130 interrupted (best result so far and the state
written); 1 an unexpected internal error.
"""

from __future__ import annotations

import importlib
import os

from .. import __version__
from ..config import ConfigError
from . import signals
from .flags import Parser
from .output import exit_if_closed, say

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_NONFINITE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
COMMANDS = ("stylize", "train", "apply", "export", "video", "web")


def build_parser() -> Parser:
    parser = Parser(prog="tfstyle", description="Neural image style transfer on TensorFlow / Keras.")
    parser.add_argument("--version", action="version", version=f"tfstyle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.{name}").add_parser(sub)
    return parser


def _known_errors() -> tuple[type[Exception], ...]:
    """The one-line user errors (exit 2). Their modules import no TensorFlow."""
    from ..backbones.weights import BackboneError
    from ..cluster import ClusterError
    from ..export.base import ExportError
    from ..feedforward.data import DataError
    from ..feedforward.networks import ModelError
    from ..io.images import ImageError
    from ..io.state import StateError
    from ..video.codecs import VideoError
    from ..web import SiteError

    return (ImageError, ConfigError, BackboneError, StateError, ModelError, DataError, ExportError, VideoError,
            SiteError, ClusterError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfstyle`` command. Returns the exit code."""
    old_handlers = signals.install()  # first: imports below take a while
    try:
        rc = _main(argv)
    finally:
        signals.restore(old_handlers, exiting=argv is None)
    if argv is None:  # the program itself, not a caller in Python
        exit_if_closed(rc)
    return rc


def _main(argv) -> int:
    known: tuple = (ConfigError,)  # grows once the modules defining the others are imported
    try:
        known = _known_errors()
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:
            return int(e.code or 0)
        return args.func(args)
    except KeyboardInterrupt:
        say("interrupted before the run started; nothing written")
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if signals.SIGNALLED:
            say("interrupted before the run started; nothing written")
            return EXIT_INTERRUPTED
        if isinstance(e, known):
            say(f"error: {e}")
            return EXIT_USAGE
        if os.environ.get("TFSTYLE_DEBUG"):
            raise
        msg = str(e).splitlines()[0][:300] if str(e) else ""
        say(f"internal error: {type(e).__name__}: {msg} (set TFSTYLE_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL
