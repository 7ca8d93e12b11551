"""A wrong solution of exercise 08_asgi_body: one receive() taken as the whole body.

Mistake: calls receive() once and answers with that message's body: a server may split the body
    into many http.request messages (more_body=True), so only the first part is echoed.
Fails: a body in 3 chunks is echoed whole
Says: expected the body 'abcdef', got 'ab'
"""

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    message = await receive()
    body = message.get("body", b"")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
