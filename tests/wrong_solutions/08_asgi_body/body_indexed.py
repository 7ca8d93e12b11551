"""A wrong solution of exercise 08_asgi_body: message['body'] indexed.

Mistake: reads message['body']: the key is optional (default b''), and a server sends {'type':
    'http.request'} alone for an empty body.
Fails: body and more_body of an empty request
Says: KeyError: 'body'
"""

async def read_body(receive) -> bytes | None:
    """The whole body, or None if the client left before it was all there."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message["body"])
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
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
