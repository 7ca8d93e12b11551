"""The ASGI gateway (ASGI 3.0, spec 2.x): a Request in, an app awaited, a Response out.

The package is split the way the ASGI specification is:

    connection.py  what every connection shares: the scope, the messages and their
                   rules (§Events), the app's steps on the loop timed (Watch)
    http.py        an HTTP request and its response (the "www" spec's HTTP part)
    websocket.py   a WebSocket, with a scripted client (the "www" spec's WebSocket part)
    lifespan.py    startup and shutdown (the Lifespan spec)
    loops.py       running an app from code that is not async: a script, a notebook cell
    gateway.py     run_asgi and run_asgi_async: a Request in, an Exchange out

Each module opens with its state machine's rules, as the spec states them.
"""

from .connection import (
    ASGI,
    BLOCKED,
    DEFAULT_TIMEOUT,
    GRACE,
    WS,
    WWW,
    ASGIError,
    Disconnected,
    _spec_of,
    _summary,
    connection_scope,
)
from .gateway import run_asgi, run_asgi_async
from .lifespan import Lifespan, lifespan, run_lifespan

__all__ = ["ASGI", "BLOCKED", "DEFAULT_TIMEOUT", "GRACE", "WS", "WWW", "ASGIError",
           "Disconnected", "Lifespan", "connection_scope", "lifespan", "run_asgi",
           "run_asgi_async", "run_lifespan", "_spec_of", "_summary"]
