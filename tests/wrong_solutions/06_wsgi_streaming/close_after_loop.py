"""A wrong solution of exercise 06_wsgi_streaming: resource.close() after the loop, not in finally.

Mistake: closes the Resource after the loop: when the client leaves half way the server closes
    the generator at a yield (GeneratorExit), and the line after the loop never runs.
Fails: a client that leaves after one chunk
Says: Resource(s) still open after close()
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
    for i in range(1, n + 1):
        yield f"{i}\n".encode()
    resource.close()


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        n = int(query.get("n", ["10"])[0])
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"n must be a number\n"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return count_lines(n)
