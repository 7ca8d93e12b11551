"""A wrong solution of exercise 15_wsgi_errors: only the message logged.

Mistake: writes the exception's repr to wsgi.errors instead of the traceback: the log says what
    went wrong but not where, which is what the person reading it needs.
Fails: an app that raises before start_response
Says: expected the traceback of the KeyError
"""

import sys

ERROR_HEADERS = [("Content-Type", "text/plain; charset=utf-8")]
ERROR_BODY = b"Internal Server Error\n"


class ErrorMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            result = self.app(environ, start_response)
        except Exception:  # not BaseException: GeneratorExit and stop signals go through
            return self.error_page(environ, start_response)
        return self.body(result, environ, start_response)

    def body(self, result, environ, start_response):
        """The app's body, passed through; an error while it is iterated becomes the
        error page, if nothing has been sent yet."""
        try:
            # Not `yield from result`: that would also close() the app's iterator when
            # ours is closed, and the finally below closes it once, for sure.
            for chunk in result:  # noqa: UP028
                yield chunk
        except Exception:
            # If the headers are out already, start_response re-raises the error
            # (PEP 3333 §Error Handling) and it leaves this generator: the server
            # then closes the connection. Nothing here catches it.
            yield from self.error_page(environ, start_response)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # PEP 3333 §Specification Details: in every case

    def error_page(self, environ, start_response):
        environ["wsgi.errors"].write(f"error: {sys.exc_info()[1]!r}\n")
        # exc_info is what makes a second start_response call legal.
        start_response("500 Internal Server Error",
                       ERROR_HEADERS + [("Content-Length", str(len(ERROR_BODY)))],
                       sys.exc_info())
        return [ERROR_BODY]
