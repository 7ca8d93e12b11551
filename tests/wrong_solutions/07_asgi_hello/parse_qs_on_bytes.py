"""A wrong solution of exercise 07_asgi_hello: parse_qs given the bytes of query_string.

Mistake: passes scope['query_string'] (bytes) straight to parse_qs: the keys come back as bytes,
    so .get('name') finds nothing and everybody is greeted as the world.
Fails: GET /?name=Ada greets Ada
Says: got 'Hello, world!'
"""

from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = parse_qs(scope["query_string"])
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
