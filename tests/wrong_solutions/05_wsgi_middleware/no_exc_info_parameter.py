"""A wrong solution of exercise 05_wsgi_middleware: start_response without the exc_info parameter.

Mistake: defines its start_response with two parameters: PEP 3333 gives start_response an
    optional third one, exc_info, and an app that handles its own error passes it: a TypeError,
    and the server's 500.
Fails: an inner app that replaces its status with start_response(..., exc_info)
Says: wsgi.app.raised
"""

import time


class TimingMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        seen = {}

        def timed_start_response(status, headers):
            ms = (time.perf_counter() - start) * 1000
            seen["status"] = status
            headers = list(headers) + [("X-Response-Time", f"{ms:.1f}ms")]
            return start_response(status, headers)

        return _Logged(self.app(environ, timed_start_response), environ, start, seen)


class _Logged:
    """The app's body, passed through; close() closes it and writes the log line.

    start_response may be called during the first iteration (PEP 3333), so the
    status is read only in close(), when it is surely known.
    """

    def __init__(self, result, environ, start, seen):
        self.result, self.environ, self.start, self.seen = result, environ, start, seen

    def __iter__(self):
        return iter(self.result)

    def close(self):
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()  # PEP 3333: close() must reach the wrapped iterable
        finally:
            ms = (time.perf_counter() - self.start) * 1000
            code = self.seen.get("status", "-")[:3]
            env = self.environ
            env["wsgi.errors"].write(f"{env['REQUEST_METHOD']} {env.get('PATH_INFO', '')} "
                                     f"{code} {ms:.1f}ms\n")
