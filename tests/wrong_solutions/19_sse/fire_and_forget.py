"""A wrong solution of exercise 19_sse: the ticker started as a task and left running.

Mistake: starts the ticks in a task of their own and returns when http.disconnect comes, without
    cancelling that task: it goes on sending to a client that has gone.
Fails: send() stays quiet then (uvicorn)
Says: task(s) the app started were still running
"""

import asyncio
from urllib.parse import parse_qs

INTERVAL = 0.05


async def ticks(send, n):
    i = 0
    while n is None or i < n:
        i += 1
        await send({"type": "http.response.body",
                    "body": f"data: tick {i}\n\n".encode(), "more_body": True})
        if n is None or i < n:
            await asyncio.sleep(INTERVAL)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    n = int(query["n"][0]) if query.get("n", [""])[0].isdigit() else None
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream"),
                            (b"cache-control", b"no-cache")]})
    asyncio.get_running_loop().create_task(ticks(send, n))
    while (await receive())["type"] != "http.disconnect":
        pass
