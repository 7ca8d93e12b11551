"""A wrong solution of exercise 03_wsgi_hello: a str in the body list.

Mistake: returns [text], a list with a str in it: a WSGI body is an iterable of bytes (PEP 3333
    §Unicode Issues); the server cannot send a str and answers 500.
Fails: GET / says hello to the world
Says: wsgi.body.not_bytes
"""

from urllib.parse import parse_qs


def app(environ, start_response):
    name = parse_qs(environ.get("QUERY_STRING", "")).get("name", ["world"])[0]
    text = f"Hello, {name}!"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(text.encode())))])
    return [text]
