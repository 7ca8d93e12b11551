"""A wrong solution of exercise 19_sse: the stream stops only when send() fails.

Mistake: never reads receive() and counts on send() raising when the client leaves: ASGI 2.4
    servers do raise, but uvicorn's send() just returns, and the stream goes on for
    nobody.
Fails: send() stays quiet then (uvicorn)
Says: still running 0.3 s after the client left
"""

import asyncio
from urllib.parse import parse_qs

INTERVAL = 0.05


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    n = int(query["n"][0]) if query.get("n", [""])[0].isdigit() else None
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream"),
                            (b"cache-control", b"no-cache")]})
    i = 0
    while n is None or i < n:
        i += 1
        try:
            await send({"type": "http.response.body",
                        "body": f"data: tick {i}\n\n".encode(), "more_body": True})
        except OSError:
            return  # the client has gone
        if n is None or i < n:
            await asyncio.sleep(INTERVAL)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
