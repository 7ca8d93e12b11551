"""Does a server take a WebSocket, or speak HTTP/2?  Asked for real, with real clients.

A WebSocket starts as an HTTP/1.1 GET with `Upgrade: websocket` (RFC 6455
§4); a server that takes it answers `101 Switching Protocols` and from then
on both sides send frames.  An ASGI server hands the app a `websocket` scope
and the app accepts; a WSGI server can only call the app with an environ and
send back what it returns (PEP 3333 has no way to hand over the socket), so
the client gets an ordinary HTTP response instead of 101.

`websocket_probe(server)` connects with the `websockets` client, sends one
text frame and expects it echoed (gateway_lab.servers.apps echoes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Probe:
    label: str
    accepted: bool
    detail: str
    what: str = "WebSocket"

    def __str__(self) -> str:
        return f"{self.label}: {self.what + (' accepted' if self.accepted else ' refused')}" \
               f" ({self.detail})"


def websocket_probe(server, path: str = "/ws", timeout: float = 5.0) -> Probe:
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    url = f"ws://{server.host}:{server.port}{path}"
    try:
        with connect(url, open_timeout=timeout, close_timeout=1, proxy=None) as ws:
            ws.send("ping")
            echoed = ws.recv(timeout)
    except InvalidStatus as error:
        status = error.response.status_code
        return Probe(server.label, False, f"the server answered HTTP {status}, not 101")
    except (WebSocketException, OSError, TimeoutError) as error:
        return Probe(server.label, False, f"{type(error).__name__}: {error}")
    return Probe(server.label, echoed == "ping", f"101 Switching Protocols, echo {echoed!r}")


def http2_probe(server, timeout: float = 5.0) -> Probe:
    """Does the server speak HTTP/2 without TLS?  One GET with HTTP/2 "prior knowledge"
    (RFC 9113 §3.3: the client opens with the HTTP/2 preface, no Upgrade round trip).
    granian's README lists HTTP/2; hypercorn's docs (discussion/http2) describe only the
    `Upgrade: h2c` way in, so the probe's answer is what tells."""
    try:
        import httpx
    except ImportError:
        return Probe(server.label, False, "not asked: pip install 'httpx[http2]'", "HTTP/2")
    try:
        with httpx.Client(http1=False, http2=True, timeout=timeout, trust_env=False) as c:
            response = c.get(server.url + "?io=0")
    except ImportError as error:  # httpx without the h2 package
        return Probe(server.label, False, f"not asked: {error}", "HTTP/2")
    except httpx.HTTPError as error:
        return Probe(server.label, False, f"{type(error).__name__}: {error or 'no answer'}",
                     "HTTP/2")
    return Probe(server.label, response.http_version == "HTTP/2",
                 f"{response.http_version} {response.status_code}", "HTTP/2")
