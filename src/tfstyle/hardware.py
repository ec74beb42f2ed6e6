"""What this machine computes fast and exactly: one place for every decision that depends on the CPU.

bfloat16 is "native" only where both hold:

* the CPU has bfloat16 instructions (``amx_bf16`` or ``avx512_bf16`` in /proc/cpuinfo), and
* TensorFlow runs its CPU kernels through oneDNN (TensorFlow turns oneDNN on by default for such
  CPUs; ``TF_ENABLE_ONEDNN_OPTS=0`` turns it off).

There oneDNN's bfloat16 matmul sums the products in float32 and rounds the result once. Elsewhere
(an AVX2-only CPU, or oneDNN off) bfloat16 runs through Eigen's emulation: slower than float32 per
stylize step, and a long bfloat16 matmul accumulates more rounding than one rounding's 2^-8
(bench/results/decisions.md, "bfloat16 without native support"). ``--precision auto``
(:func:`resolve_precision`) and :func:`tfstyle.objective.losses.gram` both ask :func:`native_bfloat16`.

oneDNN itself pays in float32 too: TensorFlow leaves it off on x86 CPUs without AVX-512 (AVX2 only),
where its batched matmul and convolutions beat Eigen's (bench/results/decisions.md, "oneDNN on
AVX2"). :func:`prefer_onednn` turns it on there, before TensorFlow is imported (``PREFER_ONEDNN`` in
``tfstyle.config``); ``TF_ENABLE_ONEDNN_OPTS=0`` keeps TensorFlow's choice.

The convolution algorithm (:func:`winograd_by_default`, :func:`winograd_min_channels`,
:func:`transposed_convolutions_faster`), Winograd's product layout
(:func:`winograd_products_transposed`) and the memory plan's unfolding workspace
(:func:`unfolds_convolutions`) follow from the same facts.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path

from .config import PREFER_ONEDNN, WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_CHANNELS_ONEDNN, ConfigError

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
_ASKED = []  # [True] once prefer_onednn set the variable in this process


class OneDNNWarning(RuntimeWarning):
    """tfstyle could not turn oneDNN on where it would have (see :func:`prefer_onednn`)."""


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_bf16_instructions() -> bool:
    """True if /proc/cpuinfo advertises AMX-BF16 or AVX512_BF16 (no TensorFlow needed)."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def prefer_onednn() -> bool:
    """Ask TensorFlow for oneDNN on an x86 CPU with AVX2 but not AVX-512, where TensorFlow would
    leave it off, if TensorFlow is not imported yet and ``TF_ENABLE_ONEDNN_OPTS`` is unset (see the
    module docstring). Where TensorFlow turns it on itself (AVX-512) or the CPU is not x86, nothing
    changes. Returns True if it set the variable.

    Where it would have set it but TensorFlow is already imported (so oneDNN stays off for the whole
    process), it warns with :class:`OneDNNWarning`: float32 stylize steps are then slower (see the
    module docstring).
    """
    flags = cpu_flags()
    if not PREFER_ONEDNN or ONEDNN_ENV in os.environ or "avx2" not in flags or "avx512f" in flags:
        return False
    if "tensorflow" in sys.modules:
        warnings.warn("TensorFlow was imported before tfstyle, so oneDNN stays off on this AVX2 CPU and "
                      f"float32 steps run slower; import tfstyle first or start Python with "
                      f"{ONEDNN_ENV}=1 ({ONEDNN_ENV}=0 keeps TensorFlow's choice and silences this)",
                      OneDNNWarning, stacklevel=2)
        return False
    os.environ[ONEDNN_ENV] = "1"
    _ASKED.append(True)
    return True


def onednn_asked_by_tfstyle() -> bool:
    """True if :func:`prefer_onednn` set ``TF_ENABLE_ONEDNN_OPTS`` in this process (so a child process
    that should run as TensorFlow decides by itself must not inherit it)."""
    return bool(_ASKED)


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


def resolve_precision(precision: str) -> str:
    """Map "auto" / "float32" / "mixed" to a Keras dtype policy name.

    "mixed" means bfloat16 on CPUs and float16 on GPUs. "auto" picks mixed only where it is fast:
    a GPU, or a CPU where bfloat16 is native (:func:`native_bfloat16`: AMX or AVX512_BF16 with
    oneDNN on); elsewhere bfloat16 is emulated and slower than float32.
    """
    import tensorflow as tf

    if precision == "float32":
        return "float32"
    gpu = bool(tf.config.list_physical_devices("GPU"))
    if precision == "mixed":
        return "mixed_float16" if gpu else "mixed_bfloat16"
    if precision != "auto":
        raise ConfigError(f"precision must be auto, float32 or mixed, got {precision!r}")
    if gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if native_bfloat16() else "float32"


def winograd_by_default(policy: str, chain: bool) -> bool:
    """Whether ``--conv-algorithm auto`` runs Winograd's convolutions (:mod:`tfstyle.kernels.winograd`):
    a float32 step on a CPU (no GPU) through a plain-chain network (VGG), where it was measured faster
    with both Eigen's and oneDNN's kernels (``bench/knobs.py``, ``bench/winograd.py``). Mixed
    precision keeps oneDNN's bfloat16 convolutions (Winograd is float32 only)."""
    if not chain or policy != "float32":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def winograd_min_channels() -> int:
    """Input channels from which a 3x3 convolution is worth Winograd's transforms here:
    ``WINOGRAD_MIN_CHANNELS_ONEDNN`` where oneDNN runs TensorFlow's kernels, else
    ``WINOGRAD_MIN_CHANNELS`` (``tfstyle.config.tuning`` says what was measured)."""
    return WINOGRAD_MIN_CHANNELS_ONEDNN if onednn_enabled() else WINOGRAD_MIN_CHANNELS


def winograd_products_transposed() -> bool:
    """Whether Winograd's transformed kernels are stored (n^2, K, C), the products multiplying by
    their transpose, rather than (n^2, C, K): the faster layout for oneDNN's batched matmul, and the
    slower one for Eigen's, by enough on VGG19's deep layers to make Winograd lose there
    (``bench/winograd.py``; ``bench/results/zen4/winograd.md``)."""
    return onednn_enabled()


def transposed_convolutions_faster() -> bool:
    """Whether a 3x3 convolution runs faster as the transpose of one (``Conv2DBackpropInput``) than
    directly: where oneDNN runs the convolutions its backward-data kernel beats its forward one on
    VGG's first layers; with Eigen's it is the other way round (``bench/winograd.py``)."""
    return onednn_enabled()


def unfolds_convolutions() -> bool:
    """Whether TensorFlow's convolution gradients unfold their input ("im2col": k*k*channels values
    per cell) in a workspace the memory plan must count: Eigen's kernels do, oneDNN's do not."""
    return not onednn_enabled()


def describe() -> str:
    """One line for benchmark tables and notices, e.g. 'native bf16 (AMX/AVX512_BF16, oneDNN on)'."""
    if native_bfloat16():
        return "native bf16 (AMX/AVX512_BF16, oneDNN on)"
    if cpu_has_bf16_instructions():
        return "bf16 instructions but oneDNN off: bf16 emulated"
    return f"no native bf16 (no AMX/AVX512_BF16), oneDNN {'on' if onednn_enabled() else 'off'}"


def set_inter_op_threads(n: int) -> None:
    """Size TensorFlow's inter-op pool (0 leaves TensorFlow's default, one thread per core).

    Why 1 by default: a VGG step is a chain of large ops that oneDNN already spreads over the
    cores; a second inter-op thread only competes with them (bench/knobs.py: one inter-op thread
    was faster per step in every run; bench/results/decisions.md). TensorFlow fixes its pools when
    it runs its first op; after that this is a no-op.
    """
    import tensorflow as tf

    if n <= 0 or tf.config.threading.get_inter_op_parallelism_threads() == n:
        return
    try:
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # TensorFlow already started in this process: its pools are fixed
        pass


__all__ = ["OneDNNWarning", "cpu_flags", "cpu_has_bf16_instructions", "onednn_enabled", "prefer_onednn",
           "onednn_asked_by_tfstyle", "native_bfloat16", "resolve_precision", "winograd_by_default",
           "winograd_min_channels", "winograd_products_transposed", "transposed_convolutions_faster",
           "unfolds_convolutions", "describe", "set_inter_op_threads", "ONEDNN_ENV"]
