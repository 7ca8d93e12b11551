"""Exercise 08, a reference solution: reading a body sent in many chunks."""


async def read_body(receive) -> bytes | None:
    """The whole body, or None if the client left before it was all there."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        # Both keys are optional: a server may leave out body=b"" and more_body=False.
        parts.append(message.get("body", b""))
        # ASGI: more_body=True means another http.request message will follow.
        if not message.get("more_body", False):
            return b"".join(parts)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if body is None:
        return  # nobody is there to read an answer
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
