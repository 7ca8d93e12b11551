"""A wrong solution of exercise 19_sse: events without the empty line.

Mistake: ends each event with one newline: an event ends with an empty line, so the browser's
    EventSource sees no event until the stream closes.
Fails: GET /events?n=3: three events
Says: expected the body
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
                "headers": [(b"content-type", b"text/event-stream"),
                            (b"cache-control", b"no-cache")]})
    gone = asyncio.create_task(wait_for_disconnect(receive))
    try:
        i = 0
        while n is None or i < n:
            i += 1
            await send({"type": "http.response.body", "body": f"data: tick {i}\n".encode(),
                        "more_body": True})
            done, _ = await asyncio.wait({gone}, timeout=INTERVAL if n is None or i < n else 0)
            if gone in done:
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        gone.cancel()
