"""A right solution of exercise 08_asgi_body in another style.

Style: a bytearray and a `more` flag; the body read before anything else is looked at.
"""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body, more = bytearray(), True
    while more:
        event = await receive()
        if event["type"] == "http.disconnect":
            return
        body += event.get("body") or b""
        more = bool(event.get("more_body"))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"%d" % len(body)),
                            (b"content-type", b"application/octet-stream")]})
    await send({"type": "http.response.body", "body": bytes(body)})
