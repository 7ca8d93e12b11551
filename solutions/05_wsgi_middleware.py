"""Exercise 05, a reference solution: timing and logging WSGI middleware."""

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

        result = self.app(environ, timed_start_response)
        code = seen.get("status", "???")[:3]
        environ["wsgi.errors"].write(
            f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} {code}\n")
        # Returning the app's own iterable keeps its close() for the server to call.
        return result
