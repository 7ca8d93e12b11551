"""A wrong solution of exercise 07_asgi_hello: content-length counted in characters.

Mistake: measures content-length on the str: 'Hello, Jürgen!' is 14 characters but 15 bytes, so
    the server sends 14 bytes and the client never sees the '!' (RFC 9110 §8.6).
Fails: ?x=1&name=J%C3%BCrgen
Says: got 'Hello, Jürgen'
"""

from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # no lifespan support needed here; returning is allowed
    # query_string is bytes and still percent-encoded (ASGI HTTP scope).
    query = parse_qs(scope["query_string"].decode("latin-1"))
    name = query.get("name", ["world"])[0]
    text = f"Hello, {name}!"
    body = text.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": body})
