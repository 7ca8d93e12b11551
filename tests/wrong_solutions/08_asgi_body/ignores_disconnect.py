"""A wrong solution of exercise 08_asgi_body: http.disconnect read as the end of the body.

Mistake: loops until more_body is False without looking at the message type: http.disconnect has
    no more_body, so the loop ends and the app answers a client that has gone, with half
    a body.
Fails: a client that leaves half way through the body
Says: the app answered a client that had gone
"""

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
