"""Exercise 11: unblock an ASGI app, so 20 requests at once take about as long as one.

Lesson: 06 The concurrency showdown (notebooks/06_*.ipynb, blocking the loop).
Check: `gateway-lab check 11_asgi_blocking`.

The app below works, but it is slow under load: each request waits 0.2 s for a
(pretend) price service with a *blocking* call, and while it waits the event
loop can run nothing else.  20 requests at once take 20 x 0.2 s = 4 s.

Task: change `app` so that 20 concurrent requests finish in about the time of
one (the check allows a generous margin), with the same answer: 200,
"price: 42".  Do not make the wait shorter or skip the service: it really takes
0.2 s, and the check holds one request to that.

Rules it practises:
* ASGI apps share one event loop: a coroutine that calls something blocking
  (time.sleep, requests.get, a sync DB driver) stops every other request;
* await the async version of the call, or hand the blocking one to a thread
  (asyncio.to_thread / loop.run_in_executor) so the loop stays free.
"""

import asyncio  # noqa: F401  (you will need it)
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


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    price = fetch_price_blocking()  # blocks the whole event loop for 0.2 s
    body = f"price: {price}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
