"""A wrong solution of exercise 11_asgi_blocking: asyncio.run() inside the app.

Mistake: calls asyncio.run(fetch_price()) from inside the app: the app already runs on the
    server's event loop, and asyncio.run refuses to start a second one there.
Fails: one request: 200 'price: 42'
Says: asyncio.run() cannot be called from a running event loop
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
    price = asyncio.run(fetch_price())
    body = f"price: {price}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
