"""Ctrl-C and SIGTERM: before TensorFlow runs they raise KeyboardInterrupt at once; once it runs they
are remembered and polled between steps (a KeyboardInterrupt raised inside TensorFlow's C++ calls or
imports can surface as a SystemError with a traceback instead)."""

from __future__ import annotations

import contextlib
import signal

SIGNALLED: list[int] = []
# While True, a signal only lands in SIGNALLED and the code polls it (between optimisation steps,
# after setup).
POLLED = [False]


def _interrupt(signum, frame):
    SIGNALLED.append(signum)
    if not POLLED[0]:
        raise KeyboardInterrupt


def check_interrupt() -> None:
    """Raise KeyboardInterrupt if a signal arrived (called between steps)."""
    if SIGNALLED:
        raise KeyboardInterrupt


def start_polling() -> None:
    """From now on TensorFlow runs: signals are polled instead of raised anywhere."""
    POLLED[0] = True


def install() -> dict:
    """SIGINT and SIGTERM raise KeyboardInterrupt (exit 130, best result so far written) and are
    remembered: an interrupt landing inside an import can surface as another exception (Keras
    turns it into an ImportError), which then still means "interrupted". Returns the old handlers."""
    SIGNALLED.clear()
    POLLED[0] = False
    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            old[s] = signal.signal(s, _interrupt)
        except ValueError:  # not the main thread (main() called from a worker thread): leave it
            pass
    return old


def restore(old: dict, exiting: bool) -> None:
    """Put the old handlers back, or, when the process exits next, ignore late signals: interpreter
    shutdown takes seconds with TensorFlow loaded and must not turn the exit code into a kill."""
    if exiting:
        for s in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):
                signal.signal(s, signal.SIG_IGN)
    else:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred():
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
