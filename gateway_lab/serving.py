"""Serve an app on a real socket with the real server of its ecosystem.

    srv = gl.serve(app)                 # WSGI, ASGI or a CGI script, guessed from `app`
    srv.url                             # 'http://127.0.0.1:54321/'
    srv.traces                          # one Trace per request served (the last 200)
    srv.stop()                          # or: with gl.serve(app) as srv: ...

* WSGI runs under werkzeug's development server (`make_server`), the server
  `flask run` uses.  With ``trace=True`` (the default) each request is run
  through the lab's WSGI gateway (`run_wsgi`) in a worker process, so it is
  checked and traced exactly like an in-process run; the response is then
  collected before it is sent.  ``trace=False`` hands the app to werkzeug
  untouched (real streaming, no trace, in werkzeug's threads).
* ASGI runs under uvicorn, in a thread with its own event loop (so it works
  next to a notebook's loop), without signal handlers.  uvicorn speaks HTTP
  and WebSocket to the client; the app runs in a worker process with an
  event loop of its own: an HTTP request through `run_asgi` (the same trace
  as in-process), a WebSocket relayed message by message and traced as it
  goes.
* CGI (a ``.py`` script, or a directory of them) is served by werkzeug
  through a small WSGI adapter that runs each request in a child process with
  `gateway_lab.cgi.run_cgi` (a process per request is CGI's own model).

Why worker processes (`gateway_lab.workers`): a thread cannot be killed, so
an app that swallows the lab's stop (`while True: try: ... except: pass`)
kept a core busy for good after its 504.  A process can be killed: like
gunicorn, whose workers "silent for more than [--timeout] seconds are killed
and restarted" (docs.gunicorn.org/en/stable/settings.html#timeout), the
server kills a worker that overruns `timeout` (plus a second of grace),
answers 504, says so in the trace (the worker, its pid, the timeout) and
starts a fresh worker.  For ASGI the lab does not use uvicorn's own
`--workers`, for two reasons read in uvicorn 0.54's supervisor
(`uvicorn/supervisors/multiprocess.py`): it has no request timeout, and its
health check is answered by a thread of the worker, which goes on answering
while an app blocks the worker's event loop; and a uvicorn worker holds the
client's connection itself, so killing it could not answer 504.  So uvicorn
runs here, in the server process, and hands each request to the lab's
worker.  `workers=0` runs the app in this process's threads instead, as a
development server does; nothing can stop an app there that will not stop.
``trace=False`` does the same: the app as the real server runs it, untouched.

Bounds (each a setting): request bodies above `max_body` bytes get 413 (10 MiB,
like CGI's output cap); a server keeps the last `keep_traces` traces, each
body in them cut to `keep_body` bytes plus its size.

Anything that listens binds 127.0.0.1 unless `host` says otherwise
(DESIGN.md §Conventions), and another address gets a warning: the app's code
is then one request away from anyone on the network.  A port already in use
is refused with a message that says so, not an OSError traceback.

The command line is `gateway-lab serve` (see `main`), which also serves a
WSGI app over SCGI, FastCGI or uwsgi for a front end such as nginx.
"""

from __future__ import annotations

import argparse
import contextvars
import errno
import logging
import os
import signal
import socket
import sys
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import quote

from .browser import IN_BROWSER, NO_SOCKETS, refuse
from .exchange import Response, reason_phrase, received, respond
from .listening import (
    KEEP_BODY,
    KEEP_TRACES,
    MAX_BODY,
    ExposedWarning,
    ServeError,
    Server,
    bind,
    bind_error,
    clip_trace,
    exposure,
    warn_if_exposed,
)
from .listening import keep as keep_trace
from .request import BadRequest, Request
from .targets import guess_gateway
from .trace import Trace
from .workers import Pool, start_workers, traced_asgi
from .workers.pool import QUEUE_WAIT

__all__ = ["ServeError", "Server", "main", "serve"]

GATEWAYS = ("wsgi", "asgi", "cgi")
START_TIMEOUT = 10.0   # seconds to wait for a server to start listening


# s any one read of a request may wait for the client (the head, the body, the next request
# on a kept-alive connection); nginx's client_header_timeout and client_body_timeout are 60.
READ_TIMEOUT = 30.0


class TooLarge(Exception):
    """A request body above the server's max_body: answered 413 unread."""

    def __init__(self, exchange):
        super().__init__("request body too large")
        self.exchange = exchange


def too_large(interface: str, request: Request, size: int, limit: int):
    """The Exchange of a request refused for its size (RFC 9110 §15.5.14): the app never
    sees it; the connection closes, as the rest of the body is not read."""
    trace = Trace(interface)
    received(trace, request)
    trace.find("http.body.too_large", actor="server", size=size, limit=limit)
    reason = reason_phrase(413)
    response = Response(413, [("Content-Type", "text/plain; charset=utf-8"),
                              ("Connection", "close")],
                        f"413 {reason}: the body is {size} bytes, more than the {limit} "
                        "this server accepts\n".encode(), reason=reason)
    return respond(interface, request, trace, response)


# -- WSGI (and CGI) under werkzeug -----------------------------------------------------

def _request_from_environ(environ: dict, max_body: int = MAX_BODY, interface: str = "wsgi"):
    """The HTTP request werkzeug received, as a gateway_lab.Request (body read in full);
    TooLarge past `max_body`, read no further."""
    from .wire._common import decimal, request_from_vars

    stream = environ["wsgi.input"]
    declared = decimal(environ.get("CONTENT_LENGTH") or "0") or 0
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream for us
        body = _read_stream(stream, max_body + 1, environ, interface)
    else:
        body = b"" if declared > max_body else _read_stream(stream, declared, environ, interface)
    variables = {k: v for k, v in environ.items() if isinstance(v, str)}
    variables["REQUEST_SCHEME"] = environ.get("wsgi.url_scheme", "http")
    variables.pop("SCRIPT_NAME", None)
    variables.pop("HTTP_TRANSFER_ENCODING", None)  # the body is de-chunked already
    size = max(declared, len(body))
    if size > max_body:
        variables.pop("CONTENT_LENGTH", None)
        request = request_from_vars(variables, b"")[0]
        raise TooLarge(too_large("wsgi", request, size, max_body))
    if body:
        variables["CONTENT_LENGTH"] = str(len(body))
    return request_from_vars(variables, body)[0]


def too_slow(interface: str, request: Request, limit: float):
    """The Exchange of a request whose body stopped arriving (RFC 9110 §15.5.9): the app
    never sees it; the connection closes, as the rest of the body may still come."""
    trace = Trace(interface)
    received(trace, request)
    trace.find("http.request.too_slow", actor="server", limit=limit, got="not all its")
    return _refusal(interface, request, trace, 408,
                    f"the body did not arrive within {limit:g} s")


def _refusal(interface: str, request: Request, trace: Trace, status: int, why: str):
    reason = reason_phrase(status)
    response = Response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                 ("Connection", "close")],
                        f"{status} {reason}: {why}\n".encode(), reason=reason)
    return respond(interface, request, trace, response)


class Unreadable(Exception):
    """The request body could not be read: a malformed chunk, or a client too slow."""

    def __init__(self, exchange):
        super().__init__("request body unreadable")
        self.exchange = exchange


def _read_stream(stream, size: int, environ: dict, interface: str) -> bytes:
    """stream.read(size), with werkzeug's errors as a server's answer: a chunk size that is
    not hex is 400 (RFC 9112 §7.1), a client that stops sending is 408 (RFC 9110
    §15.5.9) once its socket's read timeout passes."""
    from .wire._common import request_from_vars

    try:
        return stream.read(size)
    except (TimeoutError, OSError, ValueError) as error:
        variables = {k: v for k, v in environ.items() if isinstance(v, str)}
        for name in ("SCRIPT_NAME", "CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING"):
            variables.pop(name, None)
        request = request_from_vars(variables, b"")[0]
        if isinstance(error, TimeoutError):
            limit = environ.get("gateway_lab.read_timeout", 0)
            raise Unreadable(too_slow(interface, request, limit)) from None
        trace = Trace(interface)
        received(trace, request)
        trace.find("http.chunked.malformed", actor="server", detail=str(error))
        raise Unreadable(_refusal(interface, request, trace, 400,
                                  f"the chunked body is malformed ({error})")) from None


def _reply(exchange, start_response):
    """Send an Exchange's response through the real server."""
    response = exchange.response
    reason = response.reason or reason_phrase(response.status)
    # werkzeug's server closes every connection and says so itself ("Connection: close"
    # on every response): the lab's own would be a second header line.
    headers = [(n, v) for n, v in response.headers
               if not (n.lower() == "connection" and v.lower() == "close")]
    start_response(f"{response.status} {reason}".rstrip(), headers)
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


def _traced_wsgi(run, record, max_body: int):
    """The WSGI app werkzeug serves: each request through `run` (a Pool or InProcess)."""
    from .wire._common import WireError

    def lab_wsgi(environ, start_response):
        try:
            request = _request_from_environ(environ, max_body)
        except WireError as error:
            return _refuse(error, start_response)
        except (TooLarge, Unreadable) as refused:
            record(refused.exchange.trace)
            return _reply(refused.exchange, start_response)
        ex = run.run(request)
        record(ex.trace)
        return _reply(ex, start_response)

    return lab_wsgi


def _cgi_app(path: Path, timeout: float, record, max_body: int):
    """A WSGI app that runs CGI scripts: `path` itself, or `path/NAME` for /NAME/..."""
    from .cgi import run_cgi
    from .wire._common import WireError

    root = path.resolve()

    def lab_cgi(environ, start_response):
        try:
            request = _request_from_environ(environ, max_body, "cgi")
        except WireError as error:
            return _refuse(error, start_response)
        except (TooLarge, Unreadable) as refused:
            record(refused.exchange.trace)
            return _reply(refused.exchange, start_response)
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


def _serve_werkzeug(wsgi_app, host: str, port: int, gateway: str, quiet: bool,
                    after_stop=None, read_timeout: float = READ_TIMEOUT, **keep) -> Server:
    from werkzeug.serving import WSGIRequestHandler, make_server

    open_sockets: set = set()
    lock = threading.Lock()

    class Handler(WSGIRequestHandler):
        # socketserver applies `timeout` to the connection's socket: no read (of the
        # head, of the body, or of the next request on a kept-alive connection) waits
        # longer, so a client that stops sending cannot hold a thread for good.
        timeout = read_timeout

        def setup(self) -> None:
            super().setup()
            with lock:
                open_sockets.add(self.connection)

        def finish(self) -> None:
            with lock:
                open_sockets.discard(self.connection)
            super().finish()

        def make_environ(self):
            environ = super().make_environ()
            environ["gateway_lab.read_timeout"] = read_timeout
            return environ

        def log_request(self, *args, **kw) -> None:  # the access log, unless quiet
            if not quiet:
                super().log_request(*args, **kw)

    # werkzeug turns every bind error into a printed line and SystemExit: bind
    # once ourselves first (port 0 too, for the host), so the message says why.
    bind(host, port).close()
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
        # werkzeug's handler threads are daemons nobody joins: a connection still open
        # (a request in flight, a client that stopped sending) is cut, so that its
        # thread ends now and its socket is closed, not at its next timeout.
        with lock:
            sockets = list(open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # closed meanwhile
                pass
        if after_stop is not None:
            after_stop()

    return Server(gateway, host, server.port, thread, stop, **keep)


# -- ASGI under uvicorn ----------------------------------------------------------------

def _request_from_scope(scope: dict, body: bytes) -> Request:
    """The HTTP request uvicorn received (an ASGI http scope and its whole body)."""
    raw = scope.get("raw_path") or quote(scope.get("path", "/")).encode()
    target = raw.decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    headers = []
    chunked = False
    for name, value in scope.get("headers", []):
        name, value = name.decode("latin-1"), value.decode("latin-1")
        if name.lower() == "transfer-encoding":
            chunked = True  # uvicorn de-chunked the body; its length says the rest
            continue
        headers.append((name, value))
    if chunked and body:
        headers.append(("Content-Length", str(len(body))))
    client, server = scope.get("client"), scope.get("server")
    return Request(scope.get("method", "GET"), target, headers, body,
                   http_version=scope.get("http_version", "1.1"),
                   scheme=scope.get("scheme", "http"),
                   client=tuple(client) if client else None,
                   server=tuple(server) if server else ("localhost", 80))


async def _send_response(send, response: Response) -> None:
    await send({"type": "http.response.start", "status": response.status,
                "headers": [(n.encode("latin-1"), v.encode("latin-1"))
                            for n, v in response.headers]})
    # A response the app cut short is sent as it was, then left unfinished: uvicorn
    # closes the connection, which is what the client of a failed app sees.
    await send({"type": "http.response.body", "body": response.body,
                "more_body": not response.complete})


async def _read_body(scope: dict, receive, max_body: int,
                     read_timeout: float) -> tuple[bytes, int]:
    """The whole request body, or (b"", size) once it is known to pass `max_body`;
    (b"", -1) if the client went away, (b"", -2) if it sent nothing for `read_timeout`.

    The server reads the body here, before a worker runs the app.  uvicorn has no
    timeout for a body that stops arriving (its --timeout-keep-alive is for a
    connection idle between requests), so each wait is bounded by the lab, as
    werkzeug's socket timeout bounds it (nginx: client_body_timeout)."""
    import asyncio

    declared = next((v for n, v in scope.get("headers", []) if n.lower() == b"content-length"),
                    b"")
    if declared.isdigit() and int(declared) > max_body:
        return b"", int(declared)
    chunks, size = [], 0
    while True:
        # The first receive() is also when uvicorn answers "Expect: 100-continue".
        try:
            message = await asyncio.wait_for(receive(), read_timeout)
        except asyncio.TimeoutError:
            return b"", -2
        if message["type"] != "http.request":
            return b"", -1  # the client went away
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            return b"", size
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), size


def _bodyless(scope: dict) -> dict:
    """The scope without its body's framing: the request as far as it came."""
    drop = (b"content-length", b"transfer-encoding", b"expect")
    return {**scope, "headers": [(n, v) for n, v in scope.get("headers", [])
                                 if n.lower() not in drop]}


def _worker_asgi(pool: Pool, record, max_body: int, read_timeout: float = READ_TIMEOUT):
    """The ASGI app uvicorn serves: HTTP requests and WebSockets, run in the pool."""

    async def lab_asgi(scope, receive, send):
        if scope["type"] == "http":
            await _http(scope, receive, send)
        elif scope["type"] == "websocket":
            await _websocket(scope, receive, send)

    async def _http(scope, receive, send):
        body, size = await _read_body(scope, receive, max_body, read_timeout)
        if size == -1:
            return
        try:
            if size == -2:
                request = _request_from_scope(_bodyless(scope), b"")
            else:
                request = _request_from_scope(scope, body if size <= max_body else b"")
        except BadRequest as error:
            await _send_response(send, Response(400, [("Content-Type", "text/plain")],
                                                f"400 Bad Request: {error}\n".encode()))
            return
        if size == -2:
            ex = too_slow("asgi", request, read_timeout)
        elif size > max_body:
            ex = too_large("asgi", request, size, max_body)
        else:
            ex = await pool.run_async(request, root_path=scope.get("root_path", ""))
        record(ex.trace)
        if not ex.response.complete:
            _CUT_BY_LAB.set(ex)
        await _send_response(send, ex.response)

    async def _websocket(scope, receive, send):
        import asyncio

        keys = ("type", "asgi", "http_version", "scheme", "path", "raw_path", "root_path",
                "query_string", "headers", "client", "server", "subprotocols")
        loop = asyncio.get_running_loop()
        relay = pool.open_websocket({k: scope[k] for k in keys if k in scope}, loop)
        waited = loop.time() + QUEUE_WAIT
        while relay is None and loop.time() < waited and not pool.stopping.is_set():
            await asyncio.sleep(0.05)  # a worker is being replaced: wait for it
            relay = pool.open_websocket({k: scope[k] for k in keys if k in scope}, loop)
        if relay is None:  # no worker ready: RFC 6455 §7.4.1 1013 "try again later"
            await send({"type": "websocket.close", "code": 1013})
            return

        async def client_to_worker():
            while True:
                message = await receive()
                if not relay.forward(message) or message["type"] == "websocket.disconnect":
                    return

        pump = asyncio.ensure_future(client_to_worker())
        try:
            while True:
                kind, payload = await relay.inbox.get()
                if kind == "ws_out":
                    try:
                        await send(payload)
                        relay.ack(None)
                    except Exception as error:  # noqa: BLE001 - the app's await send() raises it
                        relay.ack(f"{type(error).__name__}: {error}")
                    continue
                if kind == "killed":  # RFC 6455 §7.4.1 1011: the server hit an error
                    try:
                        await send({"type": "websocket.close", "code": 1011})
                    except Exception:  # noqa: BLE001 - the client went away first
                        pass
                record(payload)
                return
        finally:
            pump.cancel()
            relay.close()

    return lab_asgi


# uvicorn logs "ASGI callable returned without completing response." when the ASGI app
# it serves returns mid-body.  Under the lab that app is the lab's relay, which sends
# the response the worker's gateway cut short (max_body, the timeout, an app that raised
# after http.response.start) and returns unfinished on purpose, so that uvicorn closes
# the connection: the client must see an unfinished response.  The line is then
# rewritten to say who cut it and why; the request's task holds the Exchange.
_CUT_BY_LAB: contextvars.ContextVar = contextvars.ContextVar("gateway_lab_cut", default=None)
_UNFINISHED = "ASGI callable returned without completing response."


class _SayWhoCut(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ex = _CUT_BY_LAB.get()
        if ex is not None and record.msg == _UNFINISHED:
            why = ", ".join(f.rule for f in ex.trace.findings) or "see its trace"
            record.msg = (f"gateway-lab: {ex.request.method} {ex.request.target}: the server "
                          f"cut the app's response short ({why}) and closed the connection "
                          "mid-body, so the client sees it unfinished (srv.traces has why)")
            record.args = ()
        return True


def _say_who_cut() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _SayWhoCut) for f in logger.filters):
        logger.addFilter(_SayWhoCut())


def _serve_uvicorn(asgi_app, host: str, port: int, *, lifespan: str = "auto",
                   after_stop=None, **keep) -> Server:
    try:
        import uvicorn
    except ImportError:
        raise ServeError("serving ASGI needs uvicorn: pip install 'gateway-lab[serve]'"
                         ) from None
    sock = bind(host, port)
    config = uvicorn.Config(asgi_app, log_level="warning", loop="asyncio", http="h11",
                            lifespan=lifespan, backlog=2048)
    server = uvicorn.Server(config)
    _say_who_cut()  # after Config, which sets up uvicorn's loggers
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
        if after_stop is not None:
            after_stop()
        raise ServeError("uvicorn did not start (is the app's lifespan startup failing?)")

    def stop():
        server.should_exit = True
        thread.join(5)
        if thread.is_alive():  # open connections (a WebSocket) keep it waiting: force it
            server.force_exit = True
            thread.join(5)
        sock.close()
        if after_stop is not None:
            after_stop()
        if thread.is_alive():  # an app blocking the loop (time.sleep in async code)
            warnings.warn("the ASGI app is blocking uvicorn's event loop; its thread will "
                          "end when the app returns", RuntimeWarning, stacklevel=3)

    return Server("asgi", host, sock.getsockname()[1], thread, stop, **keep)


# -- the public entry point -------------------------------------------------------------

def serve(app, *, gateway: str | None = None, host: str = "127.0.0.1", port: int = 0,
          trace: bool = True, timeout: float = 5.0, quiet: bool = False, workers: int = 1,
          max_body: int = MAX_BODY, keep_traces: int = KEEP_TRACES,
          keep_body: int = KEEP_BODY, read_timeout: float = READ_TIMEOUT) -> Server:
    """Serve `app` on host:port in a background thread and return the running Server.

    `gateway` is "wsgi", "asgi" or "cgi"; left out it is guessed (a path is a
    CGI script or directory, a coroutine function or an object with an async
    `__call__` is ASGI, anything else WSGI).  `port=0` picks a free port.
    `timeout` bounds each run of the app (seconds): past it the client gets
    504, and a worker that cannot stop the app is killed and replaced.
    `workers` is the number of worker processes (0: this process's threads, as
    with trace=False, where an app that never returns cannot be stopped).
    `max_body` is the largest request body accepted (413 above);
    `keep_traces` and `keep_body` bound what `srv.traces` holds.  `read_timeout`
    bounds each wait for the client: past it a body that stopped arriving gets 408
    (WSGI, CGI, and ASGI with worker processes, where the server reads the body
    before the app runs), a head werkzeug is still reading a cut connection.  `quiet`
    silences the start-up line and the access log.  A `host` other than
    loopback gets an ExposedWarning.
    """
    if IN_BROWSER:
        raise refuse("gl.serve", NO_SOCKETS, "gl.run_wsgi / gl.run_asgi run the same app "
                     "in the lab without a socket")
    gateway = gateway or guess_gateway(app)
    if gateway not in GATEWAYS:
        raise ServeError(f"unknown gateway {gateway!r}; use one of {', '.join(GATEWAYS)}")
    if gateway != "cgi" and not callable(app):
        raise ServeError(f"a {gateway.upper()} app must be callable, not "
                         f"{type(app).__name__}")
    if gateway == "cgi" and not Path(app).exists():
        raise ServeError(f"{str(app)!r} is not a CGI script or directory")
    warn_if_exposed(host)
    traces: list[Trace] = []
    keep = {"traces": traces, "keep_traces": keep_traces, "keep_body": keep_body}
    lock = threading.Lock()

    def record(t: Trace) -> None:
        keep_trace(traces, lock, clip_trace(t, keep_body), keep_traces)

    if gateway == "cgi":
        srv = _serve_werkzeug(_cgi_app(Path(app), timeout, record, max_body), host, port,
                              "cgi", quiet, read_timeout=read_timeout, **keep)
    elif gateway == "wsgi" and not trace:
        srv = _serve_werkzeug(app, host, port, "wsgi", quiet, read_timeout=read_timeout,
                              **keep)
    elif gateway == "asgi" and not trace:
        srv = _serve_uvicorn(app, host, port, **keep)
    else:
        bind(host, port).close()  # a taken port is said before any worker starts
        run = start_workers(app, gateway, workers=workers, timeout=timeout,
                            keep_body=keep_body)
        try:
            if gateway == "wsgi":
                srv = _serve_werkzeug(_traced_wsgi(run, record, max_body), host, port, "wsgi",
                                      quiet, after_stop=run.stop, read_timeout=read_timeout,
                                      **keep)
            elif run is None:
                srv = _serve_uvicorn(traced_asgi(app, record), host, port, **keep)
            else:
                srv = _serve_uvicorn(_worker_asgi(run, record, max_body, read_timeout),
                                     host, port,
                                     lifespan="off", after_stop=run.stop, **keep)
        except BaseException:
            if run is not None:
                run.stop()
            raise
        srv.pool = run
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
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes that run the app (default 1); one that "
                             "overruns --timeout is killed and replaced. 0 = this process's "
                             "threads, where an app that never returns cannot be stopped")
    parser.add_argument("--max-body", type=int, default=MAX_BODY, metavar="BYTES",
                        help=f"largest request body accepted; larger ones get 413 "
                             f"(default {MAX_BODY})")
    parser.add_argument("--read-timeout", type=float, default=None, metavar="SECONDS",
                        help="seconds a client may take to send one whole request (wire "
                             "servers), or to send anything at all (HTTP under werkzeug), "
                             "before the connection is cut (default 30)")
    parser.add_argument("--reload", action="store_true",
                        help="restart when source files change (werkzeug's reloader for "
                             "WSGI, uvicorn's for ASGI; CGI scripts are read per request "
                             "anyway)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`gateway-lab serve`: 0 after Ctrl-C, 1 if the server cannot start, 2 on usage errors."""
    from .targets import UsageError, load_target

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
    if args.workers < 0 or args.max_body < 0:
        print("gateway-lab serve: --workers and --max-body cannot be negative", file=sys.stderr)
        return 2
    warning = exposure(args.host)
    if warning is not None:
        print(f"gateway-lab serve: warning: {warning}", file=sys.stderr, flush=True)
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
        wire = {} if args.read_timeout is None else {"read_timeout": args.read_timeout}
        if args.protocol:
            from .wire.server import WireServer

            with warnings.catch_warnings():  # said above, once, in the CLI's own words
                warnings.simplefilter("ignore", ExposedWarning)
                srv = WireServer(args.protocol, app, args.host, args.port,
                                 timeout=args.timeout, workers=args.workers,
                                 max_body=args.max_body, **wire).start()
            print(f"Serving wsgi app over {args.protocol} at {args.host}:{srv.port} "
                  "(for a front end such as nginx; Ctrl-C to stop)", flush=True)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExposedWarning)
                srv = serve(app, gateway=gateway, host=args.host, port=args.port,
                            timeout=args.timeout, workers=args.workers,
                            max_body=args.max_body, **wire)
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
        bind(args.host, args.port).close()  # a clear message if the port is taken
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
