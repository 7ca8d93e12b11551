"""A wrong solution of exercise 05_wsgi_middleware: the app's body never closed.

Mistake: returns an iterable of its own whose close() only logs: the wrapped app's close() never
    runs, so whatever it holds (a file, a cursor) is never released.
Fails: the inner app's close() is called once
Says: close() was called 0 time(s)
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
            pass
        finally:
            ms = (time.perf_counter() - self.start) * 1000
            code = self.seen.get("status", "-")[:3]
            env = self.environ
            env["wsgi.errors"].write(f"{env['REQUEST_METHOD']} {env.get('PATH_INFO', '')} "
                                     f"{code} {ms:.1f}ms\n")
