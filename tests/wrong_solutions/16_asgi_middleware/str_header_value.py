"""A wrong solution of exercise 16_asgi_middleware: the header value as str.

Mistake: adds (b'x-response-time', f'{ms:.1f}ms'), a str value: ASGI header values are bytes, and
    the server refuses the response.
Fails: the response passes through, with x-response-time added
Says: expected status 200, got 500
"""

import time


class TimingMiddleware:
    def __init__(self, app, log=print):
        self.app = app
        self.log = log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = None

        async def timed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                ms = (time.perf_counter() - start) * 1000
                headers = [*message.get("headers", []),
                           (b"x-response-time", f"{ms:.1f}ms")]
                message = {**message, "headers": headers}
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ms = (time.perf_counter() - start) * 1000
                self.log(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")

        await self.app(scope, receive, timed_send)
