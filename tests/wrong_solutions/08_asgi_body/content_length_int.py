"""A wrong solution of exercise 08_asgi_body: Content-Length given as an int.

Mistake: puts len(body) itself in the headers: ASGI header values are bytes,
    str(len(body)).encode().
Fails: a body in 3 chunks is echoed whole
Says: expected status 200, got 500
"""

async def read_body(receive) -> bytes | None:
    """The whole body, or None if the client left before it was all there."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if body is None:
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"),
                            (b"content-length", len(body))]})
    await send({"type": "http.response.body", "body": body})
