"""Serving the built site: any static web server will do.

A JupyterLite site is plain files.  Two response headers change how it runs,
COOP `same-origin` and COEP `require-corp` (`--isolate`): with them the page is
"cross-origin isolated", which lets the kernel share memory with the page
(SharedArrayBuffer).  That is how JupyterLab's Interrupt reaches a Pyodide kernel
busy in a loop; without them a hung cell means restarting the kernel.  (The
headers are HTML's, see the HTML standard's "cross-origin isolation".)

They are off by default, for a reason measured here: when the page is isolated,
jupyterlite-pyodide-kernel 0.8.6 also switches the kernel's file access (the
notebooks/ and exercises/ a lesson and `gl.check` read) from the service worker to
SharedArrayBuffer calls, and on this machine's chromium those calls hung or
failed to parse ("Expected double-quoted property name in JSON") in most runs, at
kernel start or at the first file read.  The lab's own deadline (sys.monitoring,
sandbox.py) stops runaway learner code without Interrupt, so the default is the
mode in which every lesson runs.  The service worker needs a secure context:
serve on 127.0.0.1/localhost, or over HTTPS.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Types a browser insists on: a module script must be JavaScript, WebAssembly streaming
# compilation wants application/wasm.
TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
         ".json": "application/json", ".ipynb": "application/json"}


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self) -> None:
        if self.server.isolate:
            for name, value in ISOLATION.items():
                self.send_header(name, value)
        # The site changes when it is rebuilt: let the browser check every time.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)


class SiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    verbose = False
    isolate = False


def make_server(site: Path, host: str = "127.0.0.1", port: int = 0,
                verbose: bool = False, isolate: bool = False) -> SiteServer:
    site = Path(site)
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"no site in {site}: build it first (gateway-lab lite "
                                f"--build {site})")
    handler = functools.partial(SiteHandler, directory=str(site))
    server = SiteServer((host, port), handler)
    server.verbose, server.isolate = verbose, isolate
    return server


def serve_in_thread(site: Path, host: str = "127.0.0.1", port: int = 0, isolate: bool = False):
    """(server, url): the site served from a background thread; server.shutdown() stops it."""
    server = make_server(site, host, port, isolate=isolate)
    thread = threading.Thread(target=server.serve_forever, name="gateway-lab-lite-site",
                              daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_address[1]}/"
