"""A wrong solution of exercise 19_sse: the stream sent as text/plain.

Mistake: sends Content-Type text/plain: EventSource accepts only text/event-stream, and without
    cache-control no-cache a proxy may hold the stream back.
Fails: GET /events?n=3: three events
Says: should be text/event-stream
"""

import asyncio
from urllib.parse import parse_qs

INTERVAL = 0.05


async def wait_for_disconnect(receive) -> None:
    """Return when the client has gone: the first message is the request itself."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    n = int(query["n"][0]) if query.get("n", [""])[0].isdigit() else None
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    gone = asyncio.create_task(wait_for_disconnect(receive))
    try:
        i = 0
        while n is None or i < n:
            i += 1
            await send({"type": "http.response.body", "body": f"data: tick {i}\n\n".encode(),
                        "more_body": True})
            done, _ = await asyncio.wait({gone}, timeout=INTERVAL if n is None or i < n else 0)
            if gone in done:
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        gone.cancel()
