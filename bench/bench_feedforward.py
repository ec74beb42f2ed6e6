"""Throughput of the feed-forward networks: Keras vs TFLite (float32, float16, int8) under LiteRT.

Prints a table of images per second (batch 1, square RGB input) at 256, 512 and 1024 px for both
network sizes, the speed-up of each TFLite variant over the Keras model (the baseline) measured
in the same run, and the process CPU time per image (steadier than wall time on a shared machine). Weights are random (speed does not depend on them); int8 is calibrated on centre
crops of the sample photos.

    PYTHONPATH=src python bench/bench_feedforward.py [--sizes 256,512,1024] [--seconds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images" / "content"


def timed(fn, seconds: float, min_runs: int = 3) -> tuple[float, float]:
    """(median wall seconds per call, mean process CPU seconds per call) after one warm-up call,
    running for ~``seconds`` (>= ``min_runs`` calls).

    CPU time counts the work of all of this process's threads and hardly grows when other jobs
    share the cores, so it is the steadier figure on a busy machine: with one thread, 1 / CPU time
    is what one idle core would deliver.
    """
    fn()
    times = []
    start, cpu0 = time.perf_counter(), time.process_time()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), (time.process_time() - cpu0) / len(times)


def tflite_runner(interpreter_class, blob: bytes, x, threads: int):
    """A call that runs the TFLite model ``blob`` on the batch ``x`` and returns its output, with the
    interpreter resized and allocated for ``x``'s shape once, outside the timed calls."""
    it = interpreter_class(model_content=blob, num_threads=threads)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(inp["index"], x.shape)
    it.allocate_tensors()

    def run():
        it.set_tensor(inp["index"], x)
        it.invoke()
        return it.get_tensor(out["index"])

    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--networks", default="light,standard")
    ap.add_argument("--seconds", type=float, default=3.0, help="measuring time per cell")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="LiteRT threads")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    import tfstyle  # noqa: F401 - first, as its users import it (it may ask TensorFlow for oneDNN)
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from tfstyle.config import NETWORK_PRESETS
    from tfstyle.export.tflite import tflite_bytes
    from tfstyle.io.images import load_image, resize
    from tfstyle.feedforward.networks import build_transform_net, network_cost

    photos = []
    for p in sorted(SHARED.iterdir()):
        a = load_image(p)
        h, w = a.shape[:2]
        m = min(h, w)
        photos.append(resize(a[(h - m) // 2:(h - m) // 2 + m, (w - m) // 2:(w - m) // 2 + m], (256, 256)))

    print(f"tfstyle feed-forward throughput, batch 1, {os.cpu_count()} CPUs, LiteRT threads={args.threads}, "
          f"TF {tf.__version__}; median over >= {args.seconds:g} s per cell")
    print()
    print(f"{'network':9} {'params':>8} {'GFLOP@256':>9}")
    for name in args.networks.split(","):
        c = network_cost(NETWORK_PRESETS[name], (256, 256))
        print(f"{name:9} {c['params']:>8,} {c['flops'] / 1e9:>9.2f}")
    print()
    header = (f"{'network':9} {'size':>5} {'variant':16} {'img/s':>8} {'ms/img':>8} {'vs Keras':>8} "
              f"{'CPU ms/img':>10} {'img/CPU-s':>9}")
    print(header)
    print("-" * len(header))
    for name in args.networks.split(","):
        model = build_transform_net(NETWORK_PRESETS[name], seed=0)
        fn = tf.function(model.__call__, reduce_retracing=True)
        blobs = {q: tflite_bytes(model, q, photos if q == "int8" else None) for q in ("none", "float16", "int8")}
        for size in sizes:
            x = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
            xt = tf.constant(x)
            base, base_cpu = timed(lambda: fn(xt).numpy(), args.seconds)
            rows = [("Keras (baseline)", base, base_cpu)]
            for q, label in (("none", "TFLite float32"), ("float16", "TFLite float16"), ("int8", "TFLite int8")):
                rows.append((label, *timed(tflite_runner(Interpreter, blobs[q], x, args.threads), args.seconds)))
            for label, sec, cpu in rows:
                print(f"{name:9} {size:>5} {label:16} {1 / sec:>8.2f} {sec * 1e3:>8.1f} {base / sec:>7.2f}x "
                      f"{cpu * 1e3:>10.1f} {1 / cpu:>9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
