"""Exercise 16, a reference solution: an ASGI middleware that wraps send()."""

import time


class TimingMiddleware:
    def __init__(self, app, log=print):
        self.app = app
        self.log = log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan and websocket: not ours to change
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = None

        async def timed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                ms = (time.perf_counter() - start) * 1000
                # A new list and a new dict: the app's own may be sent again later.
                headers = [*message.get("headers", []),
                           (b"x-response-time", f"{ms:.1f}ms".encode())]
                message = {**message, "headers": headers}
            await send(message)
            # more_body is optional and defaults to False: this was the last byte.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ms = (time.perf_counter() - start) * 1000
                self.log(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")

        await self.app(scope, receive, timed_send)
