"""A wrong solution of exercise 05_wsgi_middleware: start_response called after the app returns.

Mistake: collects the app's status and headers and calls the real start_response only after
    self.app(...) returns: PEP 3333 lets an app call start_response during the first
    iteration of its body, and then nothing has been collected yet.
Fails: an inner app that calls start_response only when its body is first iterated
Says: KeyError: 'status'
"""

import time


class TimingMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        seen = {}

        def collect(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            seen["ms"] = (time.perf_counter() - start) * 1000

        result = self.app(environ, collect)
        start_response(seen["status"],
                       list(seen["headers"]) + [("X-Response-Time", f"{seen['ms']:.1f}ms")])
        return _Logged(result, environ, start, seen)


class _Logged:
    def __init__(self, result, environ, start, seen):
        self.result, self.environ, self.start, self.seen = result, environ, start, seen

    def __iter__(self):
        return iter(self.result)

    def close(self):
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        finally:
            ms = (time.perf_counter() - self.start) * 1000
            env = self.environ
            env["wsgi.errors"].write(f"{env['REQUEST_METHOD']} {env.get('PATH_INFO', '')} "
                                     f"{self.seen['status'][:3]} {ms:.1f}ms\n")
