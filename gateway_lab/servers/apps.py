"""The app every real server runs: one module, a WSGI and an ASGI face.

    gateway_lab.servers.apps:wsgi_app      for gunicorn, uWSGI, granian --interface wsgi
    gateway_lab.servers.apps:asgi_app      for uvicorn, hypercorn, granian

The same URLs on both faces, so a load test means the same work everywhere:

    /?io=0.05&cpu=0.005   the concurrency lab's workloads (gateway_lab.concurrency.apps):
                          compute, then wait, as the query says
    /sse?hold=30          server-sent events: one event at once ("open"), then an idle,
                          open response for `hold` seconds (a chat client nobody writes
                          to), then "bye"; this is the long-lived connection that both
                          interfaces can hold
    /pid                  which worker process answered (its process id)
    /ws (ASGI only)       a WebSocket: accept, then echo (WSGI has no way to take over
                          the connection: PEP 3333 gives the app a request, not a socket)

The idle SSE response waits the way each interface waits: WSGI with
`time.sleep` (blocking its thread; gunicorn's gevent worker patches it into a
greenlet switch), ASGI with `await`, stopping early when the client leaves.
"""

from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import parse_qs

from ..concurrency import apps as work

SSE_HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
MAX_HOLD = 600.0


def _hold(query: str) -> float:
    try:
        value = float(parse_qs(query).get("hold", ["30"])[-1])
    except ValueError:
        return 30.0
    return min(max(value, 0.0), MAX_HOLD)


def _event(text: str) -> bytes:
    return f"data: {text}\n\n".encode()


# -- WSGI --------------------------------------------------------------------------

def wsgi_app(environ, start_response):
    """PEP 3333: the workloads, /sse, /pid."""
    path = environ.get("PATH_INFO", "/")
    if path == "/sse":
        start_response("200 OK", list(SSE_HEADERS))
        return _wsgi_stream(_hold(environ.get("QUERY_STRING", "")))
    if path == "/pid":
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return work.wsgi_app(environ, start_response)


def _wsgi_stream(hold: float):
    # A generator: the server sends each chunk as it is yielded, and this worker
    # (thread, process or greenlet) stays with the stream until it ends.
    yield _event(f"open {os.getpid()}")
    time.sleep(hold)
    yield _event("bye")


# -- ASGI --------------------------------------------------------------------------

async def asgi_app(scope, receive, send):
    """ASGI 3: the workloads, /sse, /pid, and a WebSocket echo at any path."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] == "http" and scope["path"] == "/sse":
        return await _asgi_stream(scope, receive, send)
    if scope["type"] == "http" and scope["path"] == "/pid":
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    return await work.asgi_app(scope, receive, send)


async def _lifespan(receive, send) -> None:
    # Answer startup and shutdown (ASGI lifespan spec), so no server logs that the
    # app "does not support lifespan".
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _asgi_stream(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(k.lower().encode(), v.encode()) for k, v in SSE_HEADERS]})
    await send({"type": "http.response.body", "body": _event(f"open {os.getpid()}"),
                "more_body": True})
    hold = _hold(scope.get("query_string", b"").decode("latin-1"))
    try:  # idle until `hold` ends, or until the client leaves (http.disconnect)
        await asyncio.wait_for(_disconnected(receive), hold)
        return
    except asyncio.TimeoutError:
        pass
    await send({"type": "http.response.body", "body": _event("bye")})


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


WSGI = "gateway_lab.servers.apps:wsgi_app"
ASGI = "gateway_lab.servers.apps:asgi_app"


def for_interface(interface: str) -> str:
    """The lab's app for a server of this interface, as "module:attr"."""
    return WSGI if interface == "wsgi" else ASGI
