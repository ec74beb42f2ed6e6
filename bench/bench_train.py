"""Training speed of the feed-forward networks: the loss network's convolutions, direct vs Winograd.

One process per row (so each peak RSS is its own): ``tfstyle.train`` on the sample photos for
``--steps`` steps with the defaults (VGG19 loss network, batch 4, 256 px crops, random weights:
speed does not depend on them), only ``conv_algorithm`` and the transform network changing. The
baseline is TensorFlow's direct convolutions (``--conv-algorithm direct``) for the same network, in
the same run. Prints a table: median seconds per step after ``--warmup`` steps, photos per second,
the speed-up over the baseline (the first of ``--convs``), peak RSS, and the mean loss over the last steps (the same
arithmetic must give the same losses).

    PYTHONPATH=src python bench/bench_train.py [--archs standard,light] [--steps 12] [--warmup 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent.parent / "shared" / "images"


def worker(arch: str, conv: str, steps: int, warmup: int, image_size: int, batch_size: int, precision: str) -> dict:
    import tfstyle  # first, as its users import it (it may ask TensorFlow for oneDNN)
    from tfstyle.backbones.extractor import resolve_conv
    from tfstyle.hardware import resolve_precision
    from tfstyle.config import TrainConfig
    from tfstyle.hardware import describe
    from tfstyle.optimize.memory import peak_rss_bytes

    stamps = []
    config = TrainConfig(arch=arch, conv_algorithm=conv, steps=steps, checkpoint_every=10 * steps,
                         image_size=image_size, batch_size=batch_size, precision=precision)
    with tempfile.TemporaryDirectory() as d:
        r = tfstyle.train(IMAGES / "style" / "vangogh_starry_night.jpg", IMAGES / "content", Path(d) / "m", config,
                          callback=lambda p: stamps.append(time.perf_counter()))
    gaps = [b - a for a, b in zip(stamps, stamps[1:])][warmup:]
    resolved = resolve_conv(conv, resolve_precision(config.precision), chain=True)  # VGG19 is a chain
    return {"arch": arch, "conv": conv if conv == resolved else f"{conv} ({resolved})",
            "per_step": statistics.median(gaps), "batch": batch_size, "size": image_size,
            "peak_rss_mib": peak_rss_bytes() / 2**20, "loss": statistics.mean(r.history["total"][-3:]),
            "cpu": describe()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", default="standard,light")
    p.add_argument("--convs", default="direct,auto", help="rows per network; the first is the baseline")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--warmup", type=int, default=3, help="steps left out of the median (tracing, first calls)")
    p.add_argument("--image-size", type=int, default=256, help="training crops (TrainConfig's default)")
    p.add_argument("--batch-size", type=int, default=4, help="photos per step (TrainConfig's default)")
    p.add_argument("--precision", default="auto", help="TrainConfig's precision (winograd needs float32)")
    p.add_argument("--json", type=Path, help="write the rows here")
    p.add_argument("--worker", nargs=2, metavar=("ARCH", "CONV"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(*a.worker, a.steps, a.warmup, a.image_size, a.batch_size, a.precision)))
        return 0
    if a.steps <= a.warmup + 1:
        p.error("--steps must exceed --warmup + 1")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    rows, convs = [], a.convs.split(",")
    for arch in a.archs.split(","):
        for conv in convs:
            r = subprocess.run([sys.executable, __file__, "--worker", arch, conv, "--steps", str(a.steps),
                                "--warmup", str(a.warmup), "--image-size", str(a.image_size),
                                "--batch-size", str(a.batch_size), "--precision", a.precision],
                               env=env, capture_output=True, text=True)
            if r.returncode:
                print(r.stderr[-2000:], file=sys.stderr)
                return 1
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(f"{arch} {conv}: {rows[-1]['per_step']:.2f} s/step", file=sys.stderr, flush=True)
    print(f"CPU: {rows[0]['cpu']}; batch {a.batch_size} at {a.image_size} px, median of {a.steps - a.warmup - 1} steps "
          f"after {a.warmup}; baseline: --conv-algorithm {convs[0]}\n")
    print(f"| network | conv | s/step | photos/s | vs {convs[0]} | peak RSS MiB | loss (last 3 steps) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        base = next(b for b in rows if b["arch"] == r["arch"])  # its network's first row
        print(f"| {r['arch']} | {r['conv']} | {r['per_step']:.2f} | {r['batch'] / r['per_step']:.2f} | "
              f"{base['per_step'] / r['per_step']:.2f}x | {r['peak_rss_mib']:.0f} | {r['loss']:.4f} |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
