"""What the command line shows: one-line messages on stderr, progress bars, TensorBoard scalars."""

from __future__ import annotations

import os
import sys

from .signals import check_interrupt


_CLOSED = {"outputs": False}


def outputs_closed() -> None:
    """Called by a command once every output is written and closed: the program may then end at once."""
    _CLOSED["outputs"] = True


def exit_if_closed(rc: int) -> None:
    """End the process now with ``rc`` (0) when the command said its outputs are closed, skipping the
    interpreter's teardown of TensorFlow (``FULL_EXIT_ENV`` keeps it)."""
    import logging

    from ..config import FULL_EXIT_ENV

    if rc != 0 or not _CLOSED["outputs"] or os.environ.get(FULL_EXIT_ENV, "") not in ("", "0"):
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            return  # a stream that cannot flush: leave the ending to Python
    logging.shutdown()
    os._exit(rc)


def say(msg: str) -> None:
    """One line on stderr, prefixed "tfstyle: ", whatever a file name holds."""
    msg = msg.replace("\r", "\\r").replace("\n", "\\n")
    print(f"tfstyle: {msg}", file=sys.stderr, flush=True)


def note(msg: str) -> None:
    say(f"NOTE: {msg}")


def note_native_build(config) -> None:
    """A note before the pause when this run's loss network will first compile the native Winograd
    transforms on this machine (once per environment). ``config``: a StylizeConfig or TrainConfig."""
    from ..backbones import get
    from ..backbones.extractor import resolve_conv
    from ..hardware import resolve_precision
    from ..kernels.native import build_pending

    if resolve_conv(config.conv_algorithm, resolve_precision(config.precision), get(config.network).chain) == "winograd" \
            and build_pending():
        note("compiling the native Winograd transforms for this machine (once, about 10 s)")


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def short_parts(loss: float, parts: dict[str, float]) -> str:
    """'loss=1.23 content=0.4 style=0.7 tv=0.1': content and style summed over layers, to fit one line."""
    c = sum(v for k, v in parts.items() if k.startswith("content/"))
    s = sum(v for k, v in parts.items() if k.startswith("style/"))
    return f"loss={loss:.4g} content={c:.3g} style={s:.3g} tv={parts.get('tv', 0.0):.3g}"


class StepRenderer:
    """A tqdm bar (from the first step on) and every loss part as a TensorBoard scalar.

    Args:
        total: steps of the whole run, until the first progress gives its own (``total_steps``).
        quiet: no bar. logdir: TensorBoard folder (None: none).
        unit: the bar's unit.
    """

    def __init__(self, total: int, quiet: bool, logdir: str | None, unit: str = "step"):
        self.total, self.quiet, self.unit = total, quiet, unit
        self.bar = None
        self.writer = None
        if logdir:
            import tensorflow as tf

            self.writer = tf.summary.create_file_writer(logdir)

    def advance(self, p, postfix: str) -> None:
        """One step on the bar (with ``postfix``) and every loss part of ``p`` as a scalar."""
        check_interrupt()  # ends the loop between steps; the library returns the best result so far
        if self.bar is None and not self.quiet:
            from tqdm import tqdm

            # The run's own count: coarse to fine, coarser scales may stop before --steps.
            self.total = getattr(p, "total_steps", None) or self.total
            self.bar = tqdm(total=self.total, initial=p.step - 1, unit=self.unit, dynamic_ncols=True,
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
