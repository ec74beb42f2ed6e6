"""Throughput of ``tfstyle apply`` on this machine against the same job on Ray Data.

Three ways to stylise the same folder of photos with the same model (the standard transform network,
random weights: speed does not depend on them), each a whole command as a person runs it,
interleaved over ``--rounds`` (the baseline is the local apply, measured in the same run):

- ``local``: ``tfstyle apply MODEL PHOTOS -o OUT`` (no Ray);
- ``ray-local``: ``--cluster local``: Ray started inside the command, one actor per core;
- ``ray-nodes``: ``--cluster HOST:PORT``: a head and worker nodes started beforehand with ``ray start``
  on this machine, each pinned (taskset) to its share of the cores and given that many CPUs.

Three figures per run: the whole command's images per second (start-up included: Python, TensorFlow,
Ray, the actors loading the model), the seconds to the first output (the start-up), and the steady rate, from the outputs' modification times over
the last three quarters of the outputs (every actor has loaded its model by then): what a long job
converges to, and the figure the engine's overhead is judged on.

    PYTHONPATH=src python bench/bench_cluster.py [--size 256] [--images 96] [--rounds 2] [--nodes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))
SHARED = BENCH.parents[1] / "shared" / "images" / "content"


def cpu_name() -> str:
    """The CPU's model name and its widest vector extension (the kind the results hold for)."""
    name, flags = platform.processor() or "unknown CPU", set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
    kind = next((f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f in flags), "")
    return f"{name} ({kind})" if kind else name


def make_photos(folder: Path, n: int, size: int) -> Path:
    """``n`` photos of ``size`` px square: crops of the sample photos (random textures without them)."""
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sources = sorted(SHARED.iterdir()) if SHARED.is_dir() else []
    for i in range(n):
        if sources:
            with Image.open(sources[i % len(sources)]) as im:
                im = im.convert("RGB")
                s = int(min(im.size) * rng.uniform(0.5, 0.9))
                x, y = int(rng.integers(0, im.size[0] - s + 1)), int(rng.integers(0, im.size[1] - s + 1))
                im = im.crop((x, y, x + s, y + s)).resize((size, size), Image.Resampling.LANCZOS)
        else:
            small = (rng.random((size // 16, size // 16, 3)) * 255).astype(np.uint8)
            im = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
        im.save(folder / f"photo{i:04d}.jpg", quality=92)
    return folder


def make_model(folder: Path) -> Path:
    from tfstyle.config import NETWORK_PRESETS
    from tfstyle.feedforward.networks import build_transform_net, save_model_dir

    net = NETWORK_PRESETS["standard"]
    return save_model_dir(build_transform_net(net, seed=0), net, folder, {"style": "random weights"})


class Nodes:
    """A head and ``n - 1`` worker nodes on this machine, node i pinned to core i (of ``cores``)."""

    def __init__(self, tmp: Path, n: int, cores: list[int]):
        from raycluster import RayCluster

        share = max(1, len(cores) // n)
        groups = [cores[i * share:(i + 1) * share] or cores[-share:] for i in range(n)]
        # ray start passes its CPU affinity on to every process it starts.
        self.cluster = RayCluster(tmp, head_cpus=share, worker_cpus=(share,) * (n - 1),
                                  pin=[",".join(map(str, g)) for g in groups])
        self.address, self.groups = self.cluster.address, groups

    def stop(self):
        self.cluster.stop()


def run(cmd: list[str], out: Path, n: int, env: dict, prefix: list[str]) -> dict:
    """Time one whole command (behind ``prefix``: the cluster's loopback-only network namespace, for
    every way alike); the steady rate from its outputs' modification times."""
    t = time.perf_counter()
    r = subprocess.run([*prefix, *cmd], capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    stamps = sorted(p.stat().st_mtime for p in out.rglob("*.jpg"))
    assert len(stamps) == n, (len(stamps), n)
    first_output = stamps[0] - (time.time() - wall)
    # The last three quarters of the outputs: every actor has loaded its model by then.
    first = n // 4
    span = stamps[-1] - stamps[first]
    steady = (n - 1 - first) / span if span > 0 else float("nan")
    return {"wall_s": wall, "first_output_s": first_output, "images_per_s": n / wall,
            "steady_images_per_s": steady}


def _interrupt(signum, frame):
    """SIGTERM (a background run stopped) stops the nodes this run started, as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="side of the square photos, px")
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the three ways")
    ap.add_argument("--nodes", type=int, default=2, help="ray-nodes: a head and nodes-1 worker nodes")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--out", default=str(BENCH / "results" / "cluster"), help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, _interrupt)
    cores = sorted(os.sched_getaffinity(0))
    tmp = Path(tempfile.mkdtemp(prefix="bench_cluster_"))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # Ray's default for a local cluster writes a token into the home folder; the benchmark leaves none.
    env.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    os.environ.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    photos = make_photos(tmp / "photos", args.images, args.size)
    model = make_model(tmp / "model")
    nodes = Nodes(tmp / "ray", args.nodes, cores)
    base = [sys.executable, "-m", "tfstyle", "apply", str(model), str(photos), "--format", "jpg", "-q",
            "--batch-size", str(args.batch_size)]
    ways = {"local": [], "ray-local": ["--cluster", "local"], "ray-nodes": ["--cluster", nodes.address]}
    results: dict[str, list[dict]] = {k: [] for k in ways}
    try:
        for r in range(args.rounds):
            order = list(ways) if r % 2 == 0 else list(reversed(ways))
            for name in order:
                out = tmp / f"out-{name}-{r}"
                results[name].append(run(base + ["-o", str(out)] + ways[name], out, args.images, env,
                                         nodes.cluster.prefix))
                shutil.rmtree(out)
                print(f"round {r} {name:10} {results[name][-1]}", file=sys.stderr, flush=True)
    finally:
        nodes.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in results.items()}
    load = os.getloadavg()
    lines = [f"tfstyle apply vs --cluster, {args.images} photos at {args.size} px, standard network, "
             f"batch {args.batch_size}, JPEG out; {cpu_name()}, {len(cores)} cores; median of {args.rounds} "
             f"interleaved rounds; load average at the end {load[0]:.1f} (the machine is shared)",
             "",
             "| way | whole command, images/s | x local | steady, images/s | x local | first output, s | wall, s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for k, m in med.items():
        lines.append(f"| {k} | {m['images_per_s']:.2f} | {m['images_per_s'] / med['local']['images_per_s']:.2f} "
                     f"| {m['steady_images_per_s']:.2f} | "
                     f"{m['steady_images_per_s'] / med['local']['steady_images_per_s']:.2f} | "
                     f"{m['first_output_s']:.1f} | {m['wall_s']:.1f} |")
    lines += ["", f"ray-nodes: a head and {args.nodes - 1} worker node(s), pinned to cores "
              f"{', '.join('+'.join(map(str, g)) for g in nodes.groups)}; ray-local: one actor per core."]
    print("\n".join(lines))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    Path(args.out + ".json").write_text(json.dumps(
        {"cpu": cpu_name(), "cores": len(cores), "size": args.size, "images": args.images, "rounds": args.rounds,
         "batch_size": args.batch_size, "nodes": args.nodes, "load_average": load, "runs": results, "median": med},
        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
