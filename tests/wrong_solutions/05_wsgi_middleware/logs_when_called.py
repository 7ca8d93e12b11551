"""A wrong solution of exercise 05_wsgi_middleware: the log line written when the app returns.

Mistake: writes the log line right after self.app(...) returns, before the server has iterated
    the body: the time leaves out the body, and the status is not even known for an app
    that calls start_response while its body is iterated.
Fails: one line in wsgi.errors when the body is done
Says: the line was written before the body was sent
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

        result = self.app(environ, timed_start_response)
        ms = (time.perf_counter() - start) * 1000
        code = seen.get("status", "???")[:3]
        environ["wsgi.errors"].write(
            f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} {code} {ms:.1f}ms\n")
        return result
