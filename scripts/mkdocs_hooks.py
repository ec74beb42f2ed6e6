"""MkDocs hook: serve the benchmarks' pictures from where they are written, ``bench/results/``.

The pages link to them as ``../bench/results/...`` (from ``docs/``), the path that also works when
GitHub shows a page, so the site and the repository read the same and no picture is copied. The
site puts them under ``bench/results/``.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, InclusionLevel

PICTURES = ("*.png", "*.jpg", "*.svg")


def on_files(files, config):
    root = Path(config["docs_dir"]).resolve().parent
    results = root / "bench" / "results"
    for pattern in PICTURES:
        for path in sorted(results.rglob(pattern)):
            rel = path.relative_to(root).as_posix()
            # "../" would read as a hidden path and be left out: include it explicitly.
            f = File.generated(config, f"../{rel}", abs_src_path=str(path), inclusion=InclusionLevel.INCLUDED)
            f.dest_uri = rel
            files.append(f)
    return files
