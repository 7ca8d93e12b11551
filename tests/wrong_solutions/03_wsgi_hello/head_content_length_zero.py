"""A wrong solution of exercise 03_wsgi_hello: HEAD answered with Content-Length: 0.

Mistake: measures Content-Length on the empty body it gives HEAD: a HEAD response carries the
    Content-Length a GET would have (RFC 9110 §9.3.2, §8.6), so a client or cache thinks the
    page is empty. The server drops a HEAD body itself.
Fails: HEAD works too
Says: Content-Length: 0 on HEAD, but a GET would have a body of 11 bytes
"""

from urllib.parse import parse_qs


def app(environ, start_response):
    name = parse_qs(environ.get("QUERY_STRING", "")).get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    if environ["REQUEST_METHOD"] == "HEAD":
        body = b""  # no body for HEAD: the length is 0, then
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
