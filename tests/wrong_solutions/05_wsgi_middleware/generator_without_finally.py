"""A wrong solution of exercise 05_wsgi_middleware: a generator that logs after its loop.

Mistake: wraps the body in a generator that logs and closes the app's body after the loop, not in
    a finally: when the client leaves early the server closes the generator at a yield,
    and the code after the loop never runs.
Fails: a client that leaves after the first chunk
Says: the inner close() was called 0 time(s)
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
        return self.logged(result, environ, start, seen)

    def logged(self, result, environ, start, seen):
        for chunk in result:  # noqa: UP028
            yield chunk
        if hasattr(result, "close"):
            result.close()
        ms = (time.perf_counter() - start) * 1000
        environ["wsgi.errors"].write(f"{environ['REQUEST_METHOD']} "
                                     f"{environ.get('PATH_INFO', '')} "
                                     f"{seen.get('status', '???')[:3]} {ms:.1f}ms\n")
