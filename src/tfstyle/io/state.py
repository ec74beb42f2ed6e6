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

from ..config import OPTIMIZERS_REGISTRY
from ..progress import RunState
from .images import atomic_write

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


def _input_bytes(x) -> bytes:
    """An input's identity: an array's shape and pixels, a file's bytes."""
    if isinstance(x, np.ndarray):
        a = np.ascontiguousarray(x, np.float32)
        return repr(a.shape).encode() + a.tobytes()
    return Path(x).read_bytes()


def run_fingerprint(config, content, styles, init_image=None, content_mask=None, style_masks=None) -> str:
    """The fingerprint of an image-optimisation run: its images (arrays or files) and its settings.

    Everything but ``steps`` (a resumed run may go further) and ``memory_limit`` (it changes how a
    scale is computed, tiled or not, not what) must match for a saved state to continue a run. The
    library computes it (:class:`tfstyle.optimize.multiscale.MultiScaleStylizer`) and refuses a
    ``resume`` state of another run; the command line computes the same before it loads TensorFlow.

    Args:
        config: the run's :class:`tfstyle.config.StylizeConfig`.
        content, styles: (H, W, 3) arrays or paths; ``styles`` one or a sequence.
        init_image, content_mask, style_masks: arrays or paths in place of the files ``config`` names.
    """
    import dataclasses

    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    parts = [_input_bytes(content), *(_input_bytes(s) for s in styles)]
    if init_image is not None:
        parts.append(_input_bytes(init_image))
    mask = content_mask if content_mask is not None else config.content_mask
    if mask is not None:
        parts.append(_input_bytes(mask))
    for m in (style_masks if style_masks is not None else config.style_masks):
        parts.append(_input_bytes(m))
    return fingerprint(*parts, repr(dataclasses.replace(config, steps=0, memory_limit=0.0)))


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
    if state.optimizer not in OPTIMIZERS_REGISTRY:
        raise StateError(f"{p}: saved state names an unknown optimizer {state.optimizer!r}")
    if any(s.dtype.kind not in "biuf" or not np.isfinite(s).all() for s in state.slots):
        raise StateError(f"{p}: saved optimiser state holds non-numeric, NaN or Inf values")
    if expect_fingerprint is not None and state.fingerprint != expect_fingerprint:
        raise StateError(f"{p}: saved state is from a run with other images or settings")
    return state
