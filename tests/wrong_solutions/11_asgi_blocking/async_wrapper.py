"""A wrong solution of exercise 11_asgi_blocking: the blocking call wrapped in an async def.

Mistake: moves the blocking call into an `async def` helper and awaits that: the helper still
    calls time.sleep on the event loop thread; async def does not make code non-blocking.
Fails: 20 requests at once on one event loop
Says: something blocks the event loop
"""

import asyncio
import time

SERVICE_DELAY = 0.2  # seconds the price service takes to answer; do not change


def fetch_price_blocking() -> int:
    """The price service's blocking client (like requests.get)."""
    time.sleep(SERVICE_DELAY)
    return 42


async def fetch_price() -> int:
    """The same service through an async client (like httpx.AsyncClient)."""
    await asyncio.sleep(SERVICE_DELAY)
    return 42


async def ask_service():
    return fetch_price_blocking()  # inside an async def, so it does not block?


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    # While this request waits, the loop runs the other 19.
    price = await ask_service()
    body = f"price: {price}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
