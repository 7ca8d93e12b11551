"""Exercise 03, a reference solution: WSGI hello, world (see exercises/03_wsgi_hello.py)."""

from urllib.parse import parse_qs


def app(environ, start_response):
    # PEP 3333: QUERY_STRING "may be empty or absent"; parse_qs decodes %XX and "+".
    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    # Content-Length is a count of bytes: measure after encoding.
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
