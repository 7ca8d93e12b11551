"""What every server of the lab shares: where it listens, the handle you hold, what it keeps.

`gl.serve` (werkzeug, uvicorn) and the wire servers (`gateway_lab.wire.server`)
both build on this module, and it imports neither of them:

* `bind(host, port)`: a bound socket, or a `ServeError` that says why not
  (a taken port, a privileged one, an address this machine does not have).
* `exposure(host)`: the warning for an address other machines can reach.
  A lab server runs whatever code it is given, so listening on 0.0.0.0,
  "::" or "" (every interface) hands code execution to the network; that
  needs a warning, not a silent yes (DESIGN.md §Conventions: 127.0.0.1
  unless the user asks).
* `Server`: what `gl.serve(...)` returns: `url`, `traces`, `stop()`, a
  `with` block.
* Bounds on what a long-running server keeps: the last `keep_traces` traces
  (200), and of every body in them the first `keep_body` bytes (8 KiB) plus
  the size (`Clipped`).  Without them 300 uploads of 900 KB through nginx
  kept every body alive in the server, 337 to 646 MB (issue 14); with them a
  trace holds at most about 4 * keep_body bytes of bodies.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import threading
import warnings

from .exchange import Response
from .limits import Clipped  # a kept head of bytes that knows the whole size
from .request import Request
from .trace import Trace

__all__ = ["Clipped", "ExposedWarning", "ServeError", "Server", "bind", "bind_error",
           "clip", "exposure"]

KEEP_TRACES = 200      # traces a server keeps (the oldest go first)
KEEP_BODY = 8192       # bytes of each body a kept trace holds (plus the body's size)
MAX_BODY = 10 << 20    # 10 MiB: the request body a server accepts (413 above), like CGI's cap
# SO_REUSEADDR lets a restarted server bind a port still in TIME_WAIT; on Windows it
# would let a second server bind a port in use, so only POSIX gets it.
REUSE_ADDRESS = os.name != "nt"


class ServeError(RuntimeError):
    """A server could not start (the port is taken, the app is unusable, ...)."""


class ExposedWarning(UserWarning):
    """A server listens on an address that other machines can reach."""


def bind_error(error: OSError, host: str, port: int) -> ServeError:
    """A clear message for a failed bind."""
    if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
        return ServeError(f"port {port} is already in use on {host}; pick another with --port "
                          "(or port=0 for any free port)")
    if error.errno in (errno.EACCES, getattr(errno, "WSAEACCES", -1)):
        return ServeError(f"not allowed to listen on {host}:{port} (ports below 1024 need "
                          "privileges); pick another with --port")
    return ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}")


IN_WORKER = "GATEWAY_LAB_WORKER"  # set in a worker process (gateway_lab.workers)


def bind(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket, or a ServeError."""
    if os.environ.get(IN_WORKER):
        # A module that starts a server when it is imported, imported by a worker to
        # get the app: each worker would start a server with workers of its own.
        raise ServeError("a server was started inside a worker process, while it imported "
                         "the app; start it under `if __name__ == '__main__':` instead")
    try:
        family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                    flags=socket.AI_PASSIVE)[0][0]
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


def _loopback(host: str) -> bool:
    """True when every address `host` names is this machine's loopback."""
    if not host:
        return False  # "" is every interface (INADDR_ANY)
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        pass  # a name: look at what it resolves to
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return True  # it will not bind anyway; bind() says why
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def exposure(host: str) -> str | None:
    """The warning for listening on `host`, or None for a loopback address."""
    if _loopback(host):
        return None
    where = "every interface" if host in ("", "0.0.0.0", "::") else repr(host)
    return (f"listening on {where}: any machine that can reach this one may send requests, "
            "and the app runs whatever code it holds, so this exposes code execution to the "
            "network. Use host='127.0.0.1' (the default) unless that is what you want.")


def warn_if_exposed(host: str, stacklevel: int = 3) -> None:
    message = exposure(host)
    if message is not None:
        warnings.warn(message, ExposedWarning, stacklevel=stacklevel)


# -- keeping traces, bounded -------------------------------------------------------------

_ATOMS = frozenset({str, int, float, bool, type(None)})
_BYTES = frozenset({bytes, bytearray, memoryview})


def clip(value, limit: int = KEEP_BODY):
    """`value` with every bytes longer than `limit` cut to a `Clipped` head (in dicts,
    lists, tuples, a Request's and a Response's body); other objects unchanged.
    The original is never modified: what changes is copied."""
    return _clip(value, limit, 0)[0]


def _clip(value, limit: int, depth: int) -> tuple[object, int]:
    """(clipped value, bytes of bodies it still holds)."""
    kind = type(value)
    if kind in _ATOMS:
        return value, 0
    if kind in _BYTES:
        if len(value) <= limit:
            return value, len(value)
        return Clipped(bytes(value[:limit]), len(value)), limit
    if kind is Clipped or depth > 4:
        return value, len(value) if kind is Clipped else 0
    kept = 0
    if kind is dict:
        out = None
        for key, item in value.items():
            if type(item) in _ATOMS:
                continue
            clipped, size = _clip(item, limit, depth + 1)
            kept += size
            if clipped is not item:
                if out is None:
                    out = dict(value)
                out[key] = clipped
        return (value if out is None else out), kept
    if kind in (list, tuple) or (isinstance(value, tuple) and hasattr(value, "_fields")):
        items, changed = [], False
        for item in value:
            clipped, size = _clip(item, limit, depth + 1)
            kept += size
            changed = changed or clipped is not item
            items.append(clipped)
        if not changed:
            return value, kept
        return (kind._make(items) if hasattr(kind, "_make") else kind(items)), kept
    if isinstance(value, Response):
        if len(value.body) <= limit:
            return value, len(value.body)
        return Response(value.status, value.headers, clip(value.body, limit), value.reason,
                        value.complete, value.trailers), limit
    if isinstance(value, Request):
        if len(value.body) <= limit:
            return value, len(value.body)
        return _clipped_request(value, limit), limit
    return value, 0


def _clipped_request(request: Request, limit: int) -> Request:
    """A copy of `request` whose body (and chunks) are clipped; its headers, and so the
    Content-Length it was sent with, stay as they were (its parts are replaced as
    they are: a Request's own setters would mend the Content-Length)."""
    parts = request.parts
    body = clip(parts.body, limit)
    chunks = (body,) if len(parts.chunks) <= 1 else tuple(clip(c, limit)
                                                          for c in parts.chunks[:4])
    return Request.from_parts(parts._replace(body=body, chunks=chunks))


def clip_trace(trace: Trace, limit: int = KEEP_BODY) -> Trace:
    """Clip the data of every event of `trace` in place (the events' text was made from
    the whole data first, so a detail such as "900000 bytes" stays true).

    The request and the response keep up to `limit` bytes of their bodies each; all
    the other events share 2 * `limit` (a 10 MB upload over FastCGI is 160 STDIN
    records, each an event with its bytes: a clip of each would be 160 clips)."""
    shared = 2 * limit
    for event in trace.events:
        data = event.data
        if data is None or type(data) in _ATOMS:
            continue
        own = event.kind in ("request", "response")
        clipped, kept = _clip(data, limit if own else max(0, min(limit, shared)), 0)
        if clipped is not data:
            _set_data(event, clipped)
        if not own:
            shared -= kept
    return trace


def _set_data(event, data) -> None:
    try:
        event.data = data
    except (AttributeError, TypeError):  # an event that cannot change: it stays whole
        pass


def keep(items: list, lock: threading.Lock, item, limit: int) -> None:
    """Append `item`, keeping the last `limit`: a long-running server must not grow."""
    with lock:
        items.append(item)
        del items[:-limit]


# -- the handle ---------------------------------------------------------------------

class Server:
    """A server running in a background thread: `url`, `traces`, `stop()`.

    `traces` holds the last `keep_traces` traces, each body in them cut to
    `keep_body` bytes (`Clipped`, which knows the whole size).
    """

    def __init__(self, gateway: str, host: str, port: int, thread: threading.Thread,
                 stop, traces: list[Trace] | None = None, *, keep_traces: int = KEEP_TRACES,
                 keep_body: int = KEEP_BODY):
        self.gateway = gateway
        self.host = host
        self.port = port
        self.traces: list[Trace] = [] if traces is None else traces
        self.keep_traces = keep_traces
        self.keep_body = keep_body
        self.pool = None  # the worker processes (gateway_lab.workers.Pool), when there are
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

    def record(self, trace: Trace) -> None:
        """Keep `trace` (clipped) among the last `keep_traces`."""
        keep(self.traces, self._lock, clip_trace(trace, self.keep_body), self.keep_traces)

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
