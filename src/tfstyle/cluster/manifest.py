"""The manifest beside a job's outputs: a CSV with one row per output.

Columns (:data:`tfstyle.config.CLUSTER_MANIFEST_FIELDS`): ``source`` (the input image), ``output``
(its path relative to the output folder), ``style`` (the painting; for a model trained on one style,
the style it was trained on), ``model`` (the model folder), ``status`` (``done`` or ``skipped``) and
``reason`` (why an image was skipped). While a job runs, rows are appended and flushed as batches
finish (a crash loses at most the rows of the batches in flight, whose files a rerun checks); when
it ends, interrupted or not, the file is rewritten atomically with the newest row of each output.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Iterable

from ..config import CLUSTER_MANIFEST_FIELDS
from ..io.images import atomic_write

DONE, SKIPPED = "done", "skipped"


def read_manifest(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """The newest row of each output (keyed by ``output``); {} when the file does not exist.

    A last line cut short by a crash, and any row missing a column, is ignored."""
    p = Path(path)
    if not p.is_file():
        return {}
    rows: dict[str, dict[str, str]] = {}
    with open(p, newline="", encoding="utf-8", errors="surrogateescape") as f:
        for row in csv.DictReader(f):
            if any(row.get(k) is None for k in CLUSTER_MANIFEST_FIELDS) or None in row:
                continue
            rows[row["output"]] = {k: row[k] for k in CLUSTER_MANIFEST_FIELDS}
    return rows


def _line(rows: Iterable[dict[str, str]], header: bool) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CLUSTER_MANIFEST_FIELDS, extrasaction="ignore", lineterminator="\n")
    if header:
        w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in CLUSTER_MANIFEST_FIELDS})
    return buf.getvalue()


class ManifestWriter:
    """Appends rows to the manifest, each call flushed to disk before it returns."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self._f = open(self.path, "a", newline="", encoding="utf-8", errors="surrogateescape")
        if not new:
            # A line cut short by a crash must not swallow the first new row.
            with open(self.path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    self._f.write("\n")
        self._write(_line([], header=new))

    def _write(self, text: str) -> None:
        if text:
            self._f.write(text)
            self._f.flush()
            os.fsync(self._f.fileno())

    def append(self, rows: Iterable[dict[str, str]]) -> None:
        self._write(_line(rows, header=False))

    def close(self) -> None:
        self._f.close()


def write_manifest(path: str | os.PathLike, rows: Iterable[dict[str, str]]) -> Path:
    """Replace the manifest atomically with ``rows`` (sorted by output)."""
    ordered = sorted(rows, key=lambda r: r["output"])
    return atomic_write(Path(path), lambda f: f.write(_line(ordered, header=True).encode("utf-8", "surrogateescape")))
