"""Exercise 05, a reference solution: timing and logging WSGI middleware.

Two times, because of when each can be known: the headers go out before the body,
so X-Response-Time can only say how long the app took to call start_response; the
whole response is done when the server calls close(), so the log line says that.
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
            # Pass exc_info along: the server decides what an error after start means.
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
                close()  # PEP 3333: close() must reach the wrapped iterable
        finally:
            ms = (time.perf_counter() - self.start) * 1000
            code = self.seen.get("status", "-")[:3]
            env = self.environ
            env["wsgi.errors"].write(f"{env['REQUEST_METHOD']} {env.get('PATH_INFO', '')} "
                                     f"{code} {ms:.1f}ms\n")
