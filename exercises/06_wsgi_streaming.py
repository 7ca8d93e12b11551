"""Exercise 06: WSGI streaming that cleans up in close().

Lesson: 02 WSGI (notebooks/02_*.ipynb, the iterable and close()).
Check: `gateway-lab check 06_wsgi_streaming`.

Task: write `app(environ, start_response)` that answers GET /count?n=N with
the lines "1\n", "2\n", ... "N\n", *one chunk per line* (so a client sees them
as they come), Content-Type text/plain; without n (or without QUERY_STRING at
all: a server may leave it out), 10 lines.

Each response must use a `Resource()` (think: a database cursor) while it
streams, and must close it when the server calls close() on what you returned,
also when the client disconnects half way, or even before the first chunk, and
the server stops iterating (or never starts).
`OPEN` holds the resources that are still open; the check looks at it.

Rules it practises (PEP 3333):
* §Buffering and Streaming: yield each block; do not join the whole body;
* §Specification Details: "If the iterable returned by the application has a
  close() method, the server must call that method upon completion of the
  current request, whether the request was completed normally, or terminated
  early due to an application error during iteration or an early disconnect".
"""

OPEN = set()


class Resource:
    """Something that must be released: counts as open until close()."""

    def __init__(self):
        OPEN.add(self)

    def close(self):
        OPEN.discard(self)


def app(environ, start_response):
    # Replace this with your code.
    start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not implemented yet\n"]
