"""A wrong solution of exercise 15_wsgi_errors: the traceback printed, not logged.

Mistake: prints the traceback with traceback.print_exc(), to the process's stderr: the server's
    log for the app is environ['wsgi.errors'].
Fails: an app that raises before start_response
Says: expected the traceback of the KeyError in environ['wsgi.errors']
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
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def error_page(self, environ, start_response):
        traceback.print_exc()
        start_response("500 Internal Server Error",
                       ERROR_HEADERS + [("Content-Length", str(len(ERROR_BODY)))],
                       sys.exc_info())
        return [ERROR_BODY]
