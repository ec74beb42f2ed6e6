"""Native kernels: the Winograd transforms (``winograd_ops.cc``) as TensorFlow CPU ops, each one pass
over memory.

The transforms of :mod:`tfstyle.kernels.winograd` built from TensorFlow ops (pad, gather, two small
matmuls each side) read and write every tile several times, a large part of a float32 step
(bench/results/avx2_512/speed.md). The two ops in ``winograd_ops.cc`` read their input once and write their output once.
They are compiled on first use against the installed TensorFlow: its compiler flags and headers
(``tf.sysconfig``), ``-O3 -march=native``. The shared library is cached under :func:`cache_dir`,
keyed by the source, TensorFlow's version, the compiler and the CPU, so a new TensorFlow, compiler
or machine builds its own. Building takes about 10 s, once.

Where they cannot be had, the TensorFlow-op transforms run instead, with the same results (float32
rounding apart): :func:`winograd_ops` returns None and :func:`status` says why. That happens with no
C++ compiler (``$CXX``, else ``g++``), a failed build (recorded in ``winograd_ops-*.failed``, so later
processes do not try again until it is deleted) or load, a library that fails the caller's check
(:mod:`tfstyle.kernels.winograd` compares it with its TensorFlow-op transforms on a small input),
or ``TFSTYLE_NATIVE_KERNELS=0``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..config import NATIVE_BUILD_TIMEOUT, NATIVE_KERNELS, NATIVE_KERNELS_ENV, default_cache_dir

SOURCE = Path(__file__).with_name("winograd_ops.cc")
_STATUS: list[str] = []  # what winograd_ops decided in this process


def cache_dir() -> Path:
    """Where built kernels are kept: ``$TFSTYLE_CACHE_DIR/kernels``, else
    ``$XDG_CACHE_HOME/tfstyle/kernels``, else ``~/.cache/tfstyle/kernels``."""
    return default_cache_dir() / "kernels"


def status() -> str:
    """One line: whether the native transforms are in use in this process, and if not, why (empty
    before :func:`winograd_ops` is first called)."""
    return _STATUS[0] if _STATUS else ""


def _enabled() -> bool:
    return NATIVE_KERNELS and os.environ.get(NATIVE_KERNELS_ENV, "").strip() not in OFF


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX") or "g++")


def _artifact(cxx: str, suffix: str) -> Path:
    """The cache's file of this source, TensorFlow, compiler and CPU: ``.so`` (the library),
    ``.failed`` (a recorded failure) or ``.lock``."""
    return cache_dir() / f"winograd_ops-{_build_key(cxx)}{suffix}"


@functools.lru_cache(maxsize=None)
def _build_key(cxx: str) -> str:
    """Asks the compiler for its version once per process (and compiler)."""
    import tensorflow as tf

    from ..hardware import cpu_flags

    try:
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    h = hashlib.sha256()
    for part in (SOURCE.read_bytes(), tf.__version__.encode(), tf.sysconfig.get_include().encode(),
                 version.encode(), " ".join(_flags()).encode(), " ".join(sorted(cpu_flags())).encode()):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:20]


def _flags() -> list[str]:
    import tensorflow as tf

    return ["-shared", "-fPIC", "-O3", "-march=native", *tf.sysconfig.get_compile_flags(),
            *tf.sysconfig.get_link_flags()]


def _build(cxx: str, flags: list[str], library: Path, failed: Path) -> str | None:
    """Compile into ``library`` (atomically), or record the reason in ``failed``; None on success."""
    fd, tmp = tempfile.mkstemp(prefix=library.stem + ".", suffix=".so.tmp", dir=library.parent)
    os.close(fd)
    try:
        try:
            r = subprocess.run([cxx, str(SOURCE), "-o", tmp, *flags], capture_output=True, text=True,
                               timeout=NATIVE_BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            reason = f"{Path(cxx).name} took more than {NATIVE_BUILD_TIMEOUT} s"
        except OSError as e:
            reason = f"{Path(cxx).name} did not run ({e.strerror or e})"
        else:
            if r.returncode == 0:
                os.replace(tmp, library)
                return None
            lines = [ln for ln in r.stderr.splitlines() if "error" in ln] or r.stderr.splitlines() or ["no output"]
            reason = f"{Path(cxx).name} failed: {lines[0].strip()[:300]}"
        failed.write_text(reason + "\n")
        return reason
    finally:
        Path(tmp).unlink(missing_ok=True)


@functools.lru_cache(maxsize=1)
def winograd_ops(check=None):
    """The loaded op library (``tfstyle_winograd_tiles``, ``tfstyle_winograd_pixels``), built on first
    use, or None where it cannot be had (:func:`status` says why). ``check(ops)`` returns None if the
    loaded ops compute what they should, else what is wrong. Never raises, never prints."""
    result, line = _load(check)
    _STATUS[:] = [line]
    return result


SLOWER = "TensorFlow-op transforms, slower"
OFF = {"0", "false", "no", "off"}  # values of TFSTYLE_NATIVE_KERNELS that turn the native ops off


def _load(check):
    if not _enabled():
        return None, f"TensorFlow-op transforms ({NATIVE_KERNELS_ENV}=0)"
    cxx = _compiler()
    if cxx is None:
        return None, f"{SLOWER} (no C++ compiler: {os.environ.get('CXX') or 'g++'} not found)"
    try:
        import fcntl  # POSIX: one build at a time across processes
    except ImportError:
        return None, f"{SLOWER} (no file locks here to build the native ones safely)"
    import tensorflow as tf

    root = cache_dir()
    library, failed = _artifact(cxx, ".so"), _artifact(cxx, ".failed")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(_artifact(cxx, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others then load it
            if failed.exists():
                reason = failed.read_text().strip()
            elif library.exists():
                reason = None
            else:
                reason = _build(cxx, _flags(), library, failed)
    except OSError as e:
        reason = f"kernel cache {root} not writable: {e.strerror or e}"
    if reason is not None:
        return None, f"{SLOWER} (no native ones: {reason})"
    try:
        ops = tf.load_op_library(str(library))
    except Exception as e:  # noqa: BLE001 - any load failure means: use the TensorFlow ops
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        return None, f"{SLOWER} (the native ones did not load: {first})"
    try:
        wrong = check(ops) if check is not None else None
    except Exception as e:  # noqa: BLE001 - an op that fails its check is not used
        wrong = f"their check failed: {str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__}"
    if wrong:
        return None, f"{SLOWER} (the native ones are not used: {wrong})"
    return ops, "native transforms"


def build_pending() -> bool:
    """True if :func:`winograd_ops` would compile the library first (on, a compiler, nothing built or
    recorded as failed in the cache yet): a caller may say so before the pause."""
    cxx = _compiler()
    if not _enabled() or cxx is None or winograd_ops.cache_info().currsize:
        return False
    return not (_artifact(cxx, ".so").exists() or _artifact(cxx, ".failed").exists())


def library_path() -> Path | None:
    """The built library this process would load (None before it is built or without a compiler)."""
    cxx = _compiler()
    path = _artifact(cxx, ".so") if cxx is not None else None
    return path if path is not None and path.exists() else None


__all__ = ["SOURCE", "build_pending", "cache_dir", "library_path", "status", "winograd_ops"]
