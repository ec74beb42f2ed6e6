"""``tfstyle web``: the static site, its server, the command's errors, and the app in a real headless
Chromium (Debian's, driven by Playwright) through the test mode, the fake webcam and broken models,
on every runtime the page can pick: LiteRT.js (WebAssembly with threads, the single-thread build,
WebGPU on SwiftShader) and TF.js (WebGL, WebAssembly, CPU).

Screenshots go to ``$TFSTYLE_TEST_ARTIFACTS`` (else a pytest temp folder)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from webdata import artifacts_dir

from tfstyle.feedforward.apply import StyleModel
from tfstyle.io.images import load_image
from tfstyle.web import SiteError
from tfstyle.web.server import make_server, url_of
from tfstyle.config import WebConfig
from tfstyle.web.site import MODELS_INDEX, RUNTIME_FILES, TFJS_SCRIPTS, build_site

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import webpage  # noqa: E402

TESTS = Path(__file__).resolve().parent
PHOTO = "cat.png"  # written into the site: same origin, the network sees exactly these 8-bit pixels
PHOTO_WH = (134, 101)  # odd sizes, not multiples of 4
# LiteRT.js runs fixed shapes: at size=256 this photo is exactly the site's 4:3 shape (no resampling).
PHOTO_LITERT = "cat256.png"
# Two shapes per style keep the fixture quick; the defaults are 2 sizes x 5 aspect ratios.
LITERT_CONFIG = WebConfig(litert_sizes=(256,), litert_aspects=("4:3", "1:1"))
# A browser without WebGL, as the page sees it: no canvas hands out a WebGL context.
NO_WEBGL = """
for (const C of [HTMLCanvasElement, globalThis.OffscreenCanvas].filter(Boolean)) {
  const get = C.prototype.getContext;
  C.prototype.getContext = function (kind, ...rest) {
    return /webgl/i.test(String(kind)) ? null : get.call(this, kind, ...rest);
  };
}
"""
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs", "googleapis.com", "gstatic.com", "tfhub.dev", "kaggle")


@pytest.fixture(scope="module")
def site(web_models, tmp_path_factory, shared_images):
    out = tmp_path_factory.mktemp("web") / "site"
    result = build_site([web_models["light"], web_models["standard"]], out, LITERT_CONFIG)
    with Image.open(shared_images / "content" / "chelsea_cat.png") as im:
        im.convert("RGB").resize(PHOTO_WH, Image.Resampling.LANCZOS).save(out / PHOTO)
        im.convert("RGB").resize((256, 192), Image.Resampling.LANCZOS).save(out / PHOTO_LITERT)
    return result


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return artifacts_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    if webpage.chromium_path() is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(playwright):
    b = webpage.launch(playwright, camera="allow")
    yield b
    b.close()


@pytest.fixture(scope="module")
def chromium_webgpu(playwright):
    """A function giving Chromium with WebGPU on SwiftShader (a software adapter), for LiteRT.js's WebGPU
    path; started on first use."""
    started = []

    def get():
        if not started:
            started.append(webpage.launch(playwright, camera=None, webgpu=True))
        return started[0]

    yield get
    for b in started:
        b.close()


@pytest.fixture(scope="module")
def base(site):
    with webpage.served(site.path) as url:
        yield url


@pytest.fixture(scope="module")
def keras_out(web_models, site):
    """Keras outputs of the site's photos, per (network, photo)."""
    out = {}
    for photo in (PHOTO, PHOTO_LITERT):
        image = load_image(site.path / photo)
        for net in ("light", "standard"):
            out[net, photo] = StyleModel(web_models[net])(image)
    return out


# ---- JavaScript unit tests --------------------------------------------------------------------------

def test_js_unit_tests_pass():
    node = shutil.which("node")
    assert node, "node is not installed"
    r = subprocess.run([node, "--test", str(TESTS / "js" / "logic.test.mjs")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert re.search(r"^# pass [1-9]\d*$", r.stdout, re.M) and re.search(r"^# fail 0$", r.stdout, re.M), r.stdout


# ---- the site ------------------------------------------------------------------------------------

def test_site_is_self_contained(site):
    root = site.path
    assert [m.name for m in site.models] == ["starry", "wave"]
    assert [m.arch for m in site.models] == ["light", "standard"]
    assert site.tfjs_version == "4.22.0" and site.litert_version == "2.5.3" and site.notes == []
    index = json.loads((root / MODELS_INDEX).read_text())
    assert index["quantize"] == "float16" and index["tfjs"] == "4.22.0" and index["litert"] == "2.5.3"
    for style in index["styles"]:
        assert (root / style["model"]).is_file() and style["bytes"] > 0
        assert list(style["litert"]) == ["256"]
        entry = style["litert"]["256"]
        assert entry["shapes"] == [[192, 256], [256, 256]]
        assert (root / entry["file"]).stat().st_size == entry["bytes"] > 0
        with Image.open(root / style["thumbnail"]) as im:  # a real thumbnail of the style image
            assert im.format == "JPEG" and max(im.size) == 160
    html = (root / "index.html").read_text()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    links = re.findall(r'<link[^>]*href="([^"]+)"', html)
    assert [s for s in scripts if s.startswith("tfjs/")] == [f"tfjs/{Path(s).name}" for s in TFJS_SCRIPTS]
    for ref in scripts + links:
        assert (root / ref).is_file(), ref
    for wasm in ("tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"):
        assert (root / "tfjs" / wasm).is_file()
    # LiteRT.js: the module, its helper and two WebAssembly builds (threads, compat), not the others.
    assert sorted(p.name for p in (root / "litert").iterdir()) == sorted(
        Path(k).name for k in RUNTIME_FILES if k.startswith("litert/"))
    assert sorted(p.name for p in (root / "litert").glob("*.wasm")) == [
        "litert_wasm_compat_internal.wasm", "litert_wasm_threaded_internal.wasm"]
    assert '"@litertjs/wasm-utils": "./litert/wasm-utils.js"' in html
    # The app's own files name no other origin at all; nothing in the site names a CDN.
    for name in ("index.html", "app.js", "logic.js", "litert.js", "style.css"):
        assert not re.search(r"https?://", (root / name).read_text()), name
    for p in root.rglob("*"):
        if p.suffix in (".js", ".html", ".css", ".json"):
            text = p.read_text(errors="replace")
            assert not [h for h in CDN_HOSTS if h in text], p
    assert 20e6 < site.bytes < 40e6, site.bytes


def test_missing_style_image_gets_a_placeholder_and_names_are_unique(web_models, tmp_path):
    copy = tmp_path / "starry"
    shutil.copytree(web_models["light"], copy, ignore=shutil.ignore_patterns("checkpoints"))
    doc = json.loads((copy / "model.json").read_text())
    doc["meta"]["style"] = str(tmp_path / "gone.jpg")
    (copy / "model.json").write_text(json.dumps(doc))
    result = build_site([web_models["light"], copy], tmp_path / "site", WebConfig(litert_sizes=()), node_modules=None)
    assert [m.name for m in result.models] == ["starry", "starry_2"]
    assert result.models[1].thumbnail is None and "gone.jpg" in result.notes[0]
    styles = json.loads((tmp_path / "site" / MODELS_INDEX).read_text())["styles"]
    assert styles[1]["thumbnail"] == "placeholder.svg" and (tmp_path / "site" / "placeholder.svg").is_file()


def test_failed_build_leaves_nothing_and_keeps_the_old_site(web_models, tmp_path, monkeypatch):
    from tfstyle.export import tfjs

    calls = []
    real = tfjs.write

    def fail_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(tfjs, "write", fail_second)
    out = tmp_path / "site"
    with pytest.raises(OSError):
        build_site([web_models["light"], web_models["standard"]], out, WebConfig(litert_sizes=()))
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing, not even a staging folder"
    out.mkdir()
    (out / "index.html").write_text("old site")
    with pytest.raises(SiteError, match="--overwrite"):
        build_site([web_models["light"]], out)
    calls.clear()
    with pytest.raises(OSError):
        build_site([web_models["light"], web_models["standard"]], out, WebConfig(litert_sizes=()), overwrite=True)
    assert (out / "index.html").read_text() == "old site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_server_sends_isolation_headers_and_wasm_type(site):
    server = make_server(site.path, 0)
    import threading

    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        base = url_of(server)
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base) as r:
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert b"<canvas id=\"output\"" in r.read()
        with urllib.request.urlopen(base + "tfjs/tfjs-backend-wasm-simd.wasm") as r:
            assert r.headers["Content-Type"] == "application/wasm"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "models/nothing.json")
        assert e.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(SiteError, match="not a site folder"):
        make_server(site.path / "models", 0)


def _cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfstyle", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def _one_error_line(r):
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and re.match(r"tfstyle( web)?: error: ", lines[0]) and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_cli_web_errors_are_one_line_and_write_nothing(web_models, site, tmp_path):
    out = tmp_path / "new_site"
    line = _one_error_line(_cli("web", web_models["light"], "-o", out, env={"TFSTYLE_TFJS_DIR": str(tmp_path / "nm")}))
    assert "npm ci --ignore-scripts --prefix" in line and "TFSTYLE_TFJS_DIR" in line
    assert "already exists" in _one_error_line(_cli("web", web_models["light"], "-o", site.path))
    assert "not a model folder" in _one_error_line(_cli("web", tmp_path, "-o", out))
    assert "MODEL_DIR" in _one_error_line(_cli("web", "-o", out))
    assert "not a site folder" in _one_error_line(_cli("web", "-o", out, "--serve", "--port", "0"))
    assert "quantize" in _one_error_line(_cli("web", web_models["light"], "-o", out, "--quantize", "int8"))
    assert "port" in _one_error_line(_cli("web", web_models["light"], "-o", out, "--port", "70000"))
    assert "litert_sizes" in _one_error_line(_cli("web", web_models["light"], "-o", out, "--litert-sizes", "8"))
    assert "litert_aspects" in _one_error_line(_cli("web", web_models["light"], "-o", out, "--litert-aspects", "4x3"))
    assert "folder" in _one_error_line(_cli("web", web_models["light"], "-o", tmp_path / "no" / "site"))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_cli_web_writes_and_serves_until_ctrl_c(web_models, tmp_path):
    out = tmp_path / "site"
    r = _cli("web", web_models["light"], "-o", out, "--quantize", "uint8", "--thumbnail-size", "64",
             "--litert-sizes", "192", "--litert-aspects", "16:9")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stderr and (out / "models" / "starry" / "model.json").is_file()
    assert "LiteRT.js 2.5.3" in r.stderr
    assert json.loads((out / MODELS_INDEX).read_text())["styles"][0]["litert"]["192"]["shapes"] == [[108, 192]]
    index = json.loads((out / MODELS_INDEX).read_text())
    assert index["quantize"] == "uint8"
    with Image.open(out / "models" / "starry" / "style.jpg") as im:
        assert max(im.size) == 64
    p = subprocess.Popen([sys.executable, "-m", "tfstyle", "web", "-o", str(out), "--serve", "--port", "0"],
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        m = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert m, line
        with urllib.request.urlopen(m.group(1) + "models/models.json") as resp:
            assert json.loads(resp.read())["styles"][0]["name"] == "starry"
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        rest = p.stderr.read()
        assert p.wait(timeout=30) == 0, rest
        assert "Traceback" not in rest and "stopped" in rest, rest
    finally:
        if p.poll() is None:
            p.kill()


# ---- the app in Chromium ---------------------------------------------------------------------------

# runtime, URL settings, style, frames, photo: every runtime the page can pick, both networks on the
# page's default (LiteRT.js with threads).
PARITY = [
    ("litert-wasm", "", "starry", 3, PHOTO_LITERT),
    ("litert-wasm", "", "wave", 1, PHOTO_LITERT),
    ("litert-wasm", "&threads=1", "starry", 1, PHOTO_LITERT),  # the single-thread ("compat") build
    ("litert-webgpu", "", "starry", 1, PHOTO_LITERT),  # SwiftShader's WebGPU
    ("tfjs-wasm", "", "starry", 3, PHOTO),
    ("tfjs-wasm", "", "wave", 1, PHOTO),
    ("tfjs-webgl", "", "starry", 1, PHOTO),
    ("tfjs-cpu", "", "starry", 1, PHOTO),
]


@pytest.mark.slow
@pytest.mark.parametrize("runtime,extra,style,frames,photo", PARITY, ids=[
    f"{r}{e.replace('&', '-').replace('=', '')}-{s}" for r, e, s, _, _ in PARITY])
def test_test_mode_matches_keras(chromium, chromium_webgpu, base, keras_out, artifacts, runtime, extra, style, frames,
                                 photo):
    """index.html?image=URL&style=NAME stylises on load; the canvas equals the Keras output (PSNR >= 30 dB,
    the canvas is 8-bit) on every runtime; nothing is requested from outside the site."""
    browser = chromium_webgpu() if runtime == "litert-webgpu" else chromium
    page = webpage.Page(browser, base)
    try:
        size = "&size=256" if photo == PHOTO_LITERT else ""
        data = page.open(f"?image={photo}&style={style}&runtime={runtime}{extra}&frames={frames}{size}",
                         timeout_s=240)
        assert data["state"] == "done", (data, page.message(), page.console[-5:])
        assert data["runtime"] == runtime and float(data["fps"]) > 0, data
        if runtime == "litert-wasm":
            assert data["build"] == ("SIMD" if extra else "threads"), data
        if runtime == "litert-webgpu":
            assert data["webgpu"] == "software", data
        got = page.canvas()
        want = keras_out["light" if style == "starry" else "standard", photo]
        assert got.shape == want.shape
        value = webpage.psnr(got, want)
        (artifacts / f"browser_psnr_{runtime}{extra.replace('&', '_')}_{style}.json").write_text(json.dumps(
            {"runtime": runtime, "style": style, "psnr_db": round(value, 2), "fps": float(data["fps"])}))
        assert value >= 30, value
        assert page.foreign_requests() == []
        assert not [c for c in page.console if c.startswith("pageerror")], page.console
        page.screenshot(artifacts / f"test_mode_{runtime}_{style}.png")
    finally:
        page.close()


@pytest.mark.slow
def test_default_runtime_size_and_page_text(chromium, base, keras_out):
    """Without runtime=, LiteRT.js on WebAssembly runs here (headless Chromium's WebGL is SwiftShader,
    software, and it offers no WebGPU adapter); the page says so. A size the site has no .tflite for
    runs on TF.js, and the page says why."""
    page = webpage.Page(chromium, base)
    try:
        data = page.open(f"?image={PHOTO_LITERT}&size=256")
        assert data["state"] == "done" and data["runtime"] == "litert-wasm" and data["backend"] == "wasm", data
        assert page.page.inner_text("#backend") == "LiteRT.js WebAssembly"
        assert "threads build, 2 thread(s)" in page.page.get_attribute("#backend", "title")
        assert webpage.psnr(page.canvas(), keras_out["light", PHOTO_LITERT]) >= 30
        data = page.open(f"?image={PHOTO}&size=64")
        assert data["state"] == "done" and data["runtime"] == "tfjs-wasm", data
        assert page.canvas().shape == (48, 64, 3)
        assert page.page.inner_text("#backend") == "TensorFlow.js WebAssembly"
        assert "no LiteRT.js model for 64×48 px here" in page.page.get_attribute("#backend", "title")
        assert float(page.page.inner_text("#fps")) > 0
        assert page.page.inner_text("#dims") == "64×48 px"
        assert page.page.is_enabled("#download")
    finally:
        page.close()


@pytest.mark.slow
def test_litert_crops_a_photo_to_the_nearest_exported_shape(chromium, base, site, web_models):
    """The 134x101 photo at size 256 runs LiteRT.js at 256x192 (4:3, the nearest exported shape): the
    canvas is the network's output on the centre crop the page drew (the input canvas, read back)."""
    page = webpage.Page(chromium, base)
    try:
        data = page.open(f"?image={PHOTO}&size=256&frames=1")
        assert data["state"] == "done" and data["runtime"] == "litert-wasm", data
        got = page.canvas()
        assert got.shape == (192, 256, 3)
        page.page.click("#strength")
        page.page.keyboard.press("Home")  # strength 0: the output canvas shows the input canvas itself
        drawn = page.canvas()
        want = StyleModel(web_models["light"])(drawn)
        assert webpage.psnr(got, want) >= 30
    finally:
        page.close()


@pytest.mark.slow
def test_a_picture_too_large_for_webgl_moves_to_wasm(chromium, base, keras_out):
    """WebGL keeps tensors in textures of limited size (8192 px here: the standard network's first
    convolution at 512 px needs 13033, see bench_web). TF.js's own URL flag lowers the limit to 256 px
    so that the small photo takes the same path quickly: the app finishes on WebAssembly, says so,
    and the result is still the network's."""
    page = webpage.Page(chromium, base)
    try:
        data = page.open(f"?image={PHOTO}&style=starry&backend=webgl&frames=1"
                         "&tfjsflags=WEBGL_MAX_TEXTURE_SIZE:256")
        assert data["state"] == "done", (data, page.message())
        assert data["backend"] == "wasm" and "too large for WebGL" in data["switched"], data
        assert data["runtime"] == "tfjs-wasm"
        assert page.page.inner_text("#backend") == "TensorFlow.js WebAssembly"
        assert webpage.psnr(page.canvas(), keras_out["light", PHOTO]) >= 30
    finally:
        page.close()


@pytest.mark.slow
def test_without_webgl_the_app_falls_back_to_wasm_then_cpu(playwright, site, tmp_path, keras_out, artifacts):
    """TF.js's order WebGL -> WebAssembly -> CPU in a browser without WebGL (TF.js runs the photo's own
    size, which has no .tflite): WebAssembly runs; with the site's .wasm files gone too, LiteRT.js
    cannot start and the CPU backend runs; both say so in the page and both give the network's
    result. Without WebGL and WebAssembly the page explains itself.

    Chromium's flags cannot take WebGL away (--disable-webgl leaves it on OffscreenCanvas, where TF.js
    draws), so every canvas of the page is made to refuse WebGL contexts before any script runs."""
    no_wasm = tmp_path / "site"
    shutil.copytree(site.path, no_wasm, ignore=shutil.ignore_patterns("*.wasm"))
    b = webpage.launch(playwright, webgl=False, camera=None)
    try:
        for root, backend, label in ((site.path, "wasm", "TensorFlow.js WebAssembly"),
                                     (no_wasm, "cpu", "TensorFlow.js CPU (JavaScript)")):
            with webpage.served(root) as url:
                page = webpage.Page(b, url)
                page.page.add_init_script(NO_WEBGL)
                try:
                    data = page.open(f"?image={PHOTO}&style=starry&frames=1")
                    assert data["state"] == "done", (data, page.message(), page.console[-5:])
                    assert data["backend"] == backend and data["skipped"].startswith("webgl: "), data
                    if backend == "cpu":
                        assert "wasm: " in data["skipped"], data
                        assert data["failed"].startswith("litert-wasm: "), data
                    assert page.page.inner_text("#backend") == label
                    assert "not available here" in page.page.get_attribute("#backend", "title")
                    assert webpage.psnr(page.canvas(), keras_out["light", PHOTO]) >= 30
                    if backend == "cpu":
                        page.screenshot(artifacts / "fallback_cpu.png")
                finally:
                    page.close()
    finally:
        b.close()
    # A browser with neither WebGL nor WebAssembly: a clear message.
    b = webpage.launch(playwright, webgl=False, camera=None)
    try:
        with webpage.served(site.path) as url:
            page = webpage.Page(b, url)
            page.page.add_init_script(NO_WEBGL + "delete globalThis.WebAssembly;")
            data = page.open(f"?image={PHOTO}")
            assert data["state"].startswith("error: ") and "neither WebGL nor WebAssembly" in data["state"], data
            assert "neither WebGL nor WebAssembly" in page.message()
            assert page.page.inner_text("#backend") == "none"
            page.screenshot(artifacts / "unsupported_browser.png")
            page.close()
    finally:
        b.close()


@pytest.mark.slow
def test_webcam_with_the_fake_camera_yields_frames_and_fps(chromium, base, artifacts):
    page = webpage.Page(chromium, base)
    try:
        page.open("?size=128", wait="() => document.body.dataset.state === 'ready'")
        page.page.focus("#webcam")
        page.page.keyboard.press("Enter")  # the controls work from the keyboard
        page.page.wait_for_function("() => Number(document.body.dataset.frames || 0) >= 5", timeout=120_000)
        first = page.dataset()
        page.page.wait_for_function("() => Number(document.body.dataset.frames || 0) >= 15", timeout=120_000)
        later = page.dataset()
        assert later["state"] == "webcam" and float(later["fps"]) > 0, later
        assert later["tensors"] == first["tensors"], "no tensors leak from frame to frame"
        assert page.page.get_attribute("#webcam", "aria-pressed") == "true"
        assert page.canvas().shape[1] == 128
        page.screenshot(artifacts / "webcam.png")
        page.page.keyboard.press("Enter")
        page.page.wait_for_function("() => document.getElementById('webcam').getAttribute('aria-pressed') === 'false'")
    finally:
        page.close()


@pytest.mark.slow
def test_webcam_runs_on_litert_at_an_exported_size(chromium, base):
    """The fake camera's 640x480 frames at 256 px are the site's 4:3 shape: LiteRT.js runs them live."""
    page = webpage.Page(chromium, base)
    try:
        page.open("?size=256&webcam=1", wait="() => Number(document.body.dataset.frames || 0) >= 3", timeout_s=180)
        data = page.dataset()
        assert data["state"] == "webcam" and data["runtime"] == "litert-wasm" and float(data["fps"]) > 0, data
        assert page.canvas().shape == (192, 256, 3)
        assert page.page.inner_text("#backend") == "LiteRT.js WebAssembly"
    finally:
        page.close()


@pytest.mark.slow
def test_broken_models_show_the_error_in_the_page(site, tmp_path, chromium, artifacts):
    broken = tmp_path / "site"
    shutil.copytree(site.path, broken)
    (broken / "models" / "starry" / "model.json").write_text('{"format": "graph-model", "modelTopology": {')
    (broken / "models" / "wave" / "group1-shard1of1.bin").unlink()
    with webpage.served(broken) as url:
        page = webpage.Page(chromium, url)
        try:
            for style, words in (("starry", "could not be loaded"), ("wave", "HTTP 404"), ("nope", "unknown style")):
                data = page.open(f"?image={PHOTO}&style={style}")
                assert data["state"].startswith("error: ") and words in data["state"], data
                shown = page.message()
                assert words in shown and "\n" not in data["state"], shown
                if style == "starry":
                    assert 'style "starry"' in shown
                    page.screenshot(artifacts / "broken_model.png")
            (broken / "models" / "models.json").write_text("[")
            data = page.open(f"?image={PHOTO}")
            assert "models/models.json" in data["state"], data
        finally:
            page.close()


@pytest.mark.slow
def test_camera_permission_denied_is_explained(playwright, base):
    b = webpage.launch(playwright, camera="deny")
    try:
        page = webpage.Page(b, base)
        page.open("", wait="() => document.body.dataset.state === 'ready'")
        page.page.click("#webcam")
        page.page.wait_for_function("() => (document.body.dataset.state || '').startsWith('error')")
        assert "permission was denied" in page.message()
        assert page.page.get_attribute("#webcam", "aria-pressed") == "false"
    finally:
        b.close()


@pytest.mark.slow
def test_phone_screen_keyboard_strength_and_download(chromium, base, artifacts, tmp_path, site):
    page = webpage.Page(chromium, base, viewport=(390, 844))
    try:
        data = page.open(f"?image={PHOTO}&size=128")
        assert data["state"] == "done", data
        assert page.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), \
            "no sideways scrolling on a phone"
        page.screenshot(artifacts / "phone.png")
        before = page.canvas()
        # Arrow keys move between the style radios; the photo is stylised again with the new style.
        page.page.focus("input[name=style][value=starry]")
        page.page.evaluate("() => { document.body.dataset.state = 'changing'; }")
        page.page.keyboard.press("ArrowRight")
        page.page.wait_for_function("() => document.body.dataset.state === 'done'", timeout=120_000)
        assert page.page.is_checked("input[name=style][value=wave]")
        after = page.canvas()
        assert after.shape == before.shape and np.abs(after - before).mean() > 0.01
        # Strength 0 shows the photo itself (at the processing size).
        page.page.focus("#strength")
        page.page.keyboard.press("Home")
        assert page.page.inner_text("#strength-value") == "0%"
        photo = page.canvas()
        src = np.asarray(Image.open(site.path / PHOTO).convert("RGB").resize((128, 96), Image.Resampling.LANCZOS),
                         np.float32) / 255
        assert np.abs(photo - src).mean() < 0.03
        with page.page.expect_download() as dl:
            page.page.click("#download")
        saved = tmp_path / "result.png"
        dl.value.save_as(saved)
        assert dl.value.suggested_filename == "tfstyle-wave-128x96.png"
        with Image.open(saved) as im:
            assert im.format == "PNG" and im.size == (128, 96)
    finally:
        page.close()


@pytest.mark.slow
def test_a_photo_dropped_on_the_stage_is_stylised_and_a_text_file_is_one_line(chromium, base, site):
    """Drag and drop as the browser delivers it: a DataTransfer holding a File, dropped on the stage."""
    page = webpage.Page(chromium, base)
    try:
        page.open("?size=128", wait="() => document.body.dataset.state === 'ready'")
        drop = """async ([url, name, type]) => {
            const blob = url ? await (await fetch(url)).blob() : new Blob(["not a picture"]);
            const dt = new DataTransfer();
            dt.items.add(new File([blob], name, {type: type || blob.type}));
            document.getElementById("stage").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true,
                                                                                   cancelable: true}));
        }"""
        page.page.evaluate(drop, [PHOTO, "photo.jpg", ""])
        page.page.wait_for_function("() => document.body.dataset.state === 'done'", timeout=120_000)
        assert page.canvas().shape[:2] == (96, 128)
        page.page.evaluate(drop, ["", "notes.txt", "text/plain"])
        page.page.wait_for_function("() => (document.body.dataset.state || '').startsWith('error')")
        state = page.page.evaluate("() => document.body.dataset.state")
        assert "Drop an image file" in state and "\n" not in state, state
    finally:
        page.close()


# A browser without WebAssembly SIMD, as the page sees it: validation refuses every small module that
# holds a SIMD instruction (prefix 0xFD), as such a browser's does (feature probes are small modules).
NO_SIMD = """
const validate = WebAssembly.validate;
WebAssembly.validate = function (bytes, ...rest) {
  const a = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (a.length < 1024 && a.slice(8).includes(0xfd)) return false;
  return validate.call(this, bytes, ...rest);
};
"""


def _tflite_taking(channels: int) -> bytes:
    """A .tflite whose signatures have the site's names but take ``channels`` channels."""
    import tempfile

    import tensorflow as tf

    class Net(tf.Module):
        pass

    net = Net()
    sigs = {}
    for h, w in ((192, 256), (256, 256)):
        fn = tf.function(lambda image: {"out": tf.tile(image[..., :1], [1, 1, 1, 3])},
                         input_signature=[tf.TensorSpec([1, h, w, channels], tf.float32, name="image")])
        setattr(net, f"s{h}x{w}", fn)
        sigs[f"s{h}x{w}"] = fn
    with tempfile.TemporaryDirectory() as d:
        tf.saved_model.save(net, d, signatures=sigs)
        return tf.lite.TFLiteConverter.from_saved_model(d, signature_keys=list(sigs)).convert()



@pytest.mark.slow
def test_bad_litert_models_and_no_simd_show_the_reason(site, tmp_path, playwright, chromium, artifacts):
    """A truncated .tflite, one that is not a .tflite at all, one whose input is not an RGB image of the
    exported shape, and a browser without WebAssembly SIMD: the page's error state says why, in one line."""
    broken = tmp_path / "site"
    shutil.copytree(site.path, broken)
    light = broken / "models" / "starry" / "litert_256.tflite"
    light.write_bytes(light.read_bytes()[: light.stat().st_size // 2])
    (broken / "models" / "wave" / "litert_256.tflite").write_bytes(_tflite_taking(1))
    cases = [("starry", 'The style "starry" could not be loaded (models/starry/litert_256.tflite)'),
             ("wave", "signature s192x256 takes float32[1, 192, 256, 1], the page expects float32[1, 192, 256, 3]")]
    with webpage.served(broken) as url:
        page = webpage.Page(chromium, url)
        try:
            for style, words in cases:
                data = page.open(f"?image={PHOTO_LITERT}&size=256&style={style}")
                assert data["state"].startswith("error: ") and words in data["state"], data
                assert "\n" not in data["state"] and words in page.message(), page.message()
            page.screenshot(artifacts / "bad_tflite.png")
            light.write_bytes(b"not a flatbuffer at all" * 100)
            data = page.open(f"?image={PHOTO_LITERT}&size=256&style=starry")
            assert data["state"].startswith('error: The style "starry" could not be loaded'), data
        finally:
            page.close()
    with webpage.served(site.path) as url:
        page = webpage.Page(chromium, url)
        page.page.add_init_script(NO_SIMD)
        try:
            data = page.open(f"?image={PHOTO_LITERT}&size=256&runtime=litert")
            assert data["state"].startswith("error: No runtime could start"), data
            assert "this browser has no WebAssembly SIMD, which LiteRT.js needs" in data["state"], data
            assert "\n" not in data["state"] and page.page.inner_text("#backend") == "none"
            # Unasked, TF.js serves this browser, and the page names what did not start and why.
            data = page.open(f"?image={PHOTO_LITERT}&size=256")
            assert data["state"] == "done" and data["runtime"].startswith("tfjs-"), data
            assert data["failed"].startswith("litert-wasm: this browser has no WebAssembly SIMD"), data
            assert "not available here: litert-wasm: this browser has no WebAssembly SIMD" in \
                page.page.get_attribute("#backend", "title")
        finally:
            page.close()
