"""A wrong solution of exercise 15_wsgi_errors: the app's body never closed.

Mistake: passes the body through a generator of its own without closing the app's body: the
    server closes the middleware's generator, and the app's close() never runs.
Fails: an app that works passes through unchanged
Says: the app's body was closed 0 time(s)
"""

import sys
import traceback

ERROR_HEADERS = [("Content-Type", "text/plain; charset=utf-8")]
ERROR_BODY = b"Internal Server Error\n"


class ErrorMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            result = self.app(environ, start_response)
        except Exception:
            return self.error_page(environ, start_response)
        return self.body(result, environ, start_response)

    def body(self, result, environ, start_response):
        """The app's body, passed through; an error while it is iterated becomes the
        error page, if nothing has been sent yet."""
        try:
            for chunk in result:  # noqa: UP028
                yield chunk
        except Exception:
            yield from self.error_page(environ, start_response)

    def error_page(self, environ, start_response):
        environ["wsgi.errors"].write(traceback.format_exc())
        start_response("500 Internal Server Error",
                       ERROR_HEADERS + [("Content-Length", str(len(ERROR_BODY)))],
                       sys.exc_info())
        return [ERROR_BODY]
