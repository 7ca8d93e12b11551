"""A wrong solution of exercise 16_asgi_middleware: message['more_body'] indexed.

Mistake: tests message['more_body']: the key is optional (default False), so an app that leaves
    it out of its last body message makes the middleware crash.
Fails: leaves more_body out of its last message
Says: KeyError: 'more_body'
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
            await send(message)
            if message["type"] == "http.response.body" and not message["more_body"]:
                ms = (time.perf_counter() - start) * 1000
                self.log(f"{scope['method']} {scope['path']} {status} {ms:.1f}ms")

        await self.app(scope, receive, timed_send)
