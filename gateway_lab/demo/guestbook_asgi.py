"""The guestbook as an ASGI app: scope, then receive() the body, then send()."""

from .guestbook import page, parse_form, refuse, show, sign


async def app(scope, receive, send):
    if scope["type"] != "http":
        # Lifespan and WebSocket are not for us; raising says so (ASGI spec §Lifespan).
        raise RuntimeError(f"the guestbook only speaks HTTP, not {scope['type']}")
    method = scope["method"]
    answer = refuse(method, scope["path"])
    if answer is None and method == "POST":
        body = b""
        while True:  # the body may arrive in several http.request messages
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = page(sign(parse_form(body)))
    elif answer is None:
        answer = page(show())
    status, headers, content = answer
    await send({"type": "http.response.start", "status": int(status.split()[0]),
                "headers": [(name.lower().encode("latin-1"), value.encode("latin-1"))
                            for name, value in headers]})
    # RFC 9110 §9.3.2: HEAD gets GET's header fields and no content.
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else content})
