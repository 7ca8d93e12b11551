"""Exercise 04: a WSGI router with 404 and 405.

Lesson: 02 WSGI (notebooks/02_*.ipynb).  Check: `gateway-lab check 04_wsgi_router`.

Task: write `app(environ, start_response)` that routes on PATH_INFO and
REQUEST_METHOD:

    GET  /        -> 200, a page containing "Welcome"
    GET  /items   -> 200, the items, one per line (it starts as apple, pear)
    POST /items   -> 201 Created, the request body (e.g. "plum") is added to the
                     items and echoed in the response; an empty body is
                     400 Bad Request
    any other path            -> 404 Not Found, whatever the method
    a known path, other method -> 405 Method Not Allowed, with an Allow header
                                  listing the methods the path supports

Route on PATH_INFO: the check also mounts the app at /shop (SCRIPT_NAME
"/shop") and sends queries (/items?sort=asc).

Rules it practises:
* PEP 3333 §environ Variables: PATH_INFO (the path inside the app), REQUEST_METHOD,
  CONTENT_LENGTH ("may be empty or absent") and wsgi.input: read at most
  CONTENT_LENGTH bytes; on some servers (Python's wsgiref) wsgi.input is the
  connection, and read() with no size waits for bytes that never come;
* RFC 9110 §15.5.5 (404) and §15.5.6: a 405 MUST include Allow;
* PEP 3333: every response needs a status, headers (Content-Type) and bytes.
"""

ITEMS = ["apple", "pear"]


def app(environ, start_response):
    # Replace this with your code.
    start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not implemented yet\n"]
