"""A wrong solution of exercise 15_wsgi_errors: a bare except: around the body's loop.

Mistake: uses a bare except: in the generator: when the client leaves, the server's close()
    raises GeneratorExit at the yield, the bare except catches it and the generator
    yields the error page, which Python refuses (RuntimeError: generator ignored
    GeneratorExit).
Fails: a client that leaves after the first chunk
Says: generator ignored GeneratorExit
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
        except:  # noqa: E722
            yield from self.error_page(environ, start_response)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def error_page(self, environ, start_response):
        environ["wsgi.errors"].write(traceback.format_exc())
        start_response("500 Internal Server Error",
                       ERROR_HEADERS + [("Content-Length", str(len(ERROR_BODY)))],
                       sys.exc_info())
        return [ERROR_BODY]
