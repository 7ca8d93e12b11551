"""A wrong solution of exercise 03_wsgi_hello: Content-Length counted in characters.

Mistake: measures Content-Length on the str before encoding: 'Jürgen' is 6 characters but 7
    bytes, so the header is one short and the client cuts the last byte off.
Fails: Content-Length counts bytes
Says: expected Content-Length: 15, got Content-Length: 14
"""

from urllib.parse import parse_qs


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("name", ["world"])[0]
    text = f"Hello, {name}!"
    body = text.encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(text)))])
    return [body]
