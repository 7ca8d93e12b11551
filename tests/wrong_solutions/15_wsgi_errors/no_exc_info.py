"""A wrong solution of exercise 15_wsgi_errors: the 500 sent without exc_info.

Mistake: calls start_response('500 ...', headers) without the third argument: once the app has
    called start_response, a second call is allowed only with exc_info, and the server
    refuses it.
Fails: an app that raises after start_response('200 OK')
Says: wsgi.start_response.called_twice
"""

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
        environ["wsgi.errors"].write(traceback.format_exc())
        start_response("500 Internal Server Error",
                       ERROR_HEADERS + [("Content-Length", str(len(ERROR_BODY)))])
        return [ERROR_BODY]
