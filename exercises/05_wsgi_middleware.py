"""Exercise 05: WSGI middleware: a timing header and a log line.

Lesson: 02 WSGI (notebooks/02_*.ipynb, the middleware part).
Check: `gateway-lab check 05_wsgi_middleware`.

Task: write `TimingMiddleware(app)`, which wraps any WSGI app and returns a WSGI
app that

* passes the wrapped app's status, headers and body through unchanged;
* adds a header `X-Response-Time: <milliseconds>ms` (e.g. "61.2ms") measuring
  how long the wrapped app took to answer;
* writes one line per request to environ["wsgi.errors"]: "METHOD PATH STATUS",
  e.g. "GET /report 200";
* lets the server call close() on the wrapped app's iterable.

Rules it practises (PEP 3333):
* §Middleware: Components that Play Both Sides: a middleware is a server to
  the app it wraps and an app to the server above it;
* §The start_response() Callable: wrap start_response to change headers;
* §Input and Error Streams: wsgi.errors is the log, a text stream;
* §Specification Details: close() must reach the wrapped iterable.
"""

import time  # noqa: F401  (you will need it)


class TimingMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        # Replace this with your code.
        start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not implemented yet\n"]
