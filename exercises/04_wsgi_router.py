"""Exercise 04: a WSGI router with 404 and 405.

Lesson: 02 WSGI (notebooks/02_*.ipynb).  Check: `gateway-lab check 04_wsgi_router`.

Task: write `app(environ, start_response)` that routes on PATH_INFO and
REQUEST_METHOD:

    GET  /        -> 200, a page containing "Welcome"
    GET  /items   -> 200, the items, one per line (it starts as apple, pear)
    POST /items   -> 201 Created, the request body (e.g. "plum") is added to the
                     items and echoed in the response
    any other path            -> 404 Not Found
    a known path, other method -> 405 Method Not Allowed, with an Allow header
                                  listing the methods the path supports

Rules it practises:
* PEP 3333 §environ Variables: PATH_INFO, REQUEST_METHOD, CONTENT_LENGTH and
  wsgi.input (read at most CONTENT_LENGTH bytes);
* RFC 9110 §15.5.5 (404) and §15.5.6: a 405 MUST include Allow;
* PEP 3333: every response needs a status, headers (Content-Type) and bytes.
"""

ITEMS = ["apple", "pear"]


def app(environ, start_response):
    # Replace this with your code.
    start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not implemented yet\n"]
