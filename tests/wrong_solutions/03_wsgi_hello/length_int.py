"""A wrong solution of exercise 03_wsgi_hello: Content-Length as an int.

Mistake: puts len(body), an int, in the headers: header values are str (PEP 3333 §The
    start_response() Callable), and the server refuses the response with a 500.
Fails: GET / says hello to the world
Says: wsgi.headers.not_tuple
"""

from urllib.parse import parse_qs


def app(environ, start_response):
    name = parse_qs(environ.get("QUERY_STRING", "")).get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", len(body))])
    return [body]
