"""A wrong solution of exercise 07_asgi_hello: the status as a WSGI status line.

Mistake: sends 'status': '200 OK': in ASGI the status is the int 200 (the reason phrase is the
    server's business).
Fails: GET / says hello to the world
Says: asgi.http.bad_status
"""

from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = parse_qs(scope["query_string"].decode("latin-1"))
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    await send({"type": "http.response.start", "status": "200 OK",
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
