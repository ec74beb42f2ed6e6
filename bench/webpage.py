"""Driving the tfstyle web app in a real headless Chromium: the browser tests, the web benchmark and
the README's screenshots share this.

Chromium is Debian's (``apt-get install chromium``, at ``/usr/bin/chromium`` or ``$CHROMIUM``);
Playwright's Python package drives it (Playwright's own browser downloads are never used). The
site is served by tfstyle's own server (``tfstyle.web.server``) on 127.0.0.1 in a thread, with the
cross-origin isolation headers WASM threads need.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

import numpy as np

# As root, in a container, offline: no sandbox, no GPU, and none of the background traffic that a
# closed network turns into a flood of refused connections.
BASE_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
# WebGL in headless Chromium: SwiftShader (software GL on the CPU); recent Chromium needs it asked for.
WEBGL_FLAGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
# WebGPU in headless Chromium: SwiftShader's Vulkan (a software GPU on the CPU cores), which needs the
# GPU process (no --disable-gpu).
WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"]
# A fake webcam (a moving test pattern) and no permission prompt.
CAMERA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
DONE_OR_ERROR = ("() => document.body.dataset.state === 'done' || "
                 "(document.body.dataset.state || '').startsWith('error')")


def chromium_path() -> str | None:
    """Debian's Chromium: ``$CHROMIUM``, else ``chromium`` on PATH; None if there is none."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).is_file() else None


@contextlib.contextmanager
def served(site):
    """Serve the folder ``site`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    from tfstyle.web.server import make_server, url_of

    server = make_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url_of(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def launch(playwright, webgl: bool = True, camera: str | None = "allow", extra_flags=(), webgpu: bool = False):
    """Start a headless Chromium (Playwright's ``Browser``) from a started Playwright.

    Args:
        webgl: enable WebGL through SwiftShader.
        webgpu: enable WebGPU through SwiftShader (a software adapter: the page runs LiteRT.js on
            WebAssembly unless asked for WebGPU).
        camera: "allow" (fake camera, permission granted), "deny" (fake camera, permission prompts
            denied) or None (no camera flags: no camera at all).
    """
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("Chromium not found: apt-get install chromium (or set $CHROMIUM)")
    flags = list(BASE_FLAGS) + (WEBGL_FLAGS if webgl else ["--disable-webgl"]) + list(extra_flags)
    if webgpu:
        flags = [f for f in flags if f != "--disable-gpu"] + WEBGPU_FLAGS
    if camera == "allow":
        flags += CAMERA_FLAGS
    elif camera == "deny":
        flags += ["--use-fake-device-for-media-stream", "--deny-permission-prompts"]
    return playwright.chromium.launch(executable_path=exe, args=flags, headless=True)


@contextlib.contextmanager
def browser(webgl: bool = True, camera: str | None = "allow", extra_flags=()):
    """:func:`launch` in its own Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p, webgl, camera, extra_flags)
        try:
            yield b
        finally:
            b.close()


class Page:
    """One page of the app with everything it logged and every URL it requested."""

    def __init__(self, browser, base: str, viewport=(1280, 800)):
        self.base = base
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, query: str = "", wait: str | None = DONE_OR_ERROR, timeout_s: float = 120) -> dict:
        """Open ``index.html<query>`` and wait for ``wait`` (a JS predicate; default: the test mode's
        done or error state). Returns ``document.body.dataset``."""
        self.page.goto(self.base + "index.html" + query)
        if wait:
            self.page.wait_for_function(wait, timeout=timeout_s * 1000)
        return self.dataset()

    def dataset(self) -> dict:
        return self.page.evaluate("() => ({...document.body.dataset})")

    def message(self) -> str:
        """The page's visible error message ('' when hidden)."""
        return self.page.evaluate("() => { const m = document.getElementById('message'); "
                                  "return m.hidden ? '' : m.textContent; }")

    def canvas(self, selector: str = "#output") -> np.ndarray:
        """The canvas's pixels as float32 RGB [0, 1], (H, W, 3)."""
        data = self.page.evaluate("""(sel) => {
            const c = document.querySelector(sel);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            return {w: c.width, h: c.height, px: Array.from(d)};
        }""", selector)
        a = np.asarray(data["px"], np.uint8).reshape(data["h"], data["w"], 4)
        return a[..., :3].astype(np.float32) / 255.0

    def foreign_requests(self) -> list[str]:
        """Requests that left the site's origin (blob: and data: URLs are the page's own)."""
        return [u for u in self.requests if not (u.startswith(self.base) or u.startswith(("blob:", "data:")))]

    def screenshot(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.page.close()


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB of two float images in [0, 1]."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


__all__ = ["chromium_path", "served", "launch", "browser", "Page", "psnr", "BASE_FLAGS", "WEBGL_FLAGS", "WEBGPU_FLAGS",
           "CAMERA_FLAGS"]
