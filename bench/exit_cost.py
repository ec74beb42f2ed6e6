"""What the end of a command costs: ``tfstyle stylize`` as a whole command (process start to exit),
ending at once after its output is written (the default) against the interpreter's full teardown of
TensorFlow (``TFSTYLE_FULL_EXIT=1``, the baseline), interleaved A/B.

    PYTHONPATH=src python bench/exit_cost.py [--size 256] [--steps 80] [--rounds 5]

Prints a Markdown table (median seconds of each, the difference, and how long after the output file
was written each process ended) and checks that both write the same image.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent.parent / "shared" / "images"
FULL_EXIT_ENV = "TFSTYLE_FULL_EXIT"  # tfstyle.config.FULL_EXIT_ENV, kept here so no TensorFlow loads


def run(cmd: list[str], env: dict, out: Path) -> tuple[float, float]:
    """(seconds from start to exit, seconds from the output file's write to exit)."""
    out.unlink(missing_ok=True)
    t = time.time()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    end = time.time()
    if r.returncode != 0 or not out.exists():
        raise RuntimeError(f"{' '.join(cmd[:5])} ... failed ({r.returncode}): {r.stderr.strip()[-300:]}")
    return end - t, end - out.stat().st_mtime


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--content", type=Path, default=IMAGES / "content" / "chelsea_cat.png")
    p.add_argument("--style", type=Path, default=IMAGES / "style" / "vangogh_starry_night.jpg")
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="exit-cost-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop(FULL_EXIT_ENV, None)
    arms = {"full teardown (TFSTYLE_FULL_EXIT=1, baseline)": {**env, FULL_EXIT_ENV: "1"},
            "ends after its output (default)": env}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in arms}
    images: dict[str, bytes] = {}
    for i in range(a.rounds):
        for name, e in (arms.items() if i % 2 == 0 else reversed(arms.items())):  # alternate the order
            out = tmp / f"{len(images)}.png"
            cmd = [sys.executable, "-m", "tfstyle", "stylize", str(a.content), str(a.style), "-o", str(out),
                   "--size", str(a.size), "--steps", str(a.steps), "--backbone", "random", "-q", "--overwrite"]
            times[name].append(run(cmd, e, out))
            images.setdefault(name, out.read_bytes())
            print(f"round {i + 1} {name}: {times[name][-1][0]:.2f} s", file=sys.stderr, flush=True)
    same = len(set(images.values())) == 1
    base = statistics.median(t for t, _ in times[next(iter(arms))])
    lines = [f"`tfstyle stylize` at {a.size} px, --steps {a.steps}, {a.rounds} interleaved rounds, "
             f"{os.cpu_count()} CPUs; the same output bytes from both: {'yes' if same else 'NO'}", "",
             "| ending | whole command (s, median) | after the output was written (s) | vs baseline |",
             "|---|---:|---:|---:|"]
    for name, ts in times.items():
        med = statistics.median(t for t, _ in ts)
        tail = statistics.median(x for _, x in ts)
        lines.append(f"| {name} | {med:.2f} | {tail:.2f} | {med - base:+.2f} s |")
    print("\n".join(lines))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
