"""The model replica of a job: loads the model once, then stylises batches of tasks and writes them.

Ray creates one :class:`Stylist` per actor and calls it with batches of task rows; nothing here
imports Ray, so it runs (and is tested) as a plain callable too. Outputs are written by the actor,
atomically (a temporary file beside the output, then a rename), and only the manifest rows travel
back to the driver.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io.images import ImageError, fit_size, load_image, resize, save_image
from .manifest import DONE, SKIPPED


class Stylist:
    """One actor's model and the way it writes.

    Args:
        model_dir: the model folder (readable on every node).
        out_dir: the output folder (the same shared folder on every node).
        size: longest side of the outputs (None: the input's size), as ``tfstyle apply --size``.
        batch_size: images of equal size (and equal painting) run through the model together.
        threads: TensorFlow threads of this actor (its CPUs).
        since_ns: the run marker's modification time: an output at least this new was written by
            this run (by an actor whose batch was retried elsewhere after its node died) and is
            not written again.
    """

    def __init__(self, model_dir: str, out_dir: str, size: int | None, batch_size: int, threads: int,
                 since_ns: int):
        import tensorflow as tf

        # Before the first op: the actor uses the CPUs it reserved, not every core of its node.
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already runs in this process (called outside Ray): keep its threads
            pass
        from ..feedforward.arbitrary import ArbitraryModel
        from ..feedforward.networks import KIND_ARBITRARY, model_kind

        if model_kind(model_dir) == KIND_ARBITRARY:
            self.model = ArbitraryModel(model_dir)
        else:
            from ..feedforward.apply import StyleModel

            self.model = StyleModel(model_dir)
        self._vectors: dict[str, np.ndarray] = {}  # an arbitrary-style model's vector of each painting
        self.out_dir, self.size, self.batch_size, self.since_ns = Path(out_dir), size, batch_size, since_ns

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Stylise and write a batch of tasks.

        Args:
            batch: columns ``source``, ``output`` (relative to the output folder) and ``style``.

        Returns:
            The manifest rows of the batch (less ``model``): ``status`` done or skipped, ``reason``.
        """
        rows = [{"source": str(s), "output": str(o), "style": str(st), "status": DONE, "reason": ""}
                for s, o, st in zip(batch["source"], batch["output"], batch["style"])]
        pending: list[tuple[np.ndarray, dict]] = []
        for row in rows:
            dst = self.out_dir / row["output"]
            try:
                if dst.stat().st_mtime_ns >= self.since_ns:
                    continue  # written by this run before a retry: whole (renamed into place), keep it
            except OSError:
                pass
            try:
                a = load_image(row["source"])
            except ImageError as e:
                row["status"], row["reason"] = SKIPPED, str(e)
                continue
            if self.size is not None:
                a = resize(a, fit_size(a.shape[:2], self.size))
            # Equal sizes run together, as the local apply batches them.
            if pending and (pending[0][0].shape != a.shape or pending[0][1]["style"] != row["style"]
                            or len(pending) >= self.batch_size):
                self._flush(pending)
            pending.append((a, row))
        self._flush(pending)
        return {k: np.array([r[k] for r in rows], dtype=object) for k in rows[0]} if rows else {}

    def _stylise(self, images: np.ndarray, style: str) -> np.ndarray:
        """(B, H, W, 3) RGB [0, 1] -> the same, stylised. ``style``: the painting of every image of
        the batch (that of a model that serves one style, or the path an arbitrary-style model's
        vector is computed from, once per actor and painting; full strength, as Stylized-ImageNet)."""
        if not hasattr(self.model, "style_vector"):
            return self.model(images)
        if style not in self._vectors:
            self._vectors[style] = self.model.style_vector(load_image(style))
        return self.model.stylize(images, self._vectors[style])

    def _flush(self, pending: list[tuple[np.ndarray, dict]]) -> None:
        if not pending:
            return
        outs = self._stylise(np.stack([a for a, _ in pending]), pending[0][1]["style"])
        for o, (_, row) in zip(outs, pending):
            dst = self.out_dir / row["output"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            save_image(o, dst)
        pending.clear()


def stale_temporaries(out_dir: str | os.PathLike, outputs) -> list[Path]:
    """Temporary files that writers killed mid-write left beside ``outputs`` (relative paths)."""
    out = Path(out_dir)
    names: dict[Path, set[str]] = {}
    for rel in outputs:
        dst = out / rel
        names.setdefault(dst.parent, set()).add(dst.name)
    found = []
    for folder, wanted in names.items():
        if folder.is_dir():
            # save_image's temporaries: ".<name>.<random>.tmp"
            found += [p for p in folder.glob(".*.tmp") if p.name[1:].rsplit(".", 2)[0] in wanted]
    return found
