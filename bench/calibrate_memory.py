"""Measured peak RSS next to tfstyle.optimize.memory's estimate, one subprocess per configuration.

    PYTHONPATH=src python bench/calibrate_memory.py [--sizes 256,512,1024] [--steps 2] [--networks vgg19,resnet50]

Each configuration runs ``--steps`` real optimisation steps in a fresh interpreter (the network's
random-weight variant, its default layers and smoothing, the default precision policy) and reports
its peak RSS; the estimate is what tfstyle would plan with. Baseline: the estimate itself (ratio
column).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFSTYLE_OFFLINE", "1")

CONTENT = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "images", "content", "chelsea_cat.png")
STYLE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "images", "style", "vangogh_starry_night.jpg")


def child(size: int, optimizer: str, tile: int, steps: int, precision: str, network: str,
          pooling: str = "auto") -> None:
    import numpy as np

    from tfstyle.config import StylizeConfig
    from tfstyle.io.images import load_image, resize
    from tfstyle.optimize.memory import estimate_step, peak_rss_bytes
    from tfstyle.optimize.multiscale import MultiScaleStylizer

    # Square inputs so that "size" is both sides (the worst case for a given longest side).
    content = resize(load_image(CONTENT), (size, size))
    style = resize(load_image(STYLE), (size, size))
    cfg = StylizeConfig(size=size, steps=steps, scales=str(size), optimizer=optimizer, tile_size=tile,
                        backbone="random", memory_limit=1000.0, precision=precision, network=network,
                        pooling=pooling)
    ms = MultiScaleStylizer(content, style, cfg)
    sc = ms.plan[0]
    est = estimate_step(sc.shape, cfg, ms.extractor.backbone, sc.tile, sc.optimizer, ms.policy)
    res = ms.run()
    assert np.isfinite(res.history["total"]).all()
    print(json.dumps({"network": network, "size": size, "optimizer": sc.optimizer, "tile": sc.tile, "policy": ms.policy,
                      "rss": peak_rss_bytes(), "estimate": est.total, "activations": est.activations,
                      "buffers": est.buffers, "per_step": res.timings["per_step"]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--optimizers", default="adam,lbfgs")
    ap.add_argument("--tile", type=int, default=0, help="tile size (0: untiled)")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--networks", default="vgg19")
    ap.add_argument("--pooling", default="auto", help="VGG pooling: auto (avg for the weight-free VGG), max or avg")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(int(a.child[0]), a.child[1], int(a.child[2]), int(a.child[3]), *a.child[4:])
        return
    gib = 1024 ** 3
    print(f"{'network':>15} {'size':>6} {'optimizer':>9} {'tile':>5} {'policy':>15} {'peak RSS GiB':>13} "
          f"{'estimate GiB':>13} {'est/RSS':>8}")
    for network in a.networks.split(","):
        for size in (int(s) for s in a.sizes.split(",")):
            for opt in a.optimizers.split(","):
                _row(network, size, opt, a, gib)


def _row(network: str, size: int, opt: str, a, gib: int) -> None:
    r = subprocess.run([sys.executable, __file__, "--child", str(size), opt, str(a.tile), str(a.steps), a.precision,
                        network, a.pooling], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{network:>15} {size:>6} {opt:>9} failed: {r.stderr.strip().splitlines()[-1:]}")
        return
    d = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"{network:>15} {size:>6} {d['optimizer']:>9} {d['tile']:>5} {d['policy']:>15} {d['rss'] / gib:>13.2f} "
          f"{d['estimate'] / gib:>13.2f} {d['estimate'] / d['rss']:>8.2f}   "
          f"(acts {d['activations'] / gib:.2f}, buffers {d['buffers'] / gib:.2f})", flush=True)


if __name__ == "__main__":
    main()
