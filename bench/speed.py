"""Speed benchmark: tfstyle against the article's loop and the TensorFlow tutorial's loop, in one run.

    PYTHONPATH=src python bench/speed.py            # full: 256/512/1024 px, quality at 512 px
    PYTHONPATH=src python bench/speed.py --quick    # a few minutes
    PYTHONPATH=src python bench/speed.py --smoke    # seconds; what the test suite runs

Prints a Markdown table and writes ``speed.json`` and ``speed.png`` (reference objective against
wall time) to ``--out``.

What is measured, per method (one fresh process each, so thread/oneDNN settings and peak memory
are the method's own):

* **s/step** at each size: median wall time of a step after ``--warmup`` steps (which include
  tracing). For L-BFGS a step is one iteration (possibly more than one loss evaluation). tfstyle
  rows time full-size steps (a coarse-to-fine run would start smaller).
* **peak RSS** at each size: the process's high-water mark (VmHWM, reset before each size).
* **efficiency** at the middle size: the convolution GFLOP/s a step achieves (:func:`conv_gflop` of
  the row's network truncated after its layers, times the forward and backward passes of its loop,
  over its s/step) against this machine's own throughput on a lone 3x3 convolution measured in the
  same run (:func:`conv_throughput`, float32, and bfloat16 where native), in percent.
* **time to quality** at ``--quality-size``: the tutorial loop runs ``--ref-steps`` steps; the value
  of the reference objective (``baselines.ReferenceObjective``: the tutorial's style + content loss
  with each layer's error relative to its target, see ``baselines``) on its image is the target.
  Every method then runs until its image's reference objective is at or below that target, or
  ``--budget`` times the tutorial's time has passed (tfstyle rows also stop at the end of their
  configured steps). The clock starts before the model is built (setup,
  targets, tracing and steps all count) and excludes the time spent evaluating the reference
  objective at checkpoints. An image of a coarse scale is scored upsampled to the full size, as
  the output it would give.

Every row minimises the reference objective in both phases, the same layers and weights for all:
the baselines by construction, tfstyle rows through ``baselines.reference_config``; the rows differ
only in how they optimise (loop, optimiser, precision, scales, threads).

Methods are the rows of ``METHODS``: add a row to benchmark another configuration.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent.parent / "shared" / "images"


@dataclass(frozen=True)
class Method:
    """One row of the benchmark.

    Attributes:
        kind: "article", "tutorial" or "tfstyle".
        config: StylizeConfig fields that differ from the defaults (tfstyle rows).
        env: environment variables set before TensorFlow starts (e.g. oneDNN switches).
        entry: "module:function" with ``tfstyle.stylize``'s signature, for tfstyle rows.
        single_scale: optimise at the full size only (``scales`` = the size), also when timing
            quality; s/step always times full-size steps, whatever the row.
        max_size: measure s/step only up to this size (keeps slow variants' runs short).
        quality: run the time-to-quality phase too. Rows that only change how fast a step runs
            (threads, oneDNN) follow the same path per step, so their time to quality is their
            s/step ratio times the default's; skipping them keeps the run short.
        network: the loss network of a tfstyle row. Rows of other networks than VGG19 use that
            network's own default layers (the reference objective is VGG19's), so they are timed
            per step and in memory only (``quality`` False).
    """

    kind: str
    config: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    entry: str = "tfstyle.optimize.multiscale:stylize"
    quality: bool = True
    single_scale: bool = False
    max_size: int | None = None
    network: str = "vgg19"


# One speed option changed per tfstyle row, against "tfstyle default" (Adam, precision auto:
# mixed_bfloat16 where the CPU has AMX or AVX512_BF16, coarse-to-fine scales, one inter-op thread).
METHODS: dict[str, Method] = {
    # The baselines run as TensorFlow sets itself up (on an AVX2 CPU: oneDNN off); tfstyle rows import
    # tfstyle first, as its users do, which asks for oneDNN there (tfstyle.hardware.prefer_onednn).
    "article loop": Method("article"),
    "tutorial loop": Method("tutorial"),
    # The tutorial with oneDNN switched on by hand: what that switch alone does for it.
    "tutorial loop with oneDNN": Method("tutorial", env={"TF_ENABLE_ONEDNN_OPTS": "1"}),
    "tfstyle default": Method("tfstyle"),
    "tfstyle lbfgs": Method("tfstyle", {"optimizer": "lbfgs"}),
    # The default schedule is "auto": wsd for a single-scale run, exponential for a coarse-to-fine
    # one. These rows force another (--lr-schedule). Time to quality as a person gets it (whole
    # commands, the budget they give): bench/ttq.py.
    "tfstyle cosine": Method("tfstyle", {"lr_schedule": "cosine"}),
    "tfstyle exponential": Method("tfstyle", {"lr_schedule": "exponential"}),
    # TensorFlow's own 3x3 convolutions where "auto" would take Winograd F(4x4, 3x3) (float32 without oneDNN).
    "tfstyle direct convolutions": Method("tfstyle", {"conv_algorithm": "direct"}),
    # Winograd with its transforms in TensorFlow ops instead of the native kernels built on first use.
    "tfstyle TF-op transforms": Method("tfstyle", env={"TFSTYLE_NATIVE_KERNELS": "0"}),
    "tfstyle float32": Method("tfstyle", {"precision": "float32"}),
    # float32 with TensorFlow's convolutions: what Winograd buys where float32 runs on a bfloat16 CPU.
    "tfstyle float32 direct convolutions": Method("tfstyle", {"precision": "float32", "conv_algorithm": "direct"}),
    "tfstyle single scale": Method("tfstyle", single_scale=True),
    # Coarse-to-fine with the steps split equally (the default before --scale-split auto gave two
    # scales 1:2).
    "tfstyle equal split": Method("tfstyle", {"scale_split": 1.0}),
    # The coarse scale stops after 80% of its share (80 + 200 of a 300-step schedule at 512 px).
    "tfstyle coarse fraction 0.8": Method("tfstyle", {"coarse_fraction": 0.8}),
    # tfstyle's default is one inter-op thread (inter_op_threads=1); this row is TensorFlow's own.
    "tfstyle inter-op per core": Method("tfstyle", {"inter_op_threads": 0}, quality=False, max_size=512),
    # TensorFlow reads these before it starts its thread pools (default: one per core for both).
    "tfstyle 1 thread": Method("tfstyle", env={"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"},
                               quality=False, max_size=512),
    # TensorFlow's own choice on every CPU: on an AVX2 CPU, Eigen's kernels (tfstyle's default before
    # it asked for oneDNN there).
    "tfstyle oneDNN off": Method("tfstyle", env={"TF_ENABLE_ONEDNN_OPTS": "0"}, max_size=512),
    # The other loss networks, with their own default layers, smoothing and rate (per step and memory).
    "tfstyle resnet50": Method("tfstyle", quality=False, max_size=512, network="resnet50"),
    "tfstyle efficientnetb0": Method("tfstyle", quality=False, max_size=512, network="efficientnetb0"),
}
BASELINE_ARTICLE, BASELINE_TUTORIAL, DEFAULT = "article loop", "tutorial loop", "tfstyle default"
CONV_WORKER = "3x3 convolution"

PRESETS = {  # sizes, warmup, timed, quality size, reference steps, checkpoint every
    "full": dict(sizes=[256, 512, 1024], warmup=1, timed=3, quality_size=512, ref_steps=500, every=5),
    "quick": dict(sizes=[128, 256], warmup=1, timed=3, quality_size=128, ref_steps=100, every=5),
    "smoke": dict(sizes=[64], warmup=1, timed=1, quality_size=64, ref_steps=3, every=1),
}


class _Reached(Exception):
    """Raised from a progress callback to end a run that reached the target."""


# ------------------------------------------------------------------------------------------------
# worker: one method, in its own process


def _reset_peak_rss() -> bool:
    try:  # Linux >= 4.0: writing 5 resets VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load_images(content_path, style_path, size):
    from tfstyle.io.images import load_image, resize
    from tfstyle.io.images import output_shape

    c, s = load_image(content_path), load_image(style_path)
    return resize(c, output_shape(c.shape[:2], size)), resize(s, output_shape(s.shape[:2], size))


# Forward-pass equivalents of one step: the tutorial's and tfstyle's loops run one forward pass and the
# gradient with respect to the input (about one more); the article's loop runs the content, style and
# generated images through the network together, forward and backward (three of each).
PASSES = {"article": 6, "tutorial": 2, "tfstyle": 2}


def conv_gflop(network: str, layers, hw: tuple[int, int]) -> float:
    """GFLOP (two per multiply-add) of the convolutions of ``network`` truncated after ``layers``
    (what a run computes), for one forward pass of an (H, W) image. Cell counts come from the graph's
    own facts (``Backbone.facts``), so padding and strides are the network's."""
    from tfstyle.backbones import get

    facts = get(network).facts()
    needed = set().union(*(facts[n].ancestors for n in layers))
    total = 0
    for name, macs_per_cell in _conv_kernels(network):
        if name in needed:
            total += 2 * facts[name].cells(hw[0]) * facts[name].cells(hw[1]) * macs_per_cell
    return total / 1e9


@functools.lru_cache(maxsize=None)
def _conv_kernels(network: str) -> tuple[tuple[str, int], ...]:
    """(layer, multiply-adds per output cell) of every convolution of ``network``, off one weight-free build."""
    import keras

    from tfstyle.backbones import get

    out = []
    for layer in get(network).keras_model(None).layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            kh, kw, cin, cout = layer.kernel.shape  # depthwise: (kh, kw, channels, multiplier)
            out.append((layer.name, kh * kw * cin * cout))
    return tuple(out)


def conv_throughput(repeats: int = 7) -> dict:
    """GFLOP/s of a lone 3x3 convolution (256 -> 256 channels, 128x128, compiled) on this machine:
    float32, and bfloat16 where the CPU has it natively, with the kernels this process runs (oneDNN's
    or Eigen's). The ceiling a step's convolutions can hope for."""
    import tensorflow as tf

    from tfstyle.hardware import native_bfloat16, onednn_enabled

    out = {}
    tag = "" if onednn_enabled() else " (Eigen)"
    for dtype in ["float32"] + (["bfloat16"] if native_bfloat16() else []):
        x = tf.random.stateless_normal((1, 128, 128, 256), (1, 2), dtype=dtype)
        k = tf.random.stateless_normal((3, 3, 256, 256), (3, 4), dtype=dtype)
        conv = tf.function(lambda a, b: tf.nn.conv2d(a, b, 1, "SAME"))
        conv(x, k).numpy()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            conv(x, k).numpy()
            times.append(time.perf_counter() - t)
        out[dtype + tag] = 2 * 128 * 128 * 9 * 256 * 256 / statistics.median(times) / 1e9
    return out


def _row_layers(m: "Method") -> list[str]:
    import baselines

    if m.network == "vgg19":
        return baselines.STYLE_LAYERS + baselines.CONTENT_LAYERS
    from tfstyle.backbones import get

    bb = get(m.network)
    return list(bb.default_content_layers) + [n for n, _ in bb.default_style_layers]


class _Driver:
    """Runs one method for ``steps`` steps, calling ``on_step(step, image_fn)`` after each;
    ``image_fn()`` returns the method's current [0, 1] image."""

    def __init__(self, name: str, info, content, style):
        from tfstyle.backbones.weights import resolve_weights

        self.name, self.m, self.info, self.content, self.style = name, METHODS[name], info, content, style
        self.net_info = resolve_weights(info.source if info.is_random else "auto", None, self.m.network)
        self.fields = {}
        if self.m.kind == "tfstyle" and self.m.network != "vgg19":
            self.fields = {**self.m.config, "network": self.m.network}
        elif self.m.kind == "tfstyle":
            import baselines

            # The reference objective's layers and weights, computed here, before any clock starts:
            # benchmark bookkeeping, not work tfstyle itself does.
            self.fields = {**self.m.config, **baselines.reference_config(info, content, style)}

    def run(self, steps: int | None, on_step, single_scale: bool = False) -> None:
        """``steps=None``: the baselines run until stopped, tfstyle rows use their config's steps.

        Every row minimises the reference objective: the baselines by construction, tfstyle rows
        with its layers and weights (``baselines.reference_config``). ``single_scale``: tfstyle rows
        optimise at the full size only."""
        if self.m.kind in ("article", "tutorial"):
            import baselines

            loop = (baselines.ArticleLoop if self.m.kind == "article" else baselines.TutorialLoop)(
                self.info, self.content, self.style)
            i = 0
            while steps is None or i < steps:
                loop.step()
                i += 1
                on_step(i, loop.current)
            return
        import importlib

        from tfstyle import StylizeConfig

        module, fn = self.m.entry.split(":")
        stylize = getattr(importlib.import_module(module), fn)
        fields = dict(self.fields)
        size = max(self.content.shape[:2])
        if single_scale or self.m.single_scale:
            fields["scales"] = str(size)
        config = StylizeConfig(size=size, **fields)
        if steps is not None:
            config = config.replace(steps=steps)
        weights = self.info if self.m.network == "vgg19" else self.net_info
        result = stylize(self.content, self.style, config, callback=lambda p: on_step(p.step, lambda: p.image),
                         weights=weights)
        if result.stop_reason not in ("done", "converged"):
            raise RuntimeError(f"{self.name}: {result.stop_reason}: {result.message}")


def worker(name: str, a) -> dict:
    if METHODS[name].kind == "tfstyle":
        import tfstyle  # noqa: F401 - first, as its users import it (it may ask TensorFlow for oneDNN)
    import tensorflow as tf  # noqa: F401 - imported before any clock starts

    from tfstyle.backbones.weights import resolve_weights

    info = resolve_weights(a.backbone)
    out = {"name": name, "per_step": {}, "peak_rss_mib": {}, "policy": None}
    m = METHODS[name]
    for size in a.sizes:
        if m.max_size and size > m.max_size and size != min(a.sizes):
            continue
        content, style = _load_images(a.content, a.style, size)
        driver = _Driver(name, info, content, style)  # its reference-objective set-up is not the row's memory
        _reset_peak_rss()
        stamps = []
        # Full-size steps only (a coarse-to-fine run's first steps are smaller).
        driver.run(a.warmup + a.timed, lambda i, img: stamps.append(time.perf_counter()), single_scale=True)
        deltas = [t1 - t0 for t0, t1 in zip(stamps, stamps[1:])][a.warmup - 1:]
        out["per_step"][str(size)] = statistics.median(deltas) if deltas else None
        out["peak_rss_mib"][str(size)] = _peak_rss_mib()
        out.setdefault("gflop_per_step", {})[str(size)] = PASSES[m.kind] * conv_gflop(
            m.network, _row_layers(m), content.shape[:2])
    if m.kind == "tfstyle":
        from tfstyle import StylizeConfig
        from tfstyle.hardware import resolve_precision

        out["policy"] = resolve_precision(StylizeConfig(**m.config).precision)
    else:
        out["policy"] = "float32"
    if a.quality_size and METHODS[name].quality:
        out["trace"] = _quality_trace(name, info, a)
    return out


def _quality_trace(name, info, a) -> list[tuple[int, float, float]]:
    """[(step, seconds, reference objective)] at checkpoints, seconds excluding the evaluations."""
    import baselines

    from tfstyle.io.images import resize

    content, style = _load_images(a.content, a.style, a.quality_size)
    ref = baselines.ReferenceObjective(info, content, style)
    ref(content)  # trace the evaluator before the clock starts
    trace = [(0, 0.0, ref(content))]
    driver = _Driver(name, info, content, style)
    excluded = 0.0
    t0 = time.perf_counter()
    limit = a.target is not None
    max_steps = a.ref_steps if not limit else None

    def on_step(i, image_fn):
        nonlocal excluded
        now = time.perf_counter()
        if i % a.every and i != max_steps and not (limit and now - t0 - excluded > a.time_limit):
            return
        image = image_fn()
        if image.shape != content.shape:  # a coarse scale: scored as the output it would give now
            image = resize(image, content.shape[:2])
        value = ref(image)
        trace.append((i, now - t0 - excluded, value))
        excluded += time.perf_counter() - now
        if limit and (value <= a.target or now - t0 - excluded > a.time_limit):
            raise _Reached

    try:
        driver.run(max_steps, on_step)
    except _Reached:
        pass
    return trace


# ------------------------------------------------------------------------------------------------
# driver: one process per method, then the table and the plot


def _run_worker(name: str, a, target=None, time_limit=None) -> dict:
    m = METHODS[name]
    if a.in_process and not m.env:
        import copy

        b = copy.copy(a)
        b.target, b.time_limit = target, time_limit
        r = worker(name, b)
        r["peak_rss_mib"] = {}  # not the method's own in a shared process
        return r
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    from tfstyle.hardware import ONEDNN_ENV, onednn_asked_by_tfstyle

    if m.kind != "tfstyle" and onednn_asked_by_tfstyle():
        env.pop(ONEDNN_ENV, None)  # a baseline starts TensorFlow as TensorFlow decides
    env.update(m.env)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    args = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--sizes", ",".join(map(str, a.sizes)),
            "--warmup", str(a.warmup), "--timed", str(a.timed), "--quality-size", str(a.quality_size),
            "--ref-steps", str(a.ref_steps), "--every", str(a.every), "--backbone", a.backbone,
            "--content", str(a.content), "--style", str(a.style)]
    if target is not None:
        args += ["--target", repr(target), "--time-limit", repr(time_limit)]
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"benchmark of {name!r} failed:\n{tail}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _conv_ceiling(a) -> dict:
    """:func:`conv_throughput` in fresh processes (threads as every row's): with the kernels tfstyle
    runs, and with oneDNN off (Eigen's: key "float32 (Eigen)") where those are oneDNN's; in
    process, this process's."""
    if a.in_process:
        return conv_throughput()
    out = {}
    for extra in ({}, {"TF_ENABLE_ONEDNN_OPTS": "0"}):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
        r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", CONV_WORKER],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("the 3x3 convolution benchmark failed:\n" + "\n".join(r.stderr.splitlines()[-5:]))
        got = json.loads(r.stdout.strip().splitlines()[-1])
        if extra and set(got) <= set(out):
            break  # oneDNN off was tfstyle's setting already
        out.update(got)
    return out


def efficiency(r: dict, size: str, conv: dict) -> tuple[float, float] | None:
    """``(GFLOP/s, percent of the 3x3 convolution's GFLOP/s in the row's precision)`` at ``size``."""
    ps, gf = r.get("per_step", {}).get(size), r.get("gflop_per_step", {}).get(size)
    if not ps or not gf:
        return None
    rate = gf / ps
    dtype = "bfloat16" if "bfloat16" in (r.get("policy") or "") else "float32"
    ceiling = max((v for k, v in conv.items() if k.split()[0] == dtype), default=None)  # the fastest kernels
    return rate, (100 * rate / ceiling if ceiling else float("nan"))


def time_to_target(trace, target) -> float | None:
    """First checkpoint time at which the reference objective is <= target (None: never)."""
    for _, t, v in trace:
        if v <= target:
            return t
    return None


def _fmt(x, spec="{:.3f}") -> str:
    return "-" if x is None else spec.format(x)


def table(results: dict, a, target: float | None, conv: dict | None = None) -> str:
    sizes = [str(s) for s in a.sizes]
    mid = "512" if "512" in sizes else sizes[len(sizes) // 2]
    head = ["method"] + [f"s/step {s}" for s in sizes] + [f"peak RSS MiB {s}" for s in sizes]
    head += [f"vs article {mid}", f"vs tutorial {mid}"]
    if conv:
        head += [f"GFLOP/s {mid}", "of 3x3 conv"]
    if target is not None:
        head += [f"time to quality {a.quality_size} (s)", "vs tutorial"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    art = results.get(BASELINE_ARTICLE, {}).get("per_step", {}).get(mid)
    tut = results.get(BASELINE_TUTORIAL, {}).get("per_step", {}).get(mid)
    tut_q = time_to_target(results[BASELINE_TUTORIAL]["trace"], target) if target is not None else None
    for name, r in results.items():
        ps = r["per_step"]
        rss = r["peak_rss_mib"]
        row = [name] + [_fmt(ps.get(s)) for s in sizes] + [_fmt(rss.get(s), "{:.0f}") for s in sizes]
        mine = ps.get(mid)
        row += [_fmt(art / mine if art and mine else None, "{:.2f}x"),
                _fmt(tut / mine if tut and mine else None, "{:.2f}x")]
        if conv:
            e = efficiency(r, mid, conv)
            row += [_fmt(e and e[0], "{:.0f}"), _fmt(e and e[1], "{:.0f}%")]
        if r.get("error"):
            row += [f"failed: {r['error']}", "-"] if target is not None else []
        elif target is not None and not r.get("trace"):
            row += ["(per step only)", "-"]
        elif target is not None:
            q = time_to_target(r["trace"], target)
            if q is None:
                last = r["trace"][-1]
                row += [f"> {last[1]:.1f} (not reached; best {min(v for _, _, v in r['trace']):.4g})", "-"]
            else:
                row += [f"{q:.1f}", _fmt(tut_q / q if tut_q and q else None, "{:.1f}x")]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot(results: dict, target: float | None, a, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Log-log: the objective falls by an order of magnitude and the rows' times span two or more.
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, r in results.items():
        if r.get("trace"):
            pts = [(t, v) for _, t, v in r["trace"] if t > 0]
            ax.plot([t for t, _ in pts], [v for _, v in pts], label=name, marker="." if len(pts) < 40 else None)
    if target is not None:
        ax.axhline(target, color="k", linestyle="--", linewidth=0.8,
                   label=f"target: tutorial after {a.ref_steps} steps")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("wall time (s, log), setup included, reference evaluations excluded")
    ax.set_ylabel("reference objective (log)")
    ax.set_title(f"time to quality at {a.quality_size} px (baselines.objective)")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from tfstyle.hardware import describe

    return f"{model}, {os.cpu_count()} logical CPUs, {describe()}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="tfstyle speed benchmark against the article and tutorial loops")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, 100 reference steps (minutes)")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps (seconds): checks the code runs")
    p.add_argument("--sizes", help="comma-separated longest sides for s/step (default by mode)")
    p.add_argument("--warmup", type=int, help="untimed first steps (tracing) per size")
    p.add_argument("--timed", type=int, help="timed steps per size (median reported)")
    p.add_argument("--quality-size", type=int, help="size of the time-to-quality runs (0: skip them)")
    p.add_argument("--ref-steps", type=int, help="tutorial steps that define the target value")
    p.add_argument("--every", type=int, help="evaluate the reference objective every N steps")
    p.add_argument("--budget", type=float, default=1.5,
                   help="stop a method that has not reached the target after BUDGET x the tutorial's time")
    p.add_argument("--methods", help="comma-separated rows of METHODS (default: all); the tutorial loop always "
                                     "runs (its value is the target)")
    p.add_argument("--backbone", default="random", choices=["random", "auto", "vgg19"],
                   help="VGG19 weights for every method (speed does not depend on their values)")
    p.add_argument("--content", type=Path, default=IMAGES / "content" / "chelsea_cat.png")
    p.add_argument("--style", type=Path, default=IMAGES / "style" / "vangogh_starry_night.jpg")
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder for speed.json and speed.png")
    p.add_argument("--in-process", action="store_true",
                   help="run rows without environment settings in this process (faster start; no peak RSS)")
    p.add_argument("--replot", action="store_true", help="redraw speed.png from the speed.json in --out, run nothing")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--target", type=float, help=argparse.SUPPRESS)
    p.add_argument("--time-limit", type=float, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    preset = PRESETS["smoke" if a.smoke else "quick" if a.quick else "full"]
    for k, v in preset.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if isinstance(a.sizes, str):
        a.sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    if a.warmup < 1 or a.timed < 1:
        p.error("--warmup and --timed must be at least 1")
    if a.worker == CONV_WORKER:
        import tfstyle  # noqa: F401 - first, as in a tfstyle row
        print(json.dumps(conv_throughput()))
        return 0
    if a.worker:
        print(json.dumps(worker(a.worker, a)))
        return 0
    if a.replot:
        data = json.loads((a.out / "speed.json").read_text())
        saved = argparse.Namespace(**data["args"])
        plot(data["results"], data["target"], saved, a.out / "speed.png")
        print(table(data["results"], saved, data["target"], data.get("conv3x3_gflops")))
        print(f"wrote {a.out / 'speed.png'}")
        return 0
    if a.in_process:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        sys.path.insert(0, str(HERE))

    names = list(METHODS)
    if a.methods:
        wanted = [n.strip() for n in a.methods.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in METHODS]
        if unknown:
            p.error(f"unknown method {unknown[0]!r}; known: {', '.join(METHODS)}")
        names = [n for n in names if n in wanted or n == BASELINE_TUTORIAL]
    # The tutorial runs first: its reference-objective value after --ref-steps is everyone's target.
    names.sort(key=lambda n: n != BASELINE_TUTORIAL)
    conv = _conv_ceiling(a)
    results, target, limit, failed = {}, None, None, 0
    for name in names:
        t = time.perf_counter()
        try:
            if name == BASELINE_TUTORIAL:
                r = _run_worker(name, a)
                if a.quality_size:
                    last = r["trace"][-1]
                    target, limit = last[2], a.budget * last[1]
            else:
                r = _run_worker(name, a, target, limit)
        except RuntimeError as e:
            if name == BASELINE_TUTORIAL:
                raise
            failed += 1
            r = {"name": name, "per_step": {}, "peak_rss_mib": {}, "error": str(e).splitlines()[-1][:200]}
        results[name] = r
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "speed.partial.json").write_text(json.dumps(results))
        print(f"{name}: done in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    results = {n: results[n] for n in METHODS if n in results}

    a.out.mkdir(parents=True, exist_ok=True)
    text = table(results, a, target, conv)
    desc = machine()
    cmd = "python bench/speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = (f"Machine: {desc}. Command: `{cmd.strip()}`.\n"
              f"s/step: median after {a.warmup} warm-up step(s) of {a.warmup + a.timed}; ratios are "
              f"baseline s/step / method s/step.\nEfficiency: convolution GFLOP per step (forward and input "
              f"gradient of the network truncated after the row's layers) / s/step, against a lone 3x3 "
              f"convolution here: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in conv.items()) + ".")
    if target is not None:
        header += (f"\nTime to quality: wall time (setup included, reference evaluations excluded) until the "
                   f"reference objective (baselines.objective) <= {target:.6g}, the tutorial loop's "
                   f"value after {a.ref_steps} steps at {a.quality_size} px; budget {a.budget:g}x the tutorial's time.")
    print(header + "\n\n" + text)
    (a.out / "speed.json").write_text(json.dumps({"machine": desc, "command": cmd, "target": target,
                                                  "args": {k: (str(v) if isinstance(v, Path) else v)
                                                           for k, v in vars(a).items()},
                                                  "conv3x3_gflops": conv, "results": results}, indent=1))
    if a.quality_size:
        plot(results, target, a, a.out / "speed.png")
    (a.out / "speed.partial.json").unlink(missing_ok=True)
    print(f"\nwrote {a.out / 'speed.json'}" + (f" and {a.out / 'speed.png'}" if a.quality_size else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
