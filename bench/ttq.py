"""Time to quality as a person gets it: whole commands, with the step budget a person would give.

    PYTHONPATH=src python bench/ttq.py --size 256 --ref-steps 400 --out bench/results/avx512_bf16
    PYTHONPATH=src python bench/ttq.py --size 512 --ref-steps 500 --rounds 0 --out bench/results/avx512_bf16
    PYTHONPATH=src python bench/ttq.py --smoke --out /tmp/ttq      # a few minutes (whole processes); the test suite's

Prints a Markdown table and writes ``ttq_<size>.json`` and ``ttq_<size>.md`` (with ``lscpu``'s model
and flags) to ``--out``.

``bench/speed.py`` times the moment a long run's current image first crosses the target, imports
left out. A person gets something else: they choose ``--steps K``, wait for the whole command and
get its output file, and a run of K steps ends elsewhere than step K of a longer run (the learning
rate decays over the budget given). So, here, per row:

* **target**: the tutorial loop (``baselines.TutorialLoop``, its own process: interpreter start,
  imports, network, targets, ``--ref-steps`` steps, the PNG written) is timed as a whole command;
  the reference objective (``baselines.objective``) of its OUTPUT FILE is the target.
* **budget search**: for each tfstyle row, whole commands ``python -m tfstyle stylize ... --steps
  K`` (process start to file written; the reference objective's layers and weights given as flags,
  ``baselines.reference_config``) over budgets on a grid of ``--grid`` steps: upward from
  ``--start`` until an output file reaches the target, then bisection down to the smallest budget
  on the grid that reaches it. Every probe (budget, seconds, value) is kept in the JSON. The row's
  value is that budget's whole-command time.
* **fairness on a shared machine**: ``--rounds`` N times, the tutorial and every row at its budget
  run again one after another (interleaved), and each is reported as the median of its runs, so
  that load from other users falls on both sides of the ratio.
* ``--steps auto`` rows run once per round: their budget is the command's own.
* **before the first step** (``--setup``): one in-process breakdown of a default run (imports,
  loss network and targets, first step with its tracing, later steps), and the native Winograd
  build that a float32 run pays once per machine: ``--precision float32 --steps 1`` with an empty
  cache folder, then again with the cache filled.

Every image (the tutorial's and tfstyle's) is scored from the 8-bit file written, at the size it
was written.
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
TUTORIAL = "tutorial loop"

STYLE_COLOURED = "{style-coloured content}"  # replaced by that image's file in Bench.stylize

# Rows: extra ``tfstyle stylize`` flags on top of the reference objective's. The first is the
# defaults. A row whose flags hold "--steps" is not searched: it runs with its own budget.
ROWS: dict[str, list[str]] = {
    "tfstyle default": [],
    "tfstyle --lr-schedule cosine": ["--lr-schedule", "cosine"],
    "tfstyle --lr-schedule exponential": ["--lr-schedule", "exponential"],
    "tfstyle --lr-schedule wsd": ["--lr-schedule", "wsd"],
    "tfstyle --steps auto": ["--steps", "auto"],
    # The start in the painting's colours (the content with the style's mean colour and colour
    # covariance, objective/color.py): a lever on the steps, not a default.
    "tfstyle --init (content in the painting's colours)": ["--init", STYLE_COLOURED],
}

# First budget tried per row (256 px) where the default --start would cost extra probes (a schedule
# that decays over its budget needs more steps); a --start given on the command line wins.
ROW_START = {"tfstyle default": 90, "tfstyle --init (content in the painting's colours)": 80,
             "tfstyle --lr-schedule cosine": 140, "tfstyle --lr-schedule exponential": 140}

PRESETS = {  # size, tutorial steps, grid, first budget tried, largest budget, interleaved rounds
    "full": dict(size=256, ref_steps=400, grid=10, start=80, max_steps=400, rounds=1),
    "smoke": dict(size=48, ref_steps=3, grid=1, start=2, max_steps=3, rounds=1),
}


# ------------------------------------------------------------------------------------------------
# the tutorial loop as a command of its own


def tutorial_main(a) -> int:
    """``--tutorial-worker``: the tutorial loop as a person runs it, output written to ``-o``."""
    import numpy as np
    from PIL import Image

    import baselines
    from speed import _load_images
    from tfstyle.backbones.weights import resolve_weights

    info = resolve_weights("random")
    content, style = _load_images(a.content, a.style, a.size)
    loop = baselines.TutorialLoop(info, content, style)
    for _ in range(a.ref_steps):
        loop.step()
    image = np.clip(np.round(loop.current() * 255.0), 0, 255).astype(np.uint8)
    tmp = Path(str(a.output) + ".part.png")
    Image.fromarray(image).save(tmp)
    os.replace(tmp, a.output)
    return 0


# ------------------------------------------------------------------------------------------------
# the driver


def _env(baseline: bool) -> dict:
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    if baseline:
        from tfstyle.hardware import ONEDNN_ENV, onednn_asked_by_tfstyle

        if onednn_asked_by_tfstyle():
            env.pop(ONEDNN_ENV, None)  # the baseline starts TensorFlow as TensorFlow decides
    return env


def whole(cmd: list[str], env: dict, output: Path) -> float:
    """Seconds from process start to exit of ``cmd``, which must write ``output``."""
    import resource

    output.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds (user + system) of the command: less sensitive than wall time to other users' load.
    whole.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode != 0 or not output.exists():
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed ({r.returncode}):\n{tail}")
    whole.said = (r.stdout + r.stderr).strip().splitlines()[-1:]  # the command's last line, if any
    return seconds


def reference_flags(fields: dict) -> list[str]:
    """``baselines.reference_config``'s fields as ``tfstyle stylize`` flags."""
    return ["--content-layers", ",".join(fields["content_layers"]),
            "--style-layers", ",".join(f"{n}:{w:g}" for n, w in fields["style_layers"]),
            "--content-weight", repr(fields["content_weight"]), "--style-weight", repr(fields["style_weight"]),
            "--tv-weight", repr(fields["tv_weight"]), "--pooling", fields["pooling"]]


class Bench:
    def __init__(self, a):
        import baselines
        from speed import _load_images
        from tfstyle.backbones.weights import resolve_weights

        self.a = a
        info = resolve_weights("random")
        self.content, self.style = _load_images(a.content, a.style, a.size)
        self.ref = baselines.ReferenceObjective(info, self.content, self.style)
        self.flags = reference_flags(baselines.reference_config(info, self.content, self.style))
        self.tmp = Path(tempfile.mkdtemp(prefix="ttq-"))

    def score(self, path: Path) -> float:
        from tfstyle.io.images import load_image

        image = load_image(path)
        if image.shape != self.content.shape:
            raise RuntimeError(f"{path} is {image.shape}, the content {self.content.shape}")
        return self.ref(image)

    def tutorial(self) -> tuple[float, float]:
        out = self.tmp / "tutorial.png"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--tutorial-worker", "--size", str(self.a.size),
               "--ref-steps", str(self.a.ref_steps), "--content", str(self.a.content), "--style",
               str(self.a.style), "-o", str(out)]
        seconds = whole(cmd, _env(True), out)
        return seconds, self.score(out)

    def stylize(self, flags: list[str], steps: int | None, env_extra: dict | None = None) -> tuple[float, float]:
        out = self.tmp / "out.png"
        cmd = [sys.executable, "-m", "tfstyle", "stylize", str(self.a.content), str(self.a.style), "-o", str(out),
               "--size", str(self.a.size), "--backbone", "random", "-q", "--overwrite", *self.flags, *flags]
        if steps is not None:
            cmd += ["--steps", str(steps)]
        if STYLE_COLOURED in cmd:
            cmd[cmd.index(STYLE_COLOURED)] = str(self.style_coloured())
        seconds = whole(cmd, {**_env(False), **(env_extra or {})}, out)
        return seconds, self.score(out)

    def style_coloured(self) -> Path:
        """The content in the painting's colours, written once (an ``--init`` file)."""
        from tfstyle.io.images import save_image
        from tfstyle.objective.color import match_color

        path = self.tmp / "style_coloured.png"
        if not path.exists():
            save_image(match_color(self.content, self.style), path)
        return path

    def search(self, name: str, flags: list[str], target: float, log) -> dict:
        """The smallest budget on the grid whose output reaches ``target``; every probe kept.

        From the row's first budget: down one grid step at a time while the output still reaches the
        target; else up in growing strides until it does, then bisection on the grid. A good first
        guess (``ROW_START``) keeps the probes to two or three, each a whole command."""
        a, probes = self.a, {}
        self.probe_cpu = {}

        def probe(k: int) -> bool:
            seconds, value = self.stylize(flags, k)
            probes[k] = (seconds, value)
            self.probe_cpu[k] = getattr(whole, "cpu", None)
            log(f"{name}: --steps {k}: {seconds:.1f} s, {value:.5g} ({'reached' if value <= target else 'not reached'})")
            return value <= target

        start = a.start if a.smoke or a.start_given else ROW_START.get(name, a.start)
        k = min(a.max_steps, max(a.grid, start - start % a.grid))
        if probe(k):
            while k - a.grid >= a.grid and probe(k - a.grid):
                k -= a.grid
            return {"steps": k, "probes": probes}
        lo, stride = k, a.grid
        while True:  # upward until a budget reaches the target
            if k >= a.max_steps:
                return {"steps": None, "probes": probes}
            lo, k = k, min(a.max_steps, k + stride)
            stride *= 2
            if probe(k):
                break
        hi = k
        while hi - lo > a.grid:  # bisection on the grid between a miss (lo) and a hit (hi)
            mid = lo + (hi - lo) // a.grid // 2 * a.grid
            if probe(mid):
                hi = mid
            else:
                lo = mid
        return {"steps": hi, "probes": probes}


def setup_breakdown(a, b: Bench) -> dict:
    """Where a default run's time before its first step goes; the native build's first-run cost."""
    out = {}
    env = _env(False)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    out["interpreter"] = time.perf_counter() - t
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--setup-worker", "--size", str(a.size),
                        "--content", str(a.content), "--style", str(a.style)], env=env, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("setup breakdown failed:\n" + "\n".join(r.stderr.splitlines()[-5:]))
    out.update(json.loads(r.stdout.strip().splitlines()[-1]))
    cache = b.tmp / "cache"
    first, _ = b.stylize(["--precision", "float32", "--conv-algorithm", "winograd"], 1, {"TFSTYLE_CACHE_DIR": str(cache)})
    again, _ = b.stylize(["--precision", "float32", "--conv-algorithm", "winograd"], 1, {"TFSTYLE_CACHE_DIR": str(cache)})
    out["float32 winograd --steps 1, empty cache"] = first
    out["float32 winograd --steps 1, cache filled"] = again
    return out


def setup_main(a) -> int:
    """``--setup-worker``: the stages of a default ``tfstyle stylize`` run, timed in its process."""
    t0 = time.perf_counter()
    import tensorflow  # noqa: F401
    import keras  # noqa: F401

    t_tf = time.perf_counter()
    import tfstyle  # noqa: F401
    from tfstyle import StylizeConfig
    from tfstyle.backbones.weights import resolve_weights
    from tfstyle.io.images import load_image
    from tfstyle.optimize.multiscale import MultiScaleStylizer

    t_lib = time.perf_counter()
    content, style = load_image(a.content), load_image(a.style)
    config = StylizeConfig(size=a.size, steps=6, backbone="random")
    weights = resolve_weights("random")
    st = MultiScaleStylizer(content, [style], config, weights)
    t_built = time.perf_counter()
    stamps = []
    st.run(callback=lambda p: stamps.append(time.perf_counter()))
    steps = [t1 - t0_ for t0_, t1 in zip(stamps, stamps[1:])]
    print(json.dumps({"import tensorflow + keras": t_tf - t0, "import tfstyle": t_lib - t_tf,
                      "images, network, targets, plan": t_built - t_lib,
                      "first step (tracing)": stamps[0] - t_built,
                      "later step (median)": statistics.median(steps[-3:])}))
    return 0


def lscpu() -> dict:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in fields.items()
            if k.strip() in ("Model name", "Vendor ID", "CPU family", "Model", "CPU(s)", "Flags", "Hypervisor vendor")}


def cpu_summary(info: dict) -> str:
    flags = set(info.get("Flags", "").split())
    marks = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return (f"{info.get('Model name', 'unknown CPU')} (family {info.get('CPU family', '?')}, model "
            f"{info.get('Model', '?')}), {info.get('CPU(s)', '?')} CPUs; flags: {', '.join(marks) or 'none of note'}")


def table(res: dict) -> str:
    tut = res["rows"][TUTORIAL]
    tut_s = statistics.median(tut["seconds"])
    head = ["command", "--steps", "whole command (s)", "runs (s)", "CPU s (user + system)",
            "reference objective of the file", "vs tutorial"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cpu(r):
        got = [c for c in r.get("cpu") or [] if c is not None]
        return ", ".join(f"{c:.1f}" for c in got) or "-"

    lines.append(f"| tutorial loop (target) | {res['ref_steps']} | {tut_s:.1f} | "
                 f"{', '.join(f'{s:.1f}' for s in tut['seconds'])} | {cpu(tut)} | {tut['value']:.5g} | 1.0x |")
    for name, r in res["rows"].items():
        if name == TUTORIAL:
            continue
        if not r.get("seconds"):
            best = min((v for _, v in r["probes"].values()), default=float("nan"))
            lines.append(f"| {name} | > {max(map(int, r['probes']), default=0)} | - | - | - | best {best:.5g} "
                         f"(not reached) | - |")
            continue
        s = statistics.median(r["seconds"])
        reached = r["value"] <= res["target"]
        steps = f"{r['steps']} ({r['said'][0]})" if r.get("said") else r["steps"]
        lines.append(f"| {name} | {steps} | {s:.1f} | {', '.join(f'{x:.1f}' for x in r['seconds'])} | {cpu(r)} | "
                     f"{r['value']:.5g}{'' if reached else ' (not reached)'} | "
                     f"{f'{tut_s / s:.1f}x' if reached else '-'} |")

    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny size, a few steps (seconds): checks the code runs")
    p.add_argument("--size", type=int, help="longest side (default 256)")
    p.add_argument("--ref-steps", type=int, help="tutorial steps whose output defines the target (default 400)")
    p.add_argument("--grid", type=int, help="budgets searched are multiples of this (default 10)")
    p.add_argument("--start", type=int, help="first budget tried (default 80)")
    p.add_argument("--max-steps", type=int, help="largest budget tried (default 400)")
    p.add_argument("--rounds", type=int, help="interleaved re-runs of the tutorial and each row's budget (default 1)")
    p.add_argument("--rows", help="comma-separated rows of ROWS (default: all)")
    p.add_argument("--setup", action="store_true", help="also time the stages before the first step")
    p.add_argument("--setup-only", action="store_true",
                   help="only the stages before the first step (writes ttq_setup_<size>.json and .md)")
    p.add_argument("--content", type=Path, default=IMAGES / "content" / "chelsea_cat.png")
    p.add_argument("--style", type=Path, default=IMAGES / "style" / "vangogh_starry_night.jpg")
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder for ttq_<size>.json and .md")
    p.add_argument("--rerun", type=Path, help="an earlier run's JSON: add --rounds interleaved re-runs to it")
    p.add_argument("--only-new", action="store_true",
                   help="with --rerun: report only the new rounds' times (an idle rerun of a loaded search)")
    p.add_argument("--table", type=Path, help="print the table of an earlier run's JSON, run nothing")
    p.add_argument("--tutorial-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--setup-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-o", "--output", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.start_given = a.start is not None
    for k, v in PRESETS["smoke" if a.smoke else "full"].items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.tutorial_worker:
        return tutorial_main(a)
    if a.table:
        print(table(json.loads(a.table.read_text())))
        return 0
    if a.setup_worker:
        return setup_main(a)
    names = list(ROWS)
    if a.rows:
        names = [n.strip() for n in a.rows.split(",") if n.strip()]
        unknown = [n for n in names if n not in ROWS]
        if unknown:
            p.error(f"unknown row {unknown[0]!r}; known: {', '.join(ROWS)}")
    if min(a.grid, a.start, a.max_steps, a.ref_steps) < 1 or a.rounds < 0:
        p.error("--grid, --start, --max-steps and --ref-steps must be at least 1, --rounds at least 0")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    sys.path.insert(0, str(HERE))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if a.rerun:
        res = json.loads(a.rerun.read_text())
        a.size, a.ref_steps = res["size"], res["ref_steps"]
        b = Bench(a)
        if a.only_new:  # keep the budgets, report only this rerun's rounds (earlier times kept aside)
            for r in res["rows"].values():
                if r.get("seconds"):
                    r["earlier_seconds"], r["seconds"] = r["seconds"], []
                    r["earlier_cpu"], r["cpu"] = r.get("cpu", []), []
                    r["values"] = []
            res["command"] += " | rerun: python bench/ttq.py " + " ".join(argv if argv is not None else sys.argv[1:])
        cpu = lscpu()
        if cpu_summary(cpu) != res["cpu"]:
            # Another CPU: its rounds are timed here; the budgets (the outputs' values) came from the search there.
            res.setdefault("search_cpu", res["cpu"])
            res["lscpu"], res["cpu"] = cpu, cpu_summary(cpu)
        rounds(a, b, res, [n for n in res["rows"] if n in ROWS], log)
        return finish(a, b, res, cpu)
    b = Bench(a)
    cpu = lscpu()
    if a.setup_only:
        setup = setup_breakdown(a, b)
        text = (f"CPU: {cpu_summary(cpu)}.\n\n| before the first step ({a.size} px) | s |\n|---|---:|\n"
                + "\n".join(f"| {k} | {v:.2f} |" for k, v in setup.items()))
        print(text)
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / f"ttq_setup_{a.size}.json").write_text(json.dumps({"cpu": cpu_summary(cpu), "lscpu": cpu,
                                                                     "setup": setup}, indent=1))
        (a.out / f"ttq_setup_{a.size}.md").write_text(text + "\n")
        return 0
    res = {"size": a.size, "ref_steps": a.ref_steps, "lscpu": cpu, "cpu": cpu_summary(cpu),
           "command": "python bench/ttq.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}, "rows": {}}
    seconds, target = b.tutorial()
    log(f"{TUTORIAL}: {seconds:.1f} s, target {target:.6g}")
    res["target"] = target
    res["rows"][TUTORIAL] = {"seconds": [seconds], "value": target, "cpu": [whole.cpu]}
    for name in names:
        flags = ROWS[name]
        if "--steps" in flags:  # the command's own budget
            s, v = b.stylize(flags, None)
            log(f"{name}: {s:.1f} s, {v:.5g}")
            r = {"steps": flags[flags.index("--steps") + 1], "probes": {}, "seconds": [s], "value": v,
                 "reached": v <= target, "said": whole.said, "cpu": [whole.cpu]}
        else:
            r = b.search(name, flags, target, log)
            if r["steps"] is not None:
                s, v = r["probes"][r["steps"]]
                r.update(seconds=[s], value=v, reached=True, cpu=[b.probe_cpu.get(r["steps"])])
        r["probes"] = {str(k): v for k, v in r["probes"].items()}
        res["rows"][name] = r
    rounds(a, b, res, names, log)
    return finish(a, b, res, cpu)


def rounds(a, b: Bench, res: dict, names: list[str], log) -> None:
    """``a.rounds`` interleaved re-runs: the tutorial, then every row at its budget (CPU seconds kept
    beside the wall times)."""
    for i in range(a.rounds):
        s, v = b.tutorial()
        res["rows"][TUTORIAL]["seconds"].append(s)
        res["rows"][TUTORIAL].setdefault("cpu", []).append(whole.cpu)
        log(f"round {i + 1}: {TUTORIAL}: {s:.1f} s, {whole.cpu:.1f} CPU s ({v:.5g})")
        for name in names:
            r = res["rows"][name]
            if not r.get("seconds") and not r.get("earlier_seconds"):
                continue
            flags = ROWS[name]
            s, v = b.stylize(flags, None if "--steps" in flags else int(r["steps"]))
            r["seconds"].append(s)
            r.setdefault("cpu", []).append(whole.cpu)
            r.setdefault("values", [r["value"]]).append(v)
            log(f"round {i + 1}: {name}: {s:.1f} s, {whole.cpu:.1f} CPU s ({v:.5g})")


def finish(a, b: Bench, res: dict, cpu: dict) -> int:
    """Print the table and write ``ttq_<size>.json`` and ``.md``."""
    target = res["target"]
    if a.setup:
        res["setup"] = setup_breakdown(a, b)
    text = table(res)
    runs = "this rerun's rounds" if getattr(a, "only_new", False) else "the search's, then interleaved rounds"
    searched = f" Budgets searched on another CPU: {res['search_cpu']}." if res.get("search_cpu") else ""
    header = (f"CPU: {res['cpu']}.{searched} Command: `{res['command'].strip()}`.\n"
              f"Target: the reference objective (bench/baselines.py) of the tutorial loop's output file after "
              f"{a.ref_steps} steps at {a.size} px: {target:.6g}. Times: whole commands, process start to file "
              f"written, median of the runs listed ({runs}); budgets: the smallest multiple of {res.get('args', {}).get('grid', a.grid)} "
              f"steps whose output file reaches the target.")
    setup = ""
    if "setup" in res:
        setup = "\n\n| before the first step | s |\n|---|---:|\n" + "\n".join(
            f"| {k} | {v:.2f} |" for k, v in res["setup"].items())
    print(header + "\n\n" + text + setup)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"ttq_{a.size}.json").write_text(json.dumps(res, indent=1))
    (a.out / f"ttq_{a.size}.md").write_text(header + "\n\n" + text + setup + "\n\n`lscpu` flags: "
                                            + cpu.get("Flags", "unknown") + "\n")
    print(f"\nwrote {a.out / f'ttq_{a.size}.json'} and .md")
    return 0 if all(r.get("seconds") for r in res["rows"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
