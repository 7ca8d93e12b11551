"""A wrong solution of exercise 08_asgi_body: reads until content-length bytes.

Mistake: reads until it has as many bytes as the content-length header says: a chunked upload
    (RFC 9112 §7.1) has no content-length, so the app stops after the first message; only
    more_body says when the body is over.
Fails: a chunked upload
Says: expected the body 'abcdef', got 'ab'
"""

async def read_body(receive, scope) -> bytes | None:
    length = int(dict(scope["headers"]).get(b"content-length", b"0"))
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) >= length:
            return body


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await read_body(receive, scope)
    if body is None:
        return  # nobody is there to read an answer
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
