"""Frames per second of the web app in headless Chromium, beside TFLite and Keras in the same run.

For each network (light, standard; random weights: speed does not depend on them) and size (square
photo of side N), the app's test mode (``index.html?image=...&backend=...&frames=F``) reports the
frames per second of its whole per-frame work: the photo drawn into a canvas, read into a tensor,
the network, the result written to a canvas and composited. Backends: WebAssembly (the threaded
SIMD build, with the thread count TF.js picks, hardwareConcurrency / 2, and with one thread per
core) and WebGL, which headless Chromium runs on
SwiftShader, a software renderer on the same CPU cores. The same networks run in the same process
under Keras (the baseline) and TFLite float32 (LiteRT, 2 threads), inference only.

Besides frames per second (wall clock), every row reports the CPU time one frame costs: for Keras
and TFLite this process's CPU time, for the browser the CPU time of all of Chromium's processes
(renderer, GPU process where SwiftShader draws, browser) while the page runs N more frames
(``window.tfstyleBench(N)``, after the test mode's first run). On a machine shared with other jobs
the wall-clock rates fall with the load; the CPU time per frame moves much less, and
1000 / (CPU ms per frame) is the rate one idle core would give to single-threaded work.

    PYTHONPATH=src python bench/bench_web.py [--sizes 256,512] [--networks light,standard]
        [--rows keras,tflite,wasm,wasmcores,webgl] [--seconds 4] [--out bench/results/web.json]

Needs Chromium (apt-get install chromium), Playwright's Python package and TF.js from npm
(``npm ci --ignore-scripts --prefix src/tfstyle/web``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SHARED = HERE.parents[1] / "shared" / "images" / "content"
PHOTO = "chelsea_cat.png"
ROWS = {
    "keras": "Keras (baseline)",
    "tflite": "TFLite float32, 2 threads",
    "wasm": "TF.js WASM (TF.js's thread count)",
    "wasmcores": "TF.js WASM, 1 thread per core",
    "webgl": "TF.js WebGL (SwiftShader)",
}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "?"


def square_photo(side: int) -> np.ndarray:
    from tfstyle.io.images import load_image, resize

    a = load_image(SHARED / PHOTO)
    h, w = a.shape[:2]
    m = min(h, w)
    return resize(a[(h - m) // 2:(h - m) // 2 + m, (w - m) // 2:(w - m) // 2 + m], (side, side))


def children_cpu() -> float:
    """CPU seconds used so far by this process's children (Playwright's driver, Chromium's processes)."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def python_rows(net_name: str, sizes, seconds: float, rows) -> dict:
    """{(row, size): (fps, ms, cpu ms)} for Keras and TFLite float32 (inference only, batch 1)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from bench_feedforward import timed, tflite_runner

    from tfstyle.config import NETWORK_PRESETS
    from tfstyle.export.tflite import tflite_bytes
    from tfstyle.feedforward.networks import build_transform_net

    model = build_transform_net(NETWORK_PRESETS[net_name], seed=0)
    fn = tf.function(model.__call__, reduce_retracing=True)
    blob = tflite_bytes(model) if "tflite" in rows else None
    out = {}
    for size in sizes:
        x = square_photo(size)[None]
        if "keras" in rows:
            xt = tf.constant(x)
            sec, cpu = timed(lambda: fn(xt).numpy(), seconds)
            out["keras", size] = (1 / sec, sec * 1e3, cpu * 1e3)
        if blob is not None:
            sec, cpu = timed(tflite_runner(Interpreter, blob, x, 2), seconds)
            out["tflite", size] = (1 / sec, sec * 1e3, cpu * 1e3)
            del it
    return out


def build_site(folder: Path, networks, sizes) -> Path:
    from PIL import Image

    from tfstyle.config import NETWORK_PRESETS
    from tfstyle.feedforward.networks import build_transform_net, save_model_dir
    from tfstyle.io.images import to_uint8
    from tfstyle.web.site import build_site as write_site

    dirs = []
    for name in networks:
        d = folder / name
        save_model_dir(build_transform_net(NETWORK_PRESETS[name], seed=0), NETWORK_PRESETS[name], d, {})
        dirs.append(d)
    site = write_site(dirs, folder / "site").path
    for size in sizes:
        Image.fromarray(to_uint8(square_photo(size))).save(site / f"photo{size}.png")
    return site


def browser_rows(site: Path, networks, sizes, rows, seconds: float, timeout_s: float) -> tuple[dict, dict]:
    """{(network, row, size): (fps, ms, cpu ms)} from the app's test mode, and facts about the browser."""
    import webpage
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out, facts = {}, {}
    settings = {"wasm": ("wasm", ""), "wasmcores": ("wasm", f"&threads={os.cpu_count() or 1}"),
                "webgl": ("webgl", "")}
    with sync_playwright() as p, webpage.served(site) as base:
        browser = webpage.launch(p, webgl=True, camera=None)
        facts["chromium"] = browser.version
        try:
            for net in networks:
                for size in sizes:
                    for row in [r for r in rows if r in settings]:
                        backend, extra = settings[row]
                        page = webpage.Page(browser, base)
                        try:
                            query = f"?image=photo{size}.png&style={net}&backend={backend}{extra}"
                            try:
                                d = page.open(query + "&frames=1", timeout_s=timeout_s)
                            except PlaywrightTimeout:
                                out[net, row, size] = f"over {timeout_s:.0f} s for two frames"
                                continue
                            if d.get("state") != "done":
                                out[net, row, size] = d.get("state")
                                continue
                            # The page stays open (its processes alive) for the timed frames, so
                            # the CPU time of Chromium's processes over them is theirs alone.
                            if d.get("backend") != backend:  # the app moved on (WebGL textures too small)
                                out[net, row, size] = f"moved to {d.get('backend')}: {d.get('switched')}"
                                continue
                            frames = int(min(200, max(1, float(d["fps"]) * seconds)))
                            c0 = children_cpu()
                            ms = page.page.evaluate("(n) => window.tfstyleBench(n)", frames)
                            cpu_ms = (children_cpu() - c0) / frames * 1e3
                            out[net, row, size] = (frames * 1e3 / ms, ms / frames, cpu_ms)
                            if backend == "wasm":
                                facts[f"threads {row}"] = d.get("threads")
                        finally:
                            page.close()
                        v = out.get((net, row, size))
                        shown = f"{v[0]:8.2f} fps" if isinstance(v, tuple) else str(v)
                        print(f"  {net:8} {size:>5} {ROWS[row]:32} {shown}", file=sys.stderr, flush=True)
        finally:
            browser.close()
    return out, facts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--networks", default="light,standard")
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--seconds", type=float, default=4.0, help="measuring time per cell")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds one page may take")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    networks = args.networks.split(",")
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        ap.error(f"unknown rows {sorted(unknown)}; choose from {', '.join(ROWS)}")

    load0 = os.getloadavg()
    started = time.time()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="tfstyle-bench-web-") as tmp:
        site = build_site(Path(tmp), networks, sizes)
        site_mb = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6
        browser, facts = browser_rows(site, networks, sizes, rows, args.seconds, args.timeout)
        results.update(browser)
    for net in networks:
        for (row, size), v in python_rows(net, sizes, args.seconds, rows).items():
            results[net, row, size] = v
    load1 = os.getloadavg()

    from tfstyle.web.site import find_tfjs, tfjs_version

    header = (f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; Chromium {facts.get('chromium')}, "
              f"TF.js {tfjs_version(find_tfjs())}; load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the "
              f"end; {time.time() - started:.0f} s")
    print(header)
    print()
    print("| network | size | runtime | fps | ms/frame | vs Keras | CPU ms/frame | frames/CPU-s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for net in networks:
        for size in sizes:
            base = results.get((net, "keras", size))
            for row in rows:
                if (net, row, size) not in results:
                    continue
                if not isinstance(results[net, row, size], tuple):
                    print(f"| {net} | {size} | {ROWS[row]} | - | - | - | - | {results[net, row, size]} |")
                    continue
                fps, ms, cpu = results[net, row, size]
                ratio = f"{fps / base[0]:.2f}x" if base else "-"
                print(f"| {net} | {size} | {ROWS[row]} | {fps:.2f} | {ms:.1f} | {ratio} | {cpu:.1f} | "
                      f"{1e3 / cpu if cpu > 0 else float('nan'):.2f} |")
    if args.out:
        doc = {"header": header, "site_mb": round(site_mb, 2), "facts": facts, "rows": [
            {"network": n, "runtime": ROWS[r], "size": s, "fps": round(v[0], 3), "ms": round(v[1], 2),
             "cpu_ms": round(v[2], 2)}
            for (n, r, s), v in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][2], list(ROWS).index(kv[0][1])))
            if isinstance(v, tuple)] + [
            {"network": n, "runtime": ROWS[r], "size": s, "note": v}
            for (n, r, s), v in results.items() if not isinstance(v, tuple)]}
        Path(args.out).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
