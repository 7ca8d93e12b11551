"""A wrong solution of exercise 05_wsgi_middleware: the log line says the header's time.

Mistake: logs from close(), but with the time measured at start_response: that is the time to the
    headers, not to the end of the body.
Fails: one line in wsgi.errors when the body is done
Says: but the whole response took at least 160 ms
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
            seen["status"], seen["ms"] = status, ms
            headers = list(headers) + [("X-Response-Time", f"{ms:.1f}ms")]
            return start_response(status, headers, exc_info)

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
                close()
        finally:
            ms = self.seen.get("ms", 0.0)
            code = self.seen.get("status", "-")[:3]
            env = self.environ
            env["wsgi.errors"].write(f"{env['REQUEST_METHOD']} {env.get('PATH_INFO', '')} "
                                     f"{code} {ms:.1f}ms\n")
