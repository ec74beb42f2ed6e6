"""Frames per second of the web app in headless Chromium, LiteRT.js beside TF.js on the same page, and
beside native LiteRT and Keras in the same run.

For each network (light, standard; random weights: speed does not depend on them) and size (square
photo of side N), the app's test mode (``index.html?image=...&runtime=...&frames=F``) reports the
frames per second of its whole per-frame work: the photo drawn into a canvas, read into the
runtime's input, the network, the result written to a canvas and composited. Rows:

* LiteRT.js on WebAssembly, the page's default (the threaded build, one thread per core up to 4),
  and with one thread (the "compat" build a page without cross-origin isolation loads);
* LiteRT.js on WebGPU, which headless Chromium offers on SwiftShader: a software GPU on the same
  CPU cores (the page never picks it by itself);
* TF.js on WebAssembly (its own thread count, and one thread per core) and on WebGL (SwiftShader);
* native LiteRT (``ai_edge_litert``, 2 threads) running the site's own ``.tflite`` file, the same
  signature; TFLite float32 of any size (the ``tfstyle export`` file); Keras (the baseline).

The cells run interleaved (every row of a network and size, then again, ``--repeats`` times) and the
median counts: the machine is shared, so only figures from the same moments compare. Besides frames
per second (wall clock), every row reports the CPU time one frame costs (this process for the
Python rows, all of Chromium's processes for the page) and, for LiteRT.js, the milliseconds of a
frame spent in the runtime, in pre-processing (canvas to float32), post-processing (float32 to
canvas) and compositing the visible canvas (``window.tfstyleTiming``).

    PYTHONPATH=src python bench/bench_web.py [--sizes 256,512] [--networks light,standard]
        [--rows keras,tflite,litert,lrt-wasm,...] [--seconds 4] [--repeats 3]
        [--out bench/results/web_litert.json]

Needs Chromium (apt-get install chromium), Playwright's Python package and the runtimes from npm
(``npm ci --ignore-scripts --prefix src/tfstyle/web``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
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
    "tflite": "TFLite float32 any size, 2 threads",
    "litert": "LiteRT native, the site's .tflite, 2 threads",
    "lrt-wasm": "LiteRT.js WASM, threads (page default)",
    "lrt-wasm1": "LiteRT.js WASM, 1 thread (compat build)",
    "lrt-webgpu": "LiteRT.js WebGPU (SwiftShader)",
    "wasm": "TF.js WASM (TF.js's thread count)",
    "wasmcores": "TF.js WASM, 1 thread per core",
    "webgl": "TF.js WebGL (SwiftShader)",
}
PAGE_ROWS = {"lrt-wasm": "runtime=litert-wasm", "lrt-wasm1": "runtime=litert-wasm&threads=1",
             "lrt-webgpu": "runtime=litert-webgpu", "wasm": "runtime=tfjs-wasm",
             "wasmcores": f"runtime=tfjs-wasm&threads={os.cpu_count() or 1}", "webgl": "runtime=tfjs-webgl"}


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


class PythonRows:
    """Keras, TFLite of any size and native LiteRT on the site's file, for one network."""

    def __init__(self, net_name: str, site: Path, style: str, sizes, rows):
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter

        from tfstyle.config import NETWORK_PRESETS
        from tfstyle.export.tflite import tflite_bytes
        from tfstyle.feedforward.networks import build_transform_net

        model = build_transform_net(NETWORK_PRESETS[net_name], seed=0)
        self.calls = {}
        fn = tf.function(model.__call__, reduce_retracing=True)
        blob = tflite_bytes(model) if "tflite" in rows else None
        from bench_feedforward import tflite_runner

        for size in sizes:
            x = square_photo(size)[None]
            if "keras" in rows:
                xt = tf.constant(x)
                self.calls["keras", size] = lambda xt=xt: fn(xt).numpy()
            if blob is not None:
                self.calls["tflite", size] = tflite_runner(Interpreter, blob, x, 2)
            if "litert" in rows:
                it = Interpreter(model_path=str(site / "models" / style / f"litert_{size}.tflite"), num_threads=2)
                runner = it.get_signature_runner(f"s{size}x{size}")
                self.calls["litert", size] = lambda r=runner, x=x: r(image=x)

    def measure(self, row: str, size: int, seconds: float):
        from bench_feedforward import timed

        if (row, size) not in self.calls:
            return None
        sec, cpu = timed(self.calls[row, size], seconds)
        return {"fps": 1 / sec, "ms": sec * 1e3, "cpu_ms": cpu * 1e3}


def build_site(folder: Path, networks, sizes) -> Path:
    from PIL import Image

    from tfstyle.config import NETWORK_PRESETS, WebConfig
    from tfstyle.feedforward.networks import build_transform_net, save_model_dir
    from tfstyle.io.images import to_uint8
    from tfstyle.web.site import build_site as write_site

    dirs = []
    for name in networks:
        d = folder / name
        save_model_dir(build_transform_net(NETWORK_PRESETS[name], seed=0), NETWORK_PRESETS[name], d, {})
        dirs.append(d)
    site = write_site(dirs, folder / "site", WebConfig(litert_sizes=tuple(sizes))).path
    for size in sizes:
        Image.fromarray(to_uint8(square_photo(size))).save(site / f"photo{size}.png")
    return site


ANY = "any-light"  # the arbitrary-style model (light transformer) as a network of the table


class AnyRows:
    """Keras and native LiteRT on the arbitrary-style site's transformer file, with a built-in style's
    vector (the per-frame work: the prediction network runs once per painting)."""

    def __init__(self, model_dir: Path, site: Path, sizes, rows):
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter

        from tfstyle.feedforward.arbitrary import ArbitraryModel

        model = ArbitraryModel(model_dir)
        index = json.loads((site / "models" / "models.json").read_text())
        vector = np.asarray(index["styles"][0]["vector"], np.float32)[None]
        fn = tf.function(lambda x, v: model.transformer([x, v]), reduce_retracing=True)
        files = index["arbitrary"]["litert"]["transformer"]
        self.calls = {}
        for size in sizes:
            x = square_photo(size)[None]
            if "keras" in rows:
                xt, vt = tf.constant(x), tf.constant(vector)
                self.calls["keras", size] = lambda xt=xt, vt=vt: fn(xt, vt).numpy()
            if "litert" in rows:
                it = Interpreter(model_path=str(site / files[str(size)]["file"]), num_threads=2)
                runner = it.get_signature_runner(f"s{size}x{size}")
                self.calls["litert", size] = lambda r=runner, x=x, v=vector: r(image=x, style=v)

    measure = PythonRows.measure


def build_any_site(folder: Path, sizes) -> tuple[Path, Path, str]:
    """An arbitrary-style model (light transformer, EfficientNetB0 prediction network, fixed-seed random
    weights) and its site with one built-in painting: (model folder, site, the style's name)."""
    from PIL import Image

    from tfstyle.config import NETWORK_PRESETS, ArbitraryConfig, WebConfig
    from tfstyle.feedforward.arbitrary import build_predictor, build_transformer, save_arbitrary_dir
    from tfstyle.io.images import to_uint8
    from tfstyle.web.site import build_site as write_site

    config = ArbitraryConfig(predictor="efficientnetb0")
    model_dir = save_arbitrary_dir(build_predictor(config, None, random_init=True),
                                   build_transformer(NETWORK_PRESETS["light"], config.style_dim, seed=0),
                                   NETWORK_PRESETS["light"], config, folder / "anystyle", {})
    painting = SHARED.parent / "style" / "hokusai_great_wave.jpg"
    site = write_site([model_dir], folder / "anysite", WebConfig(litert_sizes=tuple(sizes)),
                      style_images=[painting]).path
    for size in sizes:
        Image.fromarray(to_uint8(square_photo(size))).save(site / f"photo{size}.png")
    name = json.loads((site / "models" / "models.json").read_text())["styles"][0]["name"]
    return Path(model_dir), site, name


def page_cell(browser, base, net, size, row, seconds, timeout_s):
    """One page of the app: its test mode, then frames timed by window.tfstyleBench."""
    import webpage
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = webpage.Page(browser, base)
    try:
        query = f"?image=photo{size}.png&size={size}&style={net}&{PAGE_ROWS[row]}"
        try:
            d = page.open(query + "&frames=1", timeout_s=timeout_s)
        except PlaywrightTimeout:
            return f"over {timeout_s:.0f} s for two frames"
        if d.get("state") != "done":
            return d.get("state")
        want = PAGE_ROWS[row].split("&")[0].split("=")[1]
        if d.get("runtime") != want:  # the app moved on (WebGL textures too small, ...)
            return f"ran on {d.get('runtime')}: {d.get('switched') or d.get('failed')}"
        frames = int(min(200, max(2, float(d["fps"]) * seconds)))
        c0 = children_cpu()
        ms = page.page.evaluate("(n) => window.tfstyleBench(n)", frames)
        cpu_ms = (children_cpu() - c0) / frames * 1e3
        timing = page.page.evaluate("() => window.tfstyleTiming()")
        out = {"fps": frames * 1e3 / ms, "ms": ms / frames, "cpu_ms": cpu_ms, "threads": d.get("threads"),
               "build": d.get("build"), "webgpu": d.get("webgpu")}
        if timing.get("frames"):
            out.update({f"{k}_ms": timing[k] / timing["frames"] for k in ("runtime", "pre", "post")})
        out["canvas_ms"] = timing.get("canvas", 0) / frames
        return out
    finally:
        page.close()


def median_cell(values):
    """The median of repeated measurements (by fps), or the first note when none succeeded."""
    ok = [v for v in values if isinstance(v, dict)]
    if not ok:
        return values[0] if values else None
    ok.sort(key=lambda v: v["fps"])
    mid = ok[len(ok) // 2]
    return {**mid, "fps_all": [round(v["fps"], 2) for v in ok]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--networks", default="light,standard")
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--anystyle", action="store_true",
                    help=f"also the arbitrary-style site (network {ANY!r}: its transformer, a built-in painting)")
    ap.add_argument("--seconds", type=float, default=4.0, help="measuring time per cell")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median counts")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds one page may take")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    networks = args.networks.split(",")
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        ap.error(f"unknown rows {sorted(unknown)}; choose from {', '.join(ROWS)}")

    import webpage
    from playwright.sync_api import sync_playwright

    from tfstyle.web.site import find_runtimes, runtime_version

    load0 = os.getloadavg()
    started = time.time()
    cells: dict = {}
    facts: dict = {}
    with tempfile.TemporaryDirectory(prefix="tfstyle-bench-web-") as tmp:
        site = build_site(Path(tmp), networks, sizes)
        site_bytes = {p.relative_to(site).parts[0]: 0 for p in site.iterdir()}
        for p in site.rglob("*"):
            if p.is_file():
                site_bytes[p.relative_to(site).parts[0]] += p.stat().st_size
        from tfstyle.web.site import style_names

        styles = dict(zip(networks, style_names([Path(tmp) / n for n in networks])))
        python = {n: PythonRows(n, site, styles[n], sizes, rows) for n in networks}
        sites = dict.fromkeys(networks, site)
        if args.anystyle:
            any_dir, sites[ANY], styles[ANY] = build_any_site(Path(tmp), sizes)
            python[ANY] = AnyRows(any_dir, sites[ANY], sizes, rows)
            networks = [*networks, ANY]
        with contextlib.ExitStack() as stack, sync_playwright() as p:
            served = {s: stack.enter_context(webpage.served(s)) for s in dict.fromkeys(sites.values())}
            bases = {n: served[sites[n]] for n in networks}
            browser = webpage.launch(p, webgl=True, camera=None, webgpu=True)
            facts["chromium"] = browser.version
            try:
                for rep in range(args.repeats):
                    for net in networks:
                        for size in sizes:
                            for row in rows:
                                if row in PAGE_ROWS:
                                    v = page_cell(browser, bases[net], styles[net], size, row, args.seconds,
                                                  args.timeout)
                                else:
                                    v = python[net].measure(row, size, args.seconds)
                                if v is None:
                                    continue
                                cells.setdefault((net, row, size), []).append(v)
                                shown = f"{v['fps']:8.2f} fps" if isinstance(v, dict) else str(v)
                                print(f"  round {rep + 1} {net:8} {size:>5} {ROWS[row]:42} {shown}", file=sys.stderr,
                                      flush=True)
            finally:
                browser.close()
    results = {k: median_cell(v) for k, v in cells.items()}
    load1 = os.getloadavg()
    runtimes = find_runtimes()
    header = (f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; Chromium "
              f"{facts.get('chromium')}, LiteRT.js {runtime_version(runtimes, 'litert')}, TF.js "
              f"{runtime_version(runtimes, 'tfjs')}; load average {load0[0]:.2f} at the start, {load1[0]:.2f} at "
              f"the end; {args.repeats} interleaved rounds, medians; {time.time() - started:.0f} s")
    print(header)
    print()
    print("| network | size | runtime | fps | ms/frame | vs TF.js WASM | vs native LiteRT | CPU ms/frame | "
          "runtime ms | pre ms | post ms | canvas ms |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for net in networks:
        for size in sizes:
            tfjs = results.get((net, "wasm", size))
            native = results.get((net, "litert", size))
            for row in rows:
                v = results.get((net, row, size))
                if v is None:
                    continue
                if not isinstance(v, dict):
                    print(f"| {net} | {size} | {ROWS[row]} | - | - | - | - | - | - | - | - | {v} |")
                    continue
                ratio = lambda b: f"{v['fps'] / b['fps']:.2f}x" if isinstance(b, dict) else "-"  # noqa: E731
                split = " | ".join(f"{v[k]:.1f}" if k in v else "-"
                                   for k in ("runtime_ms", "pre_ms", "post_ms", "canvas_ms"))
                print(f"| {net} | {size} | {ROWS[row]} | {v['fps']:.2f} | {v['ms']:.1f} | {ratio(tfjs)} | "
                      f"{ratio(native)} | {v['cpu_ms']:.1f} | {split} |")
    print()
    print("site bytes by top-level entry: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(site_bytes.items())
                                                       if v > 50_000) + f"; total {sum(site_bytes.values()) / 1e6:.1f} MB")
    if args.out:
        doc = {"header": header, "site_bytes": site_bytes, "facts": facts, "rows": [
            {"network": n, "row": r, "runtime": ROWS[r], "size": s,
             **({k: (round(x, 3) if isinstance(x, float) else x) for k, x in v.items()} if isinstance(v, dict)
                else {"note": v})}
            for (n, r, s), v in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][2], list(ROWS).index(kv[0][1])))]}
        Path(args.out).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
