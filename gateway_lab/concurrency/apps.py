"""Ready-made apps for races: one WSGI and one ASGI app whose work is set per request.

The query string says what a request costs, so one app serves every workload
(and worker processes can import it by name):

    /?io=0.05              wait 50 ms (WSGI: gl.io_sync; ASGI: await gl.io)
    /?cpu=0.02             compute for 20 ms of CPU time (gl.cpu)
    /?block=0.05           ASGI only: time.sleep(0.05) inside async def, the classic
                           mistake that stops the whole event loop
    /ws?hold=1 (WebSocket) ASGI: accept, stay open and idle for 1 s, echo, close

`requests_for("io", 40)` builds the requests of a named workload.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from ..request import Request
from .phases import cpu, io, io_sync
from .simulate import Workload

TEXT = [("Content-Type", "text/plain; charset=utf-8")]
MAX_SECONDS = 60.0


def _costs(query: str) -> dict[str, float]:
    out = {}
    for name, values in parse_qs(query).items():
        try:
            value = float(values[-1])
        except ValueError:
            continue
        if 0 <= value <= MAX_SECONDS:
            out[name] = value
    return out


def wsgi_app(environ, start_response):
    """A WSGI app that computes and waits as its query string says."""
    costs = _costs(environ.get("QUERY_STRING", ""))
    if costs.get("cpu"):
        cpu(costs["cpu"])
    wait = costs.get("io", 0) + costs.get("block", 0) + costs.get("hold", 0)
    if wait:
        io_sync(wait)  # a thread waits the only way it can: blocking, holding its worker
    body = f"done: {costs}\n".encode()
    start_response("200 OK", TEXT + [("Content-Length", str(len(body)))])
    return [body]


async def asgi_app(scope, receive, send):
    """The same app for ASGI: waits with `await`, unless told to block."""
    if scope["type"] == "lifespan":
        return
    costs = _costs(scope.get("query_string", b"").decode("latin-1"))
    if scope["type"] == "websocket":
        return await _websocket(receive, send, costs.get("hold", 0.0))
    if costs.get("cpu"):
        cpu(costs["cpu"])            # computing holds the loop: nothing else runs meanwhile
    if costs.get("block"):
        io_sync(costs["block"])      # time.sleep in async def: the loop stops too
    if costs.get("io"):
        await io(costs["io"])        # awaiting frees the loop for the other requests
    body = f"done: {costs}\n".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _websocket(receive, send, hold: float) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    if hold:
        await io(hold)  # an open, idle connection: a chat client nobody writes to
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        elif message.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


# name -> (query string of one request, what the workload shows)
WORKLOADS = {
    "io": ("io=0.05", "each request waits 50 ms (a database, an API)"),
    "cpu": ("cpu=0.02", "each request computes for 20 ms"),
    "mixed": ("cpu=0.005&io=0.05", "5 ms of computing, then a 50 ms wait"),
    "websocket": ("hold=0.1", "long-lived connections, each open and idle for 0.1 s"),
    "blocking": ("block=0.05", "time.sleep(0.05) inside async def: it holds the event loop"),
}


def workload(name: str, requests: int, *, seed: int = 0) -> Workload:
    """The same named workload's costs, for a run in virtual time (gl.simulate)."""
    costs = _costs(WORKLOADS[name][0])
    waits = costs.get("io", 0.0) + costs.get("block", 0.0) + costs.get("hold", 0.0)
    return Workload(requests=requests, cpu=costs.get("cpu", 0.0), io=waits, seed=seed,
                    style="blocking" if "block" in costs else "async")


def requests_for(workload: str, n: int, *, websocket: bool = False) -> list[Request]:
    """`n` requests of a named workload (one of WORKLOADS)."""
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; choose one of {', '.join(WORKLOADS)}")
    query = WORKLOADS[workload][0]
    if workload == "websocket" and websocket:
        return [Request.websocket(f"/ws?{query}&client={i}", ["hello"]) for i in range(n)]
    return [Request("GET", f"/?{query}&request={i}") for i in range(n)]
