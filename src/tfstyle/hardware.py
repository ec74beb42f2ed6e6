"""What this machine computes fast and exactly: one place for every decision that depends on the CPU.

bfloat16 is "native" only where both hold:

* the CPU has bfloat16 instructions (``amx_bf16`` or ``avx512_bf16`` in /proc/cpuinfo), and
* TensorFlow runs its CPU kernels through oneDNN (TensorFlow turns oneDNN on by default for such
  CPUs; ``TF_ENABLE_ONEDNN_OPTS=0`` turns it off).

There oneDNN's bfloat16 matmul sums the products in float32 and rounds the result once. Elsewhere
(an AVX2-only CPU, or oneDNN off) bfloat16 runs through Eigen's emulation: slower than float32 (2.3-5x
per stylize step, measured on an AMD EPYC with AVX2) and a long bfloat16 matmul accumulates more
rounding (a 90,000-pixel Gram: 0.52% maximum relative error on that CPU, against 2^-8 = 0.39% for
one rounding). ``--precision auto`` and :func:`tfstyle.objective.losses.gram` both ask
:func:`native_bfloat16`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


@functools.lru_cache(maxsize=1)
def cpu_has_bf16_instructions() -> bool:
    """True if /proc/cpuinfo advertises AMX-BF16 or AVX512_BF16 (no TensorFlow needed)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


@functools.lru_cache(maxsize=1)
def onednn_enabled() -> bool:
    """True if TensorFlow's CPU kernels run through oneDNN in this process.

    TensorFlow decides this once, from ``$TF_ENABLE_ONEDNN_OPTS`` and the CPU; its own answer is
    ``IsMklEnabled`` (a private module, so the environment variable is the fallback).
    """
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get(ONEDNN_ENV, "") in ("1", "true", "True")


def native_bfloat16() -> bool:
    """True where bfloat16 math is fast and sums in float32 (see the module docstring)."""
    return cpu_has_bf16_instructions() and onednn_enabled()


def describe() -> str:
    """One line for benchmark tables and notices, e.g. 'native bf16 (AMX/AVX512_BF16, oneDNN on)'."""
    if native_bfloat16():
        return "native bf16 (AMX/AVX512_BF16, oneDNN on)"
    if cpu_has_bf16_instructions():
        return "bf16 instructions but oneDNN off: bf16 emulated"
    return "no native bf16 (no AMX/AVX512_BF16)"


def set_inter_op_threads(n: int) -> None:
    """Size TensorFlow's inter-op pool (0 leaves TensorFlow's default, one thread per core).

    Why 1 by default: a VGG step is a chain of large ops that oneDNN already spreads over the
    cores; a second inter-op thread only competes with them. bench/knobs.py at 512 px on 2 cores:
    inter-op 1 was 1.02-1.40x faster per step (median 1.09x) in 5 of 5 runs. TensorFlow fixes its
    pools when it runs its first op; after that this is a no-op.
    """
    import tensorflow as tf

    if n <= 0 or tf.config.threading.get_inter_op_parallelism_threads() == n:
        return
    try:
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # TensorFlow already started in this process: its pools are fixed
        pass


__all__ = ["cpu_has_bf16_instructions", "onednn_enabled", "native_bfloat16", "describe", "set_inter_op_threads",
           "ONEDNN_ENV"]
