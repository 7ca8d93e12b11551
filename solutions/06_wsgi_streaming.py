"""Exercise 06, a reference solution: streaming with cleanup in close()."""

from urllib.parse import parse_qs

OPEN = set()


class Resource:
    """Something that must be released: counts as open until close()."""

    def __init__(self):
        OPEN.add(self)

    def close(self):
        OPEN.discard(self)


def count_lines(n):
    # Opened inside the generator: if the client leaves before the first chunk, the
    # server's close() finds a generator that never started, and nothing is open.
    resource = Resource()
    try:
        for i in range(1, n + 1):
            yield f"{i}\n".encode()
    finally:
        # generator.close() (called by the server, PEP 3333) raises GeneratorExit
        # at the yield; this runs either way: normal end, error or disconnect.
        resource.close()


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))  # PEP 3333: "may be empty or absent"
    try:
        n = int(query.get("n", ["10"])[0])
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"n must be a number\n"]
    # No Content-Length: the length is not known before streaming.
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return count_lines(n)
