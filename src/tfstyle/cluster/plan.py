"""What a job writes and what an earlier run already finished.

The outputs are named exactly as the local ``tfstyle apply`` names them
(:func:`tfstyle.feedforward.apply.plan_outputs`); with ``styles_per_image`` K > 1 each image gets K
outputs, ``<name>_style<j>`` for j in 0..K-1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import CLUSTER_MANIFEST, ConfigError
from ..feedforward.apply import plan_outputs
from ..feedforward.networks import read_model_json
from ..io.images import ImageError
from . import ClusterError
from .manifest import DONE, read_manifest
from .styles import choose_styles, find_paintings


@dataclass
class Task:
    """One output to write: ``source`` image, ``output`` path relative to the output folder, and the
    ``style`` painting it gets ("" for a model trained on one style: the model is the style)."""

    source: str
    output: str
    style: str = ""

    def as_row(self) -> dict[str, str]:
        return {"source": self.source, "output": self.output, "style": self.style}


@dataclass
class Plan:
    """``todo``: the tasks to run, in input order. ``done``: manifest rows of outputs already written
    and still on disk, kept as they are. ``model``: the model folder as the manifest names it;
    ``model_style``: the painting a one-style model was trained on (the manifest's style column)."""

    out_dir: Path
    model: str
    model_style: str
    todo: list[Task] = field(default_factory=list)
    done: list[dict[str, str]] = field(default_factory=list)

    @property
    def manifest(self) -> Path:
        return self.out_dir / CLUSTER_MANIFEST


def takes_style_image(model_dir) -> bool:
    """Whether the model stylises with any painting given at run time: an arbitrary-style model
    (``tfstyle train --styles``); the actor hands it the painting of each task
    (:meth:`tfstyle.cluster.actor.Stylist._stylise`)."""
    from ..feedforward.networks import KIND_ARBITRARY, model_kind

    return model_kind(model_dir) == KIND_ARBITRARY


def refuse_styles(model_dir, network, meta: dict) -> None:
    """Raise a one-line ClusterError when paintings are given to a model that serves one style."""
    if not takes_style_image(model_dir):
        style = Path(str(meta.get("style", ""))).name or "the one it was trained on"
        raise ClusterError(f"{model_dir}: this model serves one style ({style}); --styles needs an "
                           "arbitrary-style model")


def plan_job(model_dir, inputs, out_dir, suffix: str = ".png", styles=None, seed: int = 0,
             styles_per_image: int = 1, overwrite: bool = False) -> Plan:
    """Expand inputs (and the paintings of ``styles``) into tasks and drop the finished ones.

    An output counts as finished when the manifest's newest row for it says ``done`` with the same
    source, model and style, and the file exists. Without ``overwrite``, an output folder without a
    manifest must not hold any of the outputs (as for the local apply), and one whose manifest names
    another model is refused.

    Raises:
        ImageError: a missing input, a folder without images, two inputs mapping to one output, an
            existing output in a folder that is no job's.
        ClusterError: ``styles`` with a model that serves one style, a manifest of another model.
        ModelError: the model folder is not one.
    """
    network, meta = read_model_json(model_dir)
    model = os.path.abspath(model_dir)
    model_style = str(meta.get("style", ""))
    if styles is not None:
        refuse_styles(model_dir, network, meta)
    elif takes_style_image(model_dir):
        raise ClusterError(f"{model_dir}: an arbitrary-style model needs paintings (--styles PAINTINGS)")
    if styles is None and styles_per_image != 1:
        raise ConfigError("styles_per_image needs styles (--styles PAINTINGS)")
    out = Path(out_dir)
    paintings = [os.path.abspath(p) for p in find_paintings(styles)] if styles is not None else []
    plan = Plan(out_dir=out, model=model, model_style=model_style)
    tasks: list[Task] = []
    for src, dst, _ in plan_outputs(inputs, out, suffix):
        rel = dst.relative_to(out)
        if not paintings:
            tasks.append(Task(os.path.abspath(src), rel.as_posix(), model_style))
            continue
        key = rel.with_suffix("").as_posix()
        for j, painting in enumerate(choose_styles(seed, key, paintings, styles_per_image)):
            name = rel if styles_per_image == 1 else rel.with_name(f"{rel.stem}_style{j}{suffix}")
            tasks.append(Task(os.path.abspath(src), name.as_posix(), painting))
    if styles_per_image > 1 and len({t.output for t in tasks}) != len(tasks):
        raise ImageError(f"two inputs would be written to the same {out}/<name>_style<j> output")
    rows = {} if overwrite else read_manifest(plan.manifest)
    if not overwrite and not plan.manifest.is_file():
        for t in tasks:
            if (out / t.output).exists():
                raise ImageError(f"{out / t.output}: already exists (pass --overwrite to replace it)")
    for t in tasks:
        row = rows.get(t.output)
        if row is not None and row["model"] != model and row["status"] == DONE:
            raise ClusterError(f"{out}: holds outputs of model {row['model']} ({CLUSTER_MANIFEST}); pass "
                               "--overwrite to replace them, or write to another folder")
        if (row is not None and row["status"] == DONE and row["source"] == t.source and row["style"] == t.style
                and (out / t.output).is_file()):
            plan.done.append(row)
        else:
            plan.todo.append(t)
    return plan
