"""A wrong solution of exercise 07_asgi_hello: the query split at the first '='.

Mistake: takes everything after the first '=' of the query: with another parameter first the name
    is '1&name=...', and nothing is percent-decoded.
Fails: ?x=1&name=J%C3%BCrgen
Says: expected the body 'Hello, Jürgen!'
"""

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    query = scope["query_string"].decode("latin-1")
    name = query.split("=", 1)[1] if "=" in query else "world"
    body = f"Hello, {name}!".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
