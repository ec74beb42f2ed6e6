"""What bounds time to quality on this CPU: the floor of a step, and the ratio it allows.

    PYTHONPATH=src python bench/ceiling.py --size 256 --budget 80 --out bench/results/avx512_bf16
    PYTHONPATH=src python bench/ceiling.py --size 512 --budget 120 --out bench/results/avx512_bf16
    PYTHONPATH=src python bench/ceiling.py --smoke --out /tmp/ceiling     # the test suite's

``bench/ttq.py`` finds the smallest ``--steps`` whose output reaches the tutorial loop's and times
both as whole commands. This script asks how far that ratio could go at that budget, measuring in
one run, on one machine:

* the tutorial loop's whole command (as ``ttq.py`` runs it) and one of its steps;
* tfstyle's default command at ``--budget`` steps (the budget ``ttq.py`` found) and one of its steps
  at every scale of the default plan (the library's own loop: objective, gradient, Adam, the clip);
* the floor of a step: the loss network alone under the default precision, forward pass and input
  gradient of the sum of the tapped layers, no loss and no optimiser;
* importing TensorFlow and Keras (``python -c "import tensorflow, keras"``), which every TensorFlow
  command pays, the tutorial's included.

From these: the ratio if tfstyle's command were nothing but the import and its steps, and if its
steps cost no more than the loss network alone; and how many steps a 10x ratio would leave at that
floor. One lever on the step is measured end to end as well: Winograd F(4x4, 3x3) with bfloat16
products (``bench/winograd.py``'s ``F4B``: float32 transforms, a bfloat16 batched matmul), put in
the place of every eligible convolution of the library's own run (``tfstyle.stylize``: its scales,
loop, schedule and targets unchanged): the budget it needs to reach the same target, and that run's
time against the default run's at its budget, both in this process.

Prints Markdown tables and writes ``ceiling_<size>.json`` and ``.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ttq  # noqa: E402

PRESETS = {  # size, tutorial steps, tfstyle budget, steps timed per measure, imports timed
    "full": dict(size=256, ref_steps=400, budget=None, timed=8, imports=3),
    "smoke": dict(size=48, ref_steps=3, budget=2, timed=2, imports=1),
}
# The budgets bench/ttq.py found for the default command (docs/time-to-quality.md), per size.
BUDGETS = {256: 80, 512: 120}
# Budgets tried for the Winograd lever, as extra steps over --budget, until one reaches the target.
F4B_EXTRA = (0, 10, 20, 30)


def import_seconds(n: int) -> float:
    """Median wall time of ``python -c "import tensorflow, keras"`` (interpreter start to exit)."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import tensorflow, keras"], check=True, capture_output=True,
                       env=ttq._env(False))
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def median_step(step, timed: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(timed):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@contextlib.contextmanager
def bfloat16_product_winograd():
    """Winograd convolutions built while this is open multiply in bfloat16 (``bench/winograd.py``'s
    ``Bfloat16ProductsConv``) instead of float32."""
    import tfstyle.kernels.winograd as kw
    from winograd import Bfloat16ProductsConv

    saved = kw.WinogradConv
    kw.WinogradConv = lambda g, *args, **kwargs: Bfloat16ProductsConv(g)
    try:
        yield
    finally:
        kw.WinogradConv = saved


class Pieces:
    """In-process measurements at one size (scale): steps of the tutorial, of tfstyle, of the network."""

    def __init__(self, a, info, score):
        self.a, self.info, self.score = a, info, score

    @functools.cache
    def images(self, size):
        from speed import _load_images

        return _load_images(self.a.content, self.a.style, size)

    @functools.cache
    def fields(self, size):
        import baselines

        content, style = self.images(size)
        return baselines.reference_config(self.info, content, style)

    def tutorial_step(self, size) -> float:
        import baselines

        loop = baselines.TutorialLoop(self.info, *self.images(size))
        return median_step(loop.step, self.a.timed)

    def stylizer(self, size, steps):
        from tfstyle import StylizeConfig
        from tfstyle.optimize.stylizer import Stylizer

        content, style = self.images(size)
        config = StylizeConfig(size=size, steps=steps, backbone="random", **self.fields(size))
        return Stylizer(content, style, config, self.info)

    def tfstyle_step(self, size) -> float:
        """The library's loop: the median interval between its progress reports after the first few."""
        stamps = []
        self.stylizer(size, self.a.timed + 3).run(callback=lambda p: stamps.append(time.perf_counter()))
        return statistics.median(b - a for a, b in zip(stamps[2:], stamps[3:]))

    def extractor(self, size, winograd_bf16: bool = False):
        from tfstyle.backbones.extractor import FeatureExtractor
        from tfstyle.hardware import resolve_precision

        f = self.fields(size)
        layers = list(f["content_layers"]) + [n for n, _ in f["style_layers"]]
        if winograd_bf16:
            with bfloat16_product_winograd():
                return FeatureExtractor(layers, self.info, "float32", pooling=f["pooling"], conv="winograd")
        return FeatureExtractor(layers, self.info, resolve_precision("auto"), pooling=f["pooling"])

    def network_step(self, size, winograd_bf16: bool = False) -> float:
        """Forward pass and input gradient of the loss network alone (the sum of its tapped layers)."""
        import tensorflow as tf

        ex = self.extractor(size, winograd_bf16)
        x = tf.constant(self.images(size)[0][None])

        @tf.function(autograph=False)
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.add_n([tf.reduce_sum(tf.cast(v, tf.float32)) for v in ex(x, keep_bfloat16=True).values()])
            return tape.gradient(total, x)

        return median_step(lambda: step(x).numpy(), self.a.timed)

    def run(self, size, steps, winograd_bf16: bool = False) -> tuple[float, float]:
        """The library's whole run (``tfstyle.stylize``: every scale of the default plan), in this process:
        seconds and the reference objective of its 8-bit output. ``winograd_bf16``: float32 with
        Winograd convolutions multiplying in bfloat16, everything else as the default run."""
        import numpy as np

        from tfstyle import StylizeConfig
        from tfstyle.io.images import load_image
        from tfstyle.optimize.multiscale import stylize

        extra = dict(precision="float32", conv_algorithm="winograd") if winograd_bf16 else {}
        config = StylizeConfig(size=size, steps=steps, backbone="random", **self.fields(size), **extra)
        content, style = load_image(self.a.content), load_image(self.a.style)
        with bfloat16_product_winograd() if winograd_bf16 else contextlib.nullcontext():
            t = time.perf_counter()
            result = stylize(content, style, config, weights=self.info)
            seconds = time.perf_counter() - t
        if winograd_bf16 and "Winograd" not in result.convolutions:
            raise RuntimeError(f"the Winograd run ran {result.convolutions}")
        return seconds, self.score(np.round(np.clip(result.image, 0, 1) * 255.0) / 255.0)

    def f4b_budget(self, size, budget, target) -> dict:
        """The first budget of ``budget + F4B_EXTRA`` whose Winograd-bfloat16-products run reaches
        ``target``, every probe's seconds and value, and the default run at ``budget`` beside it."""
        out = {"default": self.run(size, budget), "probes": {}, "steps": None}
        for k in (budget + e for e in F4B_EXTRA):
            out["probes"][k] = self.run(size, k, winograd_bf16=True)
            if out["probes"][k][1] <= target:
                out["steps"] = k
                break
        return out


def plan(size: int, budget: int) -> list[tuple[int, int]]:
    """``(scale, steps)`` of the default command's plan at ``size`` with ``budget`` steps."""
    from tfstyle import StylizeConfig
    from tfstyle.optimize.multiscale import auto_scales, split_steps

    scales = auto_scales(size)
    steps = split_steps(budget, len(scales), StylizeConfig().resolved_scale_split(len(scales)))
    return [(s, k) for s, k in zip(scales, steps) if k]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny size, a few steps: checks the code runs")
    p.add_argument("--size", type=int, help="longest side (default 256)")
    p.add_argument("--ref-steps", type=int, help="the tutorial loop's steps (default 400)")
    p.add_argument("--budget", type=int, help="tfstyle's --steps: the budget bench/ttq.py found "
                   f"(default {', '.join(f'{k} at {s} px' for s, k in BUDGETS.items())})")
    p.add_argument("--timed", type=int, help="steps timed per measure (default 8)")
    p.add_argument("--imports", type=int, help="timed imports of TensorFlow (default 3)")
    p.add_argument("--no-winograd", action="store_true", help="leave out the Winograd bfloat16-products lever")
    p.add_argument("--content", type=Path, default=ttq.IMAGES / "content" / "chelsea_cat.png")
    p.add_argument("--style", type=Path, default=ttq.IMAGES / "style" / "vangogh_starry_night.jpg")
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder for ceiling_<size>.json and .md")
    a = p.parse_args(argv)
    for k, v in PRESETS["smoke" if a.smoke else "full"].items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.budget is None:
        if a.size not in BUDGETS:
            p.error(f"--budget is needed at {a.size} px (known: {', '.join(map(str, BUDGETS))})")
        a.budget = BUDGETS[a.size]
    if min(a.size, a.ref_steps, a.budget, a.timed, a.imports) < 1:
        p.error("--size, --ref-steps, --budget, --timed and --imports must be at least 1")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfstyle.backbones.weights import resolve_weights
    from tfstyle.hardware import resolve_precision

    b = ttq.Bench(argparse.Namespace(**{**vars(a), "grid": 10}))
    cpu = ttq.lscpu()
    m: dict = {"size": a.size, "ref_steps": a.ref_steps, "budget": a.budget, "cpu": ttq.cpu_summary(cpu),
               "lscpu": cpu, "precision": resolve_precision("auto"),
               "command": "python bench/ceiling.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    # Whole commands first, one after another, then the pieces in this process.
    m["tutorial_command"], m["target"] = b.tutorial()
    log(f"tutorial loop, whole command: {m['tutorial_command']:.1f} s (target {m['target']:.6g})")
    m["tfstyle_command"], m["tfstyle_value"] = b.stylize([], a.budget)
    log(f"tfstyle --steps {a.budget}, whole command: {m['tfstyle_command']:.1f} s ({m['tfstyle_value']:.6g})")
    m["import"] = import_seconds(a.imports)
    log(f"import tensorflow, keras: {m['import']:.2f} s")
    pieces = Pieces(a, resolve_weights("random"), b.ref)
    m["tutorial_step"] = pieces.tutorial_step(a.size)
    m["plan"] = []
    for scale, steps in plan(a.size, a.budget):
        row = {"scale": scale, "steps": steps, "tfstyle_step": pieces.tfstyle_step(scale),
               "network_step": pieces.network_step(scale)}
        if not a.no_winograd:
            row["network_step_f4b"] = pieces.network_step(scale, winograd_bf16=True)
        m["plan"].append(row)
        log(f"{scale} px x {steps}: " + ", ".join(f"{k} {v:.4f} s" for k, v in row.items() if isinstance(v, float)))
    if not a.no_winograd:
        m["f4b"] = pieces.f4b_budget(a.size, a.budget, m["target"])
        log(f"Winograd bfloat16 products: {m['f4b']}")
    text = report(m)
    print(text)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"ceiling_{a.size}.json").write_text(json.dumps(m, indent=1, default=str))
    (a.out / f"ceiling_{a.size}.md").write_text(text + "\n\n`lscpu` flags: " + cpu.get("Flags", "unknown") + "\n")
    print(f"\nwrote {a.out / f'ceiling_{a.size}.json'} and .md")
    return 0


def report(m: dict) -> str:
    tut, imp = m["tutorial_command"], m["import"]
    plan_ = m["plan"]

    def steps_cost(key):
        return sum(r["steps"] * r[key] for r in plan_)

    scales = " + ".join(f"{r['steps']} at {r['scale']} px" for r in plan_)
    lines = [f"CPU: {m['cpu']}. Command: `{m['command'].strip()}`. tfstyle's precision: {m['precision']}; "
             f"its plan at --steps {m['budget']}: {scales}.", "",
             "| measured (one run, one after another) | s |", "|---|---:|",
             f"| tutorial loop: whole command, {m['ref_steps']} steps | {tut:.2f} |",
             f"| tutorial loop: one step, float32 (median) | {m['tutorial_step']:.4f} |",
             f"| tfstyle default: whole command, --steps {m['budget']} "
             f"({'reaches' if m['tfstyle_value'] <= m['target'] else 'misses'} the target) | {m['tfstyle_command']:.2f} |",
             f"| import tensorflow, keras (`python -c`, median) | {imp:.2f} |"]
    for r in plan_:
        lines.append(f"| tfstyle: one step at {r['scale']} px (the library's loop, median) | {r['tfstyle_step']:.4f} |")
        lines.append(f"| the loss network alone at {r['scale']} px: forward + input gradient | {r['network_step']:.4f} |")
        if "network_step_f4b" in r:
            lines.append(f"| the same, Winograd F(4x4, 3x3) with bfloat16 products | {r['network_step_f4b']:.4f} |")
    floor = steps_cost("network_step")
    per_budget_step = floor / m["budget"]
    allowed = (tut / 10 - imp) / per_budget_step if per_budget_step > 0 else float("nan")
    lines += ["", "| the tutorial's whole command over | ratio |", "|---|---:|",
              f"| tfstyle default, whole command (measured) | {tut / m['tfstyle_command']:.1f}x |",
              f"| import + tfstyle's {m['budget']} steps (no set-up, tracing or writing) | "
              f"{tut / (imp + steps_cost('tfstyle_step')):.1f}x |",
              f"| import + {m['budget']} steps of the loss network alone (the floor) | {tut / (imp + floor):.1f}x |",
              f"| steps that 10x leaves at that floor (import included) | {max(allowed, 0):.0f} |"]
    if all("network_step_f4b" in r for r in plan_):
        lines.append(f"| import + {m['budget']} steps of the Winograd bfloat16-products network | "
                     f"{tut / (imp + steps_cost('network_step_f4b')):.1f}x |")
    if "f4b" in m:
        f = m["f4b"]
        probes = ", ".join(f"{k}: {v:.5g} in {t:.1f} s" for k, (t, v) in f["probes"].items())
        d_seconds, d_value = f["default"]
        lines += ["", "| the library's whole run in this process (no import), at the budget that reaches the "
                  "target | --steps | s | reference objective | speed-up |", "|---|---:|---:|---:|---:|",
                  f"| default ({m['precision']}, direct convolutions) | {m['budget']} | {d_seconds:.1f} | "
                  f"{d_value:.5g} | 1.00x |"]
        if f["steps"] is None:
            lines.append(f"| Winograd F(4x4, 3x3), bfloat16 products: target not reached ({probes}) | > "
                         f"{max(map(int, f['probes']))} | - | - | - |")
        else:
            seconds, value = f["probes"][f["steps"]]
            lines.append(f"| Winograd F(4x4, 3x3), bfloat16 products (probes: {probes}) | {f['steps']} | "
                         f"{seconds:.1f} | {value:.5g} | {d_seconds / seconds:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
