"""A wrong solution of exercise 08_asgi_body: message['more_body'] indexed.

Mistake: reads message['more_body']: the key is optional (default False), and a server that
    leaves it out of the last message makes the app crash with a KeyError.
Fails: leaves out optional keys: more_body on the last message
Says: KeyError: 'more_body'
"""

async def read_body(receive) -> bytes | None:
    """The whole body, or None if the client left before it was all there."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message["more_body"]:
            return b"".join(parts)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if body is None:
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
