"""A right solution of exercise 16_asgi_middleware in another style.

Style: dict() and list() copies of the message, time.monotonic, the end of the
    response found with `not message.get("more_body")`.
"""

import time


class TimingMiddleware:
    def __init__(self, app, log=print):
        self.app = app
        self.log = log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan and websocket: not ours to change
            await self.app(scope, receive, send)
            return
        start = time.monotonic()
        status = None

        async def timed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                ms = (time.monotonic() - start) * 1000
                # A new list and a new dict: the app's own may be sent again later.
                message = dict(message)
                message["headers"] = list(message.get("headers", ()))
                message["headers"].append((b"x-response-time", b"%.1fms" % ms))
            await send(message)
            # more_body is optional and defaults to False: this was the last byte.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ms = (time.monotonic() - start) * 1000
                self.log(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")

        await self.app(scope, receive, timed_send)
