"""Exercise 15: WSGI error handling: a 500 page with start_response(..., exc_info).

Lesson: 02 WSGI (notebooks/02_*.ipynb, errors).  Check: `gateway-lab check 15_wsgi_errors`.

An app raises: a bug, a database that went away.  Somebody has to turn that into a
response, and PEP 3333 gives that somebody one tool: calling start_response a
*second* time, with the error as its third argument.

Task: write `ErrorMiddleware(app)`, which wraps any WSGI app and returns a WSGI app
that

* passes a working app's status, headers and body through unchanged, and lets the
  server close() the app's body (PEP 3333 §Specification Details);
* when the app raises, while it is called *or* while its body is iterated, and no
  body byte has gone out yet: writes the traceback to environ["wsgi.errors"]
  (traceback.format_exc()) and answers

      500 Internal Server Error
      Content-Type: text/plain; charset=utf-8

      Internal Server Error

  by calling start_response("500 Internal Server Error", headers, sys.exc_info());
* when the error comes after part of the body went out: does *not* hide it.  Then
  start_response(..., exc_info) raises the error again, because the 200 status
  line is already on the wire; let that error go, and the server closes the
  connection, so the client knows the page is cut short;
* stays out of the way when the client leaves early: the server's close() must go
  through your code without an error.

Rules it practises (PEP 3333):
* §The start_response() Callable: "The application may call start_response more
  than once, if and only if the exc_info argument is provided"; "if exc_info is
  provided, and the HTTP headers have already been sent, start_response must
  raise an error"; "The application must not trap any exceptions raised by
  start_response, if it called start_response with exc_info";
* §Error Handling: the example error handler this exercise grows from;
* §Specification Details: close() is called on the iterable in every case.
Catch `Exception`, not everything: a bare `except:` also catches the GeneratorExit
that close() sends into a generator, and the lab's own stop signal.
"""

import sys  # noqa: F401  (you will need them)
import traceback  # noqa: F401


class ErrorMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        # Replace this with your code.
        start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not implemented yet\n"]
