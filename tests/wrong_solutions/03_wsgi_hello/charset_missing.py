"""A wrong solution of exercise 03_wsgi_hello: Content-Type without a charset.

Mistake: sends Content-Type: text/plain with no charset: a browser may then show the UTF-8 bytes
    of 'Jürgen' as 'JÃ¼rgen'.
Fails: GET / says hello to the world
Says: expected Content-Type: text/plain; charset=utf-8, got Content-Type: text/plain
"""

from urllib.parse import parse_qs


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
