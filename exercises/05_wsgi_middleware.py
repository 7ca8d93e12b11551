"""Exercise 05: WSGI middleware: a timing header and a log line.

Lesson: 03 WSGI servers (notebooks/03_*.ipynb, middleware).
Check: `gateway-lab check 05_wsgi_middleware`.

Task: write `TimingMiddleware(app)`, which wraps any WSGI app and returns a WSGI
app that

* passes the wrapped app's status, headers and body through unchanged;
* adds a header `X-Response-Time: <milliseconds>ms` (e.g. "61.2ms"): the time
  from the call until the wrapped app called start_response;
* writes one line per request to environ["wsgi.errors"] when the response is
  done, "METHOD PATH STATUS <ms>ms", e.g. "GET /report 200 163.4ms": the full
  time, body included;
* lets the server call close() on the wrapped app's iterable, also when the
  client leaves early or the body raises half way.

Which time is which: the headers are sent before the body, so a header can only
hold what is known at start_response.  The body is done when the server calls
close() on the iterable you returned; that is where the full time is known, so
that is where the line is written.  (An app may even call start_response during
the first iteration of its body: do not look for the status before then.)

Rules it practises (PEP 3333):
* §Middleware: Components that Play Both Sides: a middleware is a server to
  the app it wraps and an app to the server above it;
* §The start_response() Callable: wrap start_response to change headers;
* §Input and Error Streams: wsgi.errors is the log, a text stream;
* §Specification Details: the server calls close() when the response is done,
  "whether the request was completed normally, or terminated early"; it must
  reach the wrapped iterable.
"""

import time  # noqa: F401  (you will need it)


class TimingMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        # Replace this with your code.
        start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not implemented yet\n"]
