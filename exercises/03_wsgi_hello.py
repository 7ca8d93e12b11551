"""Exercise 03: WSGI hello, world (with a query string).

Lesson: 02 WSGI (notebooks/02_*.ipynb).  Check: `gateway-lab check 03_wsgi_hello`
(or `gl.check("03_wsgi_hello")` in a notebook); `--hint` when stuck.

Task: write `app(environ, start_response)` so that

    GET /                       -> 200, body "Hello, world!"
    GET /?name=Ada              -> 200, body "Hello, Ada!"
    GET /?x=1&name=J%C3%BCrgen  -> 200, body "Hello, Jürgen!" (UTF-8)
    GET /?name=Ada+Lovelace     -> 200, body "Hello, Ada Lovelace!"

with `Content-Type: text/plain; charset=utf-8` and a correct Content-Length.
It must work on any WSGI server, also on one that leaves QUERY_STRING out of
the environ when the URL has no query: read it with
environ.get("QUERY_STRING", "").

Rules it practises (PEP 3333):
* §The Application/Framework Side: the app is a callable taking (environ,
  start_response) and returning an iterable of *bytes*;
* §The start_response() Callable: call it once, with a status string like
  "200 OK" and a list of (name, value) str tuples;
* §environ Variables: QUERY_STRING "may be empty or absent" (unlike CGI, where
  the server must set it);
* RFC 9110 §8.6: Content-Length counts bytes, not characters.
"""


def app(environ, start_response):
    # Replace this with your code.
    start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not implemented yet\n"]
