"""A wrong solution of exercise 06_wsgi_streaming: QUERY_STRING assumed present.

Mistake: reads environ['QUERY_STRING']: a server may leave it out when there is no query (PEP
    3333), and then GET /count fails with a KeyError instead of giving 10 lines.
Fails: GET /count on a server that leaves QUERY_STRING out
Says: KeyError: 'QUERY_STRING'
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
    query = parse_qs(environ["QUERY_STRING"])
    try:
        n = int(query.get("n", ["10"])[0])
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"n must be a number\n"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return count_lines(n)
