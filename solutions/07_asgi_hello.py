"""Exercise 07, a reference solution: ASGI hello, world."""

from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # no lifespan support needed here; returning is allowed
    # query_string is bytes and still percent-encoded (ASGI HTTP scope).
    query = parse_qs(scope["query_string"].decode("latin-1"))
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
