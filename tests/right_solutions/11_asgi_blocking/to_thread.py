"""A right solution of exercise 11_asgi_blocking in another style.

Style: the blocking client kept, handed to a thread with asyncio.to_thread (the default
    pool has at least 5 threads, so 20 requests take 4 turns of 0.2 s: within the limit).
"""

import asyncio
import time

SERVICE_DELAY = 0.2


def fetch_price_blocking() -> int:
    time.sleep(SERVICE_DELAY)
    return 42


async def fetch_price() -> int:
    await asyncio.sleep(SERVICE_DELAY)
    return 42


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    price = await asyncio.to_thread(fetch_price_blocking)
    body = f"price: {price}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
