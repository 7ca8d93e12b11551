"""A wrong solution of exercise 03_wsgi_hello: urllib.parse.unquote instead of parse_qs.

Mistake: splits the query by hand and decodes with urllib.parse.unquote, which leaves '+' as it
    is: a form sends 'Ada Lovelace' as Ada+Lovelace.
Fails: ?name=Ada+Lovelace
Says: got 'Hello, Ada+Lovelace!'
"""

from urllib.parse import unquote


def app(environ, start_response):
    name = "world"
    for pair in environ.get("QUERY_STRING", "").split("&"):
        key, _, value = pair.partition("=")
        if key == "name":
            name = unquote(value)
    body = f"Hello, {name}!".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
