"""An ASGI app traced as it runs on a real server (uvicorn, or a worker's loop)."""

from __future__ import annotations

from ..findings import describe_error
from ..trace import Trace


def traced_asgi(app, record):
    """Wrap an ASGI app: its scope and every message in and out become trace events,
    with the same actors, details and spec sections as an in-process run (asgi.py).
    `record(trace)` is called once, before the app starts."""
    from ..asgi import WS, WWW, _spec_of, _summary

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
            else:  # the server will refuse it; the trace shows what it was
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
