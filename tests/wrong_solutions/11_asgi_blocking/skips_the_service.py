"""A wrong solution of exercise 11_asgi_blocking: the service not asked at all.

Mistake: answers 42 without asking the price service: fast, but the task is to wait for the same
    service without blocking the others.
Fails: one request still waits for the price service
Says: ask the service (fetch_price)
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
    price = 42
    body = f"price: {price}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
