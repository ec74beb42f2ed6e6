"""Serving a site on this machine, with the headers TF.js's WASM threads need.

WebAssembly threads use ``SharedArrayBuffer``, which browsers only give a page that is
cross-origin isolated: served with ``Cross-Origin-Opener-Policy: same-origin`` and
``Cross-Origin-Embedder-Policy: require-corp``. The site loads nothing from other origins, so
isolation costs it nothing. 127.0.0.1 counts as a secure context, which the webcam needs too.
"""

from __future__ import annotations

import errno
import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from ..config import WEB_HOST
from . import SiteError

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with isolation headers, correct types for .wasm and .js, no caching (a rebuilt
    site shows at once), and request logs sent to ``log`` instead of stderr."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
                      ".svg": "image/svg+xml"}
    log: Callable[[str], None] | None = None

    def end_headers(self):
        for k, v in ISOLATION_HEADERS.items():
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if self.log is not None:
            self.log(format % args)


def make_server(site: str | os.PathLike, port: int = 0, host: str = WEB_HOST,
                log: Callable[[str], None] | None = None) -> ThreadingHTTPServer:
    """A server for the folder ``site`` on ``host:port`` (port 0: a free one; see
    ``server.server_address``). Call ``serve_forever()`` (or run it in a thread) and ``server_close()``.

    Raises:
        SiteError: the folder has no index.html, or the port cannot be used.
    """
    site = Path(site)
    if not (site / "index.html").is_file():
        raise SiteError(f"{site}: not a site folder (no index.html); write one with tfstyle web MODEL_DIR -o {site}")
    handler = type("BoundSiteHandler", (SiteHandler,), {"log": staticmethod(log) if log else None})
    try:
        return ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(site)))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise SiteError(f"port {port} on {host} is in use; pass --port N (0 picks a free one)") from None
        raise SiteError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


__all__ = ["make_server", "url_of", "SiteHandler", "ISOLATION_HEADERS"]
