"""A wrong solution of exercise 07_asgi_hello: the response never ends.

Mistake: sends its only body message with more_body=True: that says another body message
    follows, so the response is not over when the app returns and the client gets a connection
    cut (ASGI HTTP spec §Response Body).
Fails: GET / says hello to the world
Says: asgi.http.incomplete_response
"""

from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # no lifespan support needed here; returning is allowed
    # query_string is bytes and still percent-encoded (ASGI HTTP scope).
    query = parse_qs(scope["query_string"].decode("latin-1"))
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": True})
