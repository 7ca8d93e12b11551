"""A wrong solution of exercise 05_wsgi_middleware: its start_response returns nothing.

Mistake: calls the server's start_response but does not return what it returns: start_response
    must return the write() callable (PEP 3333), and an app that writes with it gets None.
Fails: an inner app that writes part of its body with write()
Says: expected status 200, got 500
"""

import time


class TimingMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        seen = {}

        def timed_start_response(status, headers, exc_info=None):
            ms = (time.perf_counter() - start) * 1000
            seen["status"] = status
            headers = list(headers) + [("X-Response-Time", f"{ms:.1f}ms")]
            start_response(status, headers, exc_info)

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
