"""A wrong solution of exercise 06_wsgi_streaming: a Content-Length guessed as 2 bytes a line.

Mistake: sends Content-Length: 2 * n, true only while every number has one digit: with n=12 the
    body is longer than declared and the client gets it cut.
Fails: GET /count?n=12
Says: wsgi.content_length.mismatch
"""

from urllib.parse import parse_qs

OPEN = set()


class Resource:
    """Something that must be released: counts as open until close()."""

    def __init__(self):
        OPEN.add(self)

    def close(self):
        OPEN.discard(self)


def count_lines(n):
    resource = Resource()
    try:
        for i in range(1, n + 1):
            yield f"{i}\n".encode()
    finally:
        resource.close()


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        n = int(query.get("n", ["10"])[0])
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"n must be a number\n"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(2 * n))])
    return count_lines(n)
