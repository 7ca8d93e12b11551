"""A wrong solution of exercise 05_wsgi_middleware: print() instead of wsgi.errors.

Mistake: logs with print(): that goes to the server process's stdout, which a WSGI server does
    not read (under CGI it would even become part of the response); the log is
    environ['wsgi.errors'].
Fails: one line in wsgi.errors when the body is done
Says: it received []
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
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            ms = (time.perf_counter() - self.start) * 1000
            code = self.seen.get("status", "-")[:3]
            env = self.environ
            print(f"{env['REQUEST_METHOD']} {env.get('PATH_INFO', '')} {code} {ms:.1f}ms")
