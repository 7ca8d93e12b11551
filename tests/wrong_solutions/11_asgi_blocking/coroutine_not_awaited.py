"""A wrong solution of exercise 11_asgi_blocking: fetch_price() called without await.

Mistake: calls the async client without await: that makes a coroutine object and never runs it,
    so the answer is 'price: <coroutine object ...>'.
Fails: one request: 200 'price: 42'
Says: expected the body 'price: 42'
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
    price = fetch_price()
    body = f"price: {price}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
