"""Serve an app on a real socket with the real server of its ecosystem.

    srv = gl.serve(app)                 # WSGI, ASGI or a CGI script, guessed from `app`
    srv.url                             # 'http://127.0.0.1:54321/'
    srv.traces                          # one Trace per request served so far
    srv.stop()                          # or: with gl.serve(app) as srv: ...

* WSGI runs under werkzeug's development server (`make_server`), the server
  `flask run` uses.  With ``trace=True`` (the default) each request is run
  through the lab's WSGI gateway (`run_wsgi`), so it is checked and traced
  exactly like an in-process run; the response is then collected before it
  is sent.  ``trace=False`` hands the app to werkzeug untouched (real
  streaming, no trace).
* ASGI runs under uvicorn, in a thread with its own event loop (so it works
  next to a notebook's loop), without signal handlers.  Tracing wraps the
  app: the scope and every message it receives and sends become events.
  HTTP and WebSocket both work.
* CGI (a ``.py`` script, or a directory of them) is served by werkzeug
  through a small WSGI adapter that runs each request in a child process with
  `gateway_lab.cgi.run_cgi`.

Anything that listens binds 127.0.0.1 unless `host` says otherwise
(DESIGN.md §Conventions).  A port already in use is refused with a message
that says so, not an OSError traceback.

The command line is `gateway-lab serve` (see `main`), which also serves a
WSGI app over SCGI, FastCGI or uwsgi for a front end such as nginx.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
import time
import warnings
from pathlib import Path

from .cli import guess_gateway
from .exchange import reason_phrase
from .trace import Trace

__all__ = ["ServeError", "Server", "main", "serve"]

GATEWAYS = ("wsgi", "asgi", "cgi")
MAX_TRACES = 1000      # traces kept per server (oldest dropped first)
START_TIMEOUT = 10.0   # seconds to wait for a server to start listening
# SO_REUSEADDR lets a restarted server bind a port still in TIME_WAIT; on Windows it
# would let a second server bind a port in use, so only POSIX gets it.
REUSE_ADDRESS = os.name != "nt"


class ServeError(RuntimeError):
    """A server could not start (the port is taken, the app is unusable, ...)."""


def bind_error(error: OSError, host: str, port: int) -> ServeError:
    """A clear message for a failed bind."""
    if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
        return ServeError(f"port {port} is already in use on {host}; pick another with --port "
                          "(or port=0 for any free port)")
    if error.errno in (errno.EACCES, getattr(errno, "WSAEACCES", -1)):
        return ServeError(f"not allowed to listen on {host}:{port} (ports below 1024 need "
                          "privileges); pick another with --port")
    return ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}")


def _bind(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket, or a ServeError."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as error:
        raise ServeError(f"cannot resolve host {host!r}: {error}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    if REUSE_ADDRESS:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise bind_error(error, host, port) from None
    return sock


class Server:
    """A server running in a background thread: `url`, `traces`, `stop()`."""

    def __init__(self, gateway: str, host: str, port: int, thread: threading.Thread,
                 stop, traces: list[Trace]):
        self.gateway = gateway
        self.host = host
        self.port = port
        self.traces = traces
        self._thread = thread
        self._stop = stop
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def running(self) -> bool:
        return not self._stopped and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the server and join its thread (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stop()
        if self._thread.ident is not None:  # a thread never started has nothing to join
            self._thread.join()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread.is_alive():
            self._thread.join(0.2)

    def __enter__(self) -> Server:  # noqa: PYI034 (typing.Self is 3.11+)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"<{type(self).__name__} {self.gateway} {self.url} {state}, "
                f"{len(self.traces)} requests>")

    def _repr_html_(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"{self.gateway} server <a href='{self.url}' target='_blank'>{self.url}</a> "
                f"({state}, {len(self.traces)} requests traced)")


def _keep(items: list, lock: threading.Lock, item) -> None:
    """Append `item`, keeping the last MAX_TRACES: a long-running server must not grow."""
    with lock:
        items.append(item)
        del items[:-MAX_TRACES]


# -- WSGI (and CGI) under werkzeug -----------------------------------------------------

def _request_from_environ(environ: dict):
    """The HTTP request werkzeug received, as a gateway_lab.Request (body read in full)."""
    from .wire._common import decimal, request_from_vars

    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream for us
        body = stream.read()
    else:
        body = stream.read(decimal(environ.get("CONTENT_LENGTH") or "0") or 0)
    variables = {k: v for k, v in environ.items() if isinstance(v, str)}
    variables["REQUEST_SCHEME"] = environ.get("wsgi.url_scheme", "http")
    variables.pop("SCRIPT_NAME", None)
    variables.pop("HTTP_TRANSFER_ENCODING", None)  # the body is de-chunked already
    if body:
        variables["CONTENT_LENGTH"] = str(len(body))
    return request_from_vars(variables, body)[0]


def _reply(exchange, start_response):
    """Send an Exchange's response through the real server."""
    response = exchange.response
    reason = response.reason or reason_phrase(response.status)
    start_response(f"{response.status} {reason}".rstrip(), list(response.headers))
    if response.complete:
        return [response.body]
    return _cut(response.body)


def _cut(body: bytes):
    # The app failed after the status line went out: all a server can do is
    # close the connection early (PEP 3333 §Error Handling).  werkzeug closes
    # quietly on a ConnectionError.
    yield body
    raise ConnectionAbortedError("the app failed after the response started")


def _refuse(error: Exception, start_response):
    """400 for a request werkzeug accepted but the lab's stricter Request does not."""
    start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
    return [f"400 Bad Request: {error}\n".encode()]


def _traced_wsgi(app, timeout: float, record):
    from .wire._common import WireError
    from .wsgi import run_wsgi

    def lab_wsgi(environ, start_response):
        try:
            request = _request_from_environ(environ)
        except WireError as error:
            return _refuse(error, start_response)
        ex = run_wsgi(app, request, timeout=timeout, multithread=True)
        record(ex.trace)
        return _reply(ex, start_response)

    return lab_wsgi


def _cgi_app(path: Path, timeout: float, record):
    """A WSGI app that runs CGI scripts: `path` itself, or `path/NAME` for /NAME/..."""
    from .cgi import run_cgi
    from .wire._common import WireError

    root = path.resolve()

    def lab_cgi(environ, start_response):
        try:
            request = _request_from_environ(environ)
        except WireError as error:
            return _refuse(error, start_response)
        script, mount = root, None  # one script: run_cgi works out SCRIPT_NAME from the URL
        if root.is_dir():
            name = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
            script = (root / name).resolve()
            if not name or script.parent != root or not script.is_file():
                start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
                listing = ", ".join(sorted(p.name for p in root.glob("*.py"))) or "none"
                return [f"404: no CGI script {name!r} in {root.name}/ (scripts: {listing})\n"
                        .encode()]
            mount = "/" + name  # RFC 3875 §4.1.13: /NAME is the script, the rest PATH_INFO
        ex = run_cgi(str(script), request, timeout=timeout, script_name=mount)
        record(ex.trace)
        return _reply(ex, start_response)

    return lab_cgi


def _serve_werkzeug(wsgi_app, host: str, port: int, gateway: str, traces,
                    quiet: bool) -> Server:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        def log_request(self, *args, **kw) -> None:  # the access log, unless quiet
            if not quiet:
                super().log_request(*args, **kw)

    # werkzeug turns every bind error into a printed line and SystemExit: bind
    # once ourselves first (port 0 too, for the host), so the message says why.
    _bind(host, port).close()
    try:
        server = make_server(host, port, wsgi_app, threaded=True, request_handler=Handler)
    except SystemExit:  # the port was free a moment ago: another program took it since
        raise bind_error(OSError(errno.EADDRINUSE, "in use"), host, port) from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"gateway-lab-serve-{gateway}", daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return Server(gateway, host, server.port, thread, stop, traces)


# -- ASGI under uvicorn ----------------------------------------------------------------

def _traced_asgi(app, record):
    """Wrap an ASGI app: its scope and every message in and out become trace events,
    with the same actors, details and spec sections as an in-process run (asgi.py)."""
    from .asgi import WS, WWW, _spec_of, _summary
    from .findings import describe_error

    async def lab_asgi(scope, receive, send):
        if scope["type"] not in ("http", "websocket"):  # lifespan: pass through
            return await app(scope, receive, send)
        trace = Trace("asgi")
        target = scope.get("path", "/") + (
            "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
        trace.add("client", "request", f"{scope.get('method', 'WEBSOCKET')} {target}",
                  "RFC 9112 §3", target="server")
        trace.add("server", "scope", f"type={scope['type']!r}, path={scope.get('path')!r}",
                  f"{WWW} §HTTP Connection Scope" if scope["type"] == "http" else
                  f"{WS} §Websocket Connection Scope", target="gateway", data=dict(scope))
        trace.add("gateway", "call", "await app(scope, receive, send)",
                  "ASGI spec §Applications", target="app")
        record(trace)

        async def traced_receive():
            message = await receive()
            kind = message.get("type", "?")
            trace.add("gateway", "receive", _summary(message), _spec_of(kind), target="app",
                      data=message)
            return message

        async def traced_send(message):
            if isinstance(message, dict) and "type" in message:
                trace.add("app", "send", _summary(message), _spec_of(message["type"]),
                          target="gateway", data=message)
            else:  # uvicorn will refuse it; the trace shows what it was
                trace.add("app", "send", repr(message), "ASGI spec §Events",
                          target="gateway", data=message)
            await send(message)

        try:
            await app(scope, traced_receive, traced_send)
        except Exception as error:
            trace.add("server", "log", f"the app raised {describe_error(error)}",
                      "ASGI spec §Error Handling")
            raise
        trace.add("app", "return", "the app returned", "ASGI spec §Applications",
                  target="gateway")

    return lab_asgi


def _serve_uvicorn(asgi_app, host: str, port: int, traces) -> Server:
    try:
        import uvicorn
    except ImportError:
        raise ServeError("serving ASGI needs uvicorn: pip install 'gateway-lab[serve]'"
                         ) from None
    sock = _bind(host, port)
    config = uvicorn.Config(asgi_app, log_level="warning", loop="asyncio", http="h11",
                            lifespan="auto")
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only on the main thread; ours is not.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="gateway-lab-serve-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        sock.close()
        raise ServeError("uvicorn did not start (is the app's lifespan startup failing?)")

    def stop():
        server.should_exit = True
        thread.join(5)
        if thread.is_alive():  # open connections (a WebSocket) keep it waiting: force it
            server.force_exit = True
            thread.join(5)
        sock.close()
        if thread.is_alive():  # an app blocking the loop (time.sleep in async code)
            warnings.warn("the ASGI app is blocking uvicorn's event loop; its thread will "
                          "end when the app returns", RuntimeWarning, stacklevel=3)

    return Server("asgi", host, sock.getsockname()[1], thread, stop, traces)


# -- the public entry point -------------------------------------------------------------

def serve(app, *, gateway: str | None = None, host: str = "127.0.0.1", port: int = 0,
          trace: bool = True, timeout: float = 5.0, quiet: bool = False) -> Server:
    """Serve `app` on host:port in a background thread and return the running Server.

    `gateway` is "wsgi", "asgi" or "cgi"; left out it is guessed (a path is a
    CGI script or directory, a coroutine function or an object with an async
    `__call__` is ASGI, anything else WSGI).  `port=0` picks a free port.
    `timeout` bounds each run of the app (WSGI and CGI; seconds).  `quiet`
    silences the start-up line and the access log.
    """
    gateway = gateway or guess_gateway(app)
    if gateway not in GATEWAYS:
        raise ServeError(f"unknown gateway {gateway!r}; use one of {', '.join(GATEWAYS)}")
    traces: list[Trace] = []
    lock = threading.Lock()

    def record(t: Trace) -> None:
        _keep(traces, lock, t)

    if gateway == "cgi":
        path = Path(app)
        if not path.exists():
            raise ServeError(f"{str(app)!r} is not a CGI script or directory")
        srv = _serve_werkzeug(_cgi_app(path, timeout, record), host, port, "cgi", traces,
                              quiet)
    elif not callable(app):
        raise ServeError(f"a {gateway.upper()} app must be callable, not "
                         f"{type(app).__name__}")
    elif gateway == "wsgi":
        wsgi_app = _traced_wsgi(app, timeout, record) if trace else app
        srv = _serve_werkzeug(wsgi_app, host, port, "wsgi", traces, quiet)
    else:
        srv = _serve_uvicorn(_traced_asgi(app, record) if trace else app, host, port, traces)
    if not quiet:
        print(f"Serving {gateway} app at {srv.url}", flush=True)
    return srv


# -- gateway-lab serve -------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway-lab serve",
        description="Serve an app on a socket until Ctrl-C. Over HTTP with --gateway "
                    "(werkzeug for WSGI and CGI, uvicorn for ASGI), or to a front end such "
                    "as nginx with --protocol (a WSGI app over SCGI, FastCGI or uwsgi).")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--gateway", choices=GATEWAYS, help="the interface (guessed when left out)")
    how.add_argument("--protocol", choices=("scgi", "fastcgi", "uwsgi"),
                     help="serve a WSGI app over this wire protocol instead of HTTP")
    parser.add_argument("target", help="module:attr for WSGI/ASGI apps; a script or directory "
                                       "for CGI")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="default 8000; 0 = any free port")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds each run of the app may take (WSGI, CGI, wire)")
    parser.add_argument("--reload", action="store_true",
                        help="restart when source files change (werkzeug's reloader for "
                             "WSGI, uvicorn's for ASGI; CGI scripts are read per request "
                             "anyway)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`gateway-lab serve`: 0 after Ctrl-C, 1 if the server cannot start, 2 on usage errors."""
    from .cli import UsageError, load_target

    args = _parser().parse_args(argv)
    try:
        app = load_target(args.target)
    except UsageError as error:
        print(f"gateway-lab serve: {error}", file=sys.stderr)
        return 2
    if isinstance(app, Path):
        app = str(app)
    gateway = args.gateway or (None if args.protocol else guess_gateway(app))
    if args.protocol and isinstance(app, str):
        print("gateway-lab serve: --protocol serves a WSGI app: give module:attr",
              file=sys.stderr)
        return 2
    if gateway == "cgi" and not isinstance(app, str):
        print("gateway-lab serve: --gateway cgi needs a script or directory path",
              file=sys.stderr)
        return 2
    # Before the server starts: a SIGTERM that comes early must still stop it cleanly.
    _TERMINATED.clear()
    _on_sigterm(_on_term)
    try:
        if args.reload and gateway in ("wsgi", "asgi"):
            return _serve_reloading(gateway, app, args)
        if args.reload:
            print("gateway-lab serve: --reload is not needed here (CGI scripts are read "
                  "afresh per request; wire servers have no reloader); serving without it",
                  file=sys.stderr)
        if args.protocol:
            from .wire.server import WireServer

            srv = WireServer(args.protocol, app, args.host, args.port,
                             timeout=args.timeout).start()
            print(f"Serving wsgi app over {args.protocol} at {args.host}:{srv.port} "
                  "(for a front end such as nginx; Ctrl-C to stop)", flush=True)
        else:
            srv = serve(app, gateway=gateway, host=args.host, port=args.port,
                        timeout=args.timeout)
    except (ServeError, TypeError) as error:
        print(f"gateway-lab serve: {error}", file=sys.stderr)
        return 1
    return _until_interrupted(srv)


_TERMINATED = threading.Event()  # a SIGTERM came: stop the server, exit 0


def _on_sigterm(handler) -> None:
    """Handle SIGTERM with `handler` (only the main thread may set a signal handler)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, handler)


def _on_term(signum, frame):
    # A flag, not an exception: raised while serve() is still starting (even inside
    # its "Serving ..." print), an exception would leave that server running.
    _TERMINATED.set()


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops a server in this thread as cleanly as Ctrl-C


def _until_interrupted(srv) -> int:
    """Serve until Ctrl-C (SIGINT) or SIGTERM, then stop cleanly."""
    try:
        while srv.running and not _TERMINATED.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    print("stopped", flush=True)
    return 0


def _serve_reloading(gateway: str, app, args) -> int:
    """--reload, best effort: the ecosystem's own reloader restarts a child process when a
    file changes, so it owns the process (no background thread, no traces here)."""
    # werkzeug's reloader runs this same command again in a child, with
    # WERKZEUG_RUN_MAIN=true and the port already held by the parent: the child
    # only serves, the parent checks the port and speaks.
    child = os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    _on_sigterm(_interrupt)  # the server below blocks this thread: SIGTERM must break in
    if not child:
        _bind(args.host, args.port).close()  # a clear message if the port is taken
        print(f"Serving {gateway} app at http://{args.host}:{args.port}/ with --reload "
              "(Ctrl-C to stop)", flush=True)
    try:
        if gateway == "wsgi":
            from werkzeug.serving import run_simple

            run_simple(args.host, args.port, app, use_reloader=True, threaded=True)
        else:
            import uvicorn

            # uvicorn's reloader re-imports the app in a child process: it needs
            # "module:attr", and the child must find the module from the cwd.
            uvicorn.run(args.target, host=args.host, port=args.port, reload=True,
                        reload_dirs=[os.getcwd()], app_dir=os.getcwd(), log_level="info")
    except KeyboardInterrupt:
        pass
    if not child:
        print("stopped", flush=True)
    return 0
