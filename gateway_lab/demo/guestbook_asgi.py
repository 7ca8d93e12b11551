"""The guestbook as an ASGI app: scope, then receive() the body, then send()."""

from .guestbook import parse_form, show, sign


async def app(scope, receive, send):
    if scope["type"] != "http":
        # Lifespan and WebSocket are not for us; raising says so (ASGI spec §Lifespan).
        raise RuntimeError(f"the guestbook only speaks HTTP, not {scope['type']}")
    if scope["method"] == "POST":
        body = b""
        while True:  # the body may arrive in several http.request messages
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        page = sign(parse_form(body))
    else:
        page = show()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(page)).encode())]})
    await send({"type": "http.response.body", "body": page})
