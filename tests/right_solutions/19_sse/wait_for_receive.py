"""A right solution of exercise 19_sse in another style.

Style: no task of its own: the request message first, then asyncio.wait_for(receive(),
    INTERVAL) between events (a timeout means: next tick); the last event carries
    more_body False itself.
"""

import asyncio
from urllib.parse import parse_qs

INTERVAL = 0.05


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await receive()  # the (empty) request
    q = parse_qs(scope["query_string"].decode("latin-1"))
    n = int(q["n"][0]) if "n" in q else None
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                            (b"cache-control", b"no-cache")]})
    i = 0
    while n is None or i < n:
        i += 1
        await send({"type": "http.response.body", "body": b"data: tick %d\n\n" % i,
                    "more_body": n is None or i < n})
        if n is not None and i == n:
            return
        try:
            message = await asyncio.wait_for(receive(), INTERVAL)
        except asyncio.TimeoutError:
            continue
        if message["type"] == "http.disconnect":
            return
