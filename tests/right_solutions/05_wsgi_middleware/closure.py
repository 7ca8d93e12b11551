"""A right solution of exercise 05_wsgi_middleware in another style.

Style: a function with closures instead of methods; time.monotonic; the status kept in
    a list; *args passes exc_info on untouched.
"""

import time


def TimingMiddleware(app):  # noqa: N802 - the task's name
    def middleware(environ, start_response):
        began = time.monotonic()
        status = []

        def my_start_response(code, headers, *args):
            status.append(code)
            took = (time.monotonic() - began) * 1000
            return start_response(code, headers + [("X-Response-Time", f"{took:.2f}ms")],
                                  *args)

        return Body(app(environ, my_start_response), environ, began, status)

    return middleware


class Body:
    def __init__(self, inner, environ, began, status):
        self.inner, self.environ, self.began, self.status = inner, environ, began, status

    def __iter__(self):
        yield from self.inner

    def close(self):
        try:
            if hasattr(self.inner, "close"):
                self.inner.close()
        finally:
            took = (time.monotonic() - self.began) * 1000
            code = self.status[-1].split()[0] if self.status else "-"
            env = self.environ
            env["wsgi.errors"].write(
                f"{env['REQUEST_METHOD']} {env.get('PATH_INFO', '')} {code} {took:.2f}ms\n")
