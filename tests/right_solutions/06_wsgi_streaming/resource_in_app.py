"""A right solution of exercise 06_wsgi_streaming in another style.

Style: the Resource is opened in app() and the object returned has a close() that
    releases it, whether or not the iteration ever started.
"""

from urllib.parse import parse_qs

OPEN = set()


class Resource:
    def __init__(self):
        OPEN.add(self)

    def close(self):
        OPEN.discard(self)


class Lines:
    def __init__(self, n):
        self.n, self.resource = n, Resource()

    def __iter__(self):
        for i in range(1, self.n + 1):
            yield b"%d\n" % i

    def close(self):
        self.resource.close()


def app(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING") or "")
    n = int(qs.get("n", ["10"])[0])
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return Lines(n)
