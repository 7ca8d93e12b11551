"""A wrong solution of exercise 16_asgi_middleware: the app's message dict changed.

Mistake: builds a new headers list but assigns it to message['headers'], in the app's own dict:
    an app that sends the same http.response.start dict every time gets one more x-response-time
    header with each request.
Fails: sends the same start message every time
Says: the two responses had 1 and 2 x-response-time
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
                message["headers"] = headers
            await send(message)
            # more_body is optional and defaults to False: this was the last byte.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ms = (time.perf_counter() - start) * 1000
                self.log(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")

        await self.app(scope, receive, timed_send)
