"""A wrong solution of exercise 16_asgi_middleware: the line logged at http.response.start.

Mistake: logs when the response starts: the body is still to come, so the time is the time to the
    first byte, not to the last.
Fails: one log line per request, after the last byte
Says: the response took at least 150 ms
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
                           (b"x-response-time", f"{ms:.1f}ms".encode())]
                message = {**message, "headers": headers}
                self.log(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")
            await send(message)

        await self.app(scope, receive, timed_send)
