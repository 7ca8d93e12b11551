"""A wrong solution of exercise 07_asgi_hello: headers as str.

Mistake: sends the headers as str pairs, as in WSGI: ASGI headers are (bytes, bytes) pairs, and a
    server refuses anything else.
Fails: GET / says hello to the world
Says: expected status 200, got 500
"""

from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = parse_qs(scope["query_string"].decode("latin-1"))
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [("content-type", "text/plain; charset=utf-8"),
                            ("content-length", str(len(body)))]})
    await send({"type": "http.response.body", "body": body})
