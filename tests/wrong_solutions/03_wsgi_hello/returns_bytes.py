"""A wrong solution of exercise 03_wsgi_hello: the body returned as bytes, not in a list.

Mistake: returns the bytes object itself: it is iterable, but yields one integer at a time, so a
    server sends one byte per write (PEP 3333 asks for an iterable of bytes).
Fails: GET / says hello to the world
Says: wsgi.body.str_or_bytes
"""

from urllib.parse import parse_qs


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return body
