"""Saving and loading a run's state (for ``--resume``): a plain ``.npz`` file, no pickle.

Loading never executes code from the file (``allow_pickle=False``); a file that is not a valid
state gives a one-line :class:`StateError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from .image import atomic_write
from .optimize import RunState

FORMAT_VERSION = 1


class StateError(ValueError):
    """A saved state is missing, corrupt or from another run. Message is one line."""


def state_path(output: str | os.PathLike) -> Path:
    """Where the state of a run writing ``output`` is kept: ``OUT.png`` -> ``OUT.png.tfstyle-state.npz``."""
    p = Path(output)
    return p.with_name(p.name + ".tfstyle-state.npz")


def fingerprint(*parts: bytes | str) -> str:
    """sha256 over the inputs and settings that must not change between a run and its resume."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def save_state(state: RunState, path: str | os.PathLike) -> Path:
    """Write ``state`` atomically (temporary file + rename)."""
    meta = {"version": FORMAT_VERSION, "step": state.step, "optimizer": state.optimizer,
            "fingerprint": state.fingerprint, "history": state.history, "n_slots": len(state.slots)}
    arrays = {"image": state.image.astype(np.float32), "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    for i, s in enumerate(state.slots):
        arrays[f"slot{i}"] = np.asarray(s)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write(Path(path), lambda f: f.write(buf.getvalue()))


def load_state(path: str | os.PathLike, expect_fingerprint: str | None = None) -> RunState:
    """Read a state written by :func:`save_state`.

    Raises:
        StateError: missing, unreadable, corrupt, or (with ``expect_fingerprint``) from another run.
    """
    p = Path(path)
    if not p.is_file():
        raise StateError(f"{p}: no saved state to resume from")
    try:
        with np.load(p, allow_pickle=False) as z, np.errstate(all="ignore"):
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("version") != FORMAT_VERSION:
                raise StateError(f"{p}: state format {meta.get('version')!r} is not {FORMAT_VERSION}")
            raw = z["image"]
            if raw.dtype.kind not in "biuf":  # complex or text would convert with a warning or not at all
                raise StateError(f"{p}: saved state holds no valid image")
            image = np.array(raw, np.float32)
            slots = [np.array(z[f"slot{i}"]) for i in range(int(meta["n_slots"]))]
            state = RunState(image=image, step=int(meta["step"]), optimizer=str(meta["optimizer"]),
                             slots=slots, history={k: [float(x) for x in v] for k, v in meta["history"].items()},
                             fingerprint=str(meta["fingerprint"]))
    except StateError:
        raise
    except Exception as e:  # noqa: BLE001 - zip/json/key errors all mean "corrupt"
        raise StateError(f"{p}: saved state is corrupt ({type(e).__name__})") from None
    img = state.image
    if img.ndim != 3 or img.shape[2] != 3 or not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
        raise StateError(f"{p}: saved state holds no valid image")
    # A hand-edited or foreign file can be a valid npz and still make no sense as a run.
    if state.step < 0 or any(len(v) != state.step for v in state.history.values()):
        raise StateError(f"{p}: saved state is inconsistent (step {state.step} vs. its loss history)")
    if state.optimizer not in ("adam", "lbfgs"):
        raise StateError(f"{p}: saved state names an unknown optimizer {state.optimizer!r}")
    if any(s.dtype.kind not in "biuf" or not np.isfinite(s).all() for s in state.slots):
        raise StateError(f"{p}: saved optimiser state holds non-numeric, NaN or Inf values")
    if expect_fingerprint is not None and state.fingerprint != expect_fingerprint:
        raise StateError(f"{p}: saved state is from a run with other images or settings")
    return state
