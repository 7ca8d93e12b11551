"""A wrong solution of exercise 16_asgi_middleware: the header appended to the app's own list.

Mistake: appends to message['headers'] in place: an app that sends one module-level headers list
    gets one more x-response-time in it with every request.
Fails: sends the same start message every time
Says: x-response-time headers, expected one each
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
                message["headers"].append((b"x-response-time", f"{ms:.1f}ms".encode()))
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ms = (time.perf_counter() - start) * 1000
                self.log(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")

        await self.app(scope, receive, timed_send)
