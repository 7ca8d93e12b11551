"""A wrong solution of exercise 16_asgi_middleware: every scope treated as HTTP.

Mistake: wraps every scope: a lifespan scope has no method and no path, so the middleware crashes
    with a KeyError before the app can start.
Fails: a lifespan scope goes through untouched
Says: startup did not complete
"""

import time


class TimingMiddleware:
    def __init__(self, app, log=print):
        self.app = app
        self.log = log

    async def __call__(self, scope, receive, send):
        method, path = scope["method"], scope["path"]
        start = time.perf_counter()
        status = None

        async def timed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                ms = (time.perf_counter() - start) * 1000
                headers = [*message.get("headers", []),
                           (b"x-response-time", f"{ms:.1f}ms".encode())]
                message = {**message, "headers": headers}
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ms = (time.perf_counter() - start) * 1000
                self.log(f"{method} {path} {status} {ms:.1f}ms")

        await self.app(scope, receive, timed_send)
