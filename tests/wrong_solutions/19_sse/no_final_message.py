"""A wrong solution of exercise 19_sse: the stream with n never ends.

Mistake: sends the n events with more_body=True and returns: without a last body message whose
    more_body is False the response is not over, and the client sees a connection cut instead of
    the end of the stream.
Fails: GET /events?n=3
Says: asgi.http.incomplete_response
"""

import asyncio
from urllib.parse import parse_qs

INTERVAL = 0.05  # seconds between events; do not change


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
    # receive() tells us when the client leaves; send() may never fail (uvicorn).
    gone = asyncio.create_task(wait_for_disconnect(receive))
    try:
        i = 0
        while n is None or i < n:
            i += 1
            await send({"type": "http.response.body", "body": f"data: tick {i}\n\n".encode(),
                        "more_body": True})
            # The next tick, unless the client leaves first.
            done, _ = await asyncio.wait({gone}, timeout=INTERVAL if n is None or i < n else 0)
            if gone in done:
                return
    finally:
        gone.cancel()  # leave no task behind
