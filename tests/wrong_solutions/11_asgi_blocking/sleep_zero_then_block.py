"""A wrong solution of exercise 11_asgi_blocking: an await added, the blocking call kept.

Mistake: adds `await asyncio.sleep(0)` and keeps the blocking client: an await somewhere does not
    help, the 0.2 s time.sleep still holds the loop, and the 20 requests run one after
    another.
Fails: 20 requests at once on one event loop
Says: something blocks the event loop
"""

import asyncio
import time

SERVICE_DELAY = 0.2


def fetch_price_blocking() -> int:
    """The price service's blocking client (like requests.get)."""
    time.sleep(SERVICE_DELAY)
    return 42


async def fetch_price() -> int:
    """The same service through an async client (like httpx.AsyncClient)."""
    await asyncio.sleep(SERVICE_DELAY)
    return 42


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await asyncio.sleep(0)
    price = fetch_price_blocking()
    body = f"price: {price}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
