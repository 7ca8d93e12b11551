"""A wrong solution of exercise 06_wsgi_streaming: cleanup in except Exception.

Mistake: closes the Resource in `except Exception:` and after the loop, not in a finally: the
    server's close() raises GeneratorExit into the generator, which is not an Exception, so a
    client that leaves half way leaves the Resource open.
Fails: a client that leaves after one chunk
Says: 1 Resource(s) still open after close()
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
    # Opened inside the generator: if the client leaves before the first chunk, the
    # server's close() finds a generator that never started, and nothing is open.
    resource = Resource()
    try:
        for i in range(1, n + 1):
            yield f"{i}\n".encode()
    except Exception:
        resource.close()
        raise
    else:
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
