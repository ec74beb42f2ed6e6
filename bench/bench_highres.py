"""High-resolution outputs: single-scale vs coarse-to-fine, time, peak memory and the loss reached.

    PYTHONPATH=src python bench/bench_highres.py [--sizes 1024,2048,4096] [--fine-steps 2]
        [--precision auto] [--memory-limit 10]

For each output size two configurations run, each in its own subprocess (so peak RSS, from
``resource.getrusage``, is per configuration):

* ``single`` (the baseline): all ``--fine-steps`` steps at the full size (``--scales SIZE``);
* ``multi``: automatic scales (256, 512, ... SIZE) with the steps split equally, so that the full
  size gets the same ``--fine-steps`` (total ``fine * k`` for k scales).

Both end with the same objective (same full-resolution targets), so "better" is the full-resolution
loss after equal fine-scale steps (``final loss``: the loss of the last full-size step). Scales that
do not fit in ``--memory-limit`` GiB run in tiles (Adam), as tfstyle plans them. Random-weight VGG19
(the speed per step and the memory do not depend on the weights). Content chelsea_cat, style
vangogh_starry_night, both resized to SIZE x SIZE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFSTYLE_OFFLINE", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "..", "shared", "images")


def child(size: int, mode: str, fine: int, precision: str, limit: float) -> None:
    import numpy as np

    from tfstyle.config import StylizeConfig
    from tfstyle.io.images import load_image, resize
    from tfstyle.optimize.memory import peak_rss_bytes
    from tfstyle.optimize.multiscale import MultiScaleStylizer, auto_scales

    content = resize(load_image(os.path.join(IMAGES, "content", "chelsea_cat.png")), (size, size))
    style = resize(load_image(os.path.join(IMAGES, "style", "vangogh_starry_night.jpg")), (size, size))
    n = 1 if mode == "single" else len(auto_scales(size))
    cfg = StylizeConfig(size=size, steps=fine * n, scales="auto" if mode == "multi" else str(size),
                        precision=precision, backbone="random", memory_limit=limit)
    t0 = time.perf_counter()
    ms = MultiScaleStylizer(content, style, cfg)
    assert ms.plan[-1].steps == fine, ms.plan
    stamps = []
    res = ms.run(callback=lambda p: stamps.append((p.size, time.perf_counter(), p.loss)))
    wall = time.perf_counter() - t0
    final = [s for s in stamps if s[0] == size]
    fine_times = np.diff([t0] + [t for _, t, _ in stamps])[-len(final):]
    print(json.dumps({
        "size": size, "mode": mode, "scales": [sc.size for sc in ms.plan], "tiles": [sc.tile for sc in ms.plan],
        "optimizers": [sc.optimizer for sc in ms.plan], "steps": res.steps, "fine": len(final), "wall": wall,
        # The first full-size step also pays for that scale's setup (targets, tracing): the median of
        # the rest is the cost of a step (with one fine step, it includes the setup).
        "fine_step": float(np.median(fine_times[1:] if len(fine_times) > 1 else fine_times)),
        "rss": peak_rss_bytes(), "estimate": max(sc.estimate for sc in ms.plan),
        "loss": final[-1][2], "policy": res.policy, "stop": res.stop_reason,
    }))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1024,2048,4096")
    ap.add_argument("--modes", default="single,multi")
    ap.add_argument("--fine-steps", type=int, default=2)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--memory-limit", type=float, default=10.0, help="GiB (the machine is shared)")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(int(a.child[0]), a.child[1], int(a.child[2]), a.child[3], float(a.child[4]))
        return
    gib = 1024 ** 3
    print(f"fine steps {a.fine_steps}, precision {a.precision}, memory limit {a.memory_limit} GiB; baseline: single")
    print(f"{'size':>5} {'mode':>6} {'scales (tile)':>42} {'steps':>5} {'wall s':>8} {'fine s/step':>11} "
          f"{'peak RSS GiB':>12} {'est GiB':>7} {'final loss':>10}", flush=True)
    for size in (int(s) for s in a.sizes.split(",")):
        for mode in a.modes.split(","):
            r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(size), mode,
                                str(a.fine_steps), a.precision, str(a.memory_limit)], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{size:>5} {mode:>6} failed (exit {r.returncode}): "
                      f"{(r.stderr.strip().splitlines() or [''])[-1][:200]}", flush=True)
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            scales = ",".join(f"{s}" + (f"({t})" if t else "") for s, t in zip(d["scales"], d["tiles"]))
            print(f"{size:>5} {mode:>6} {scales:>42} {d['steps']:>5} {d['wall']:>8.1f} {d['fine_step']:>11.2f} "
                  f"{d['rss'] / gib:>12.2f} {d['estimate'] / gib:>7.2f} {d['loss']:>10.4g}", flush=True)


if __name__ == "__main__":
    main()
