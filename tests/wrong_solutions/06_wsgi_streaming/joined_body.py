"""A wrong solution of exercise 06_wsgi_streaming: the whole body joined into one chunk.

Mistake: builds all the lines and returns them as one bytes object: nothing reaches the client
    until everything is ready, which is not streaming.
Fails: streams 1..5, one line per chunk
Says: expected at least 5 separate body chunks
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
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"".join(count_lines(n))]
