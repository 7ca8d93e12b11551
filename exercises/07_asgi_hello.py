"""Exercise 07: ASGI hello, world (with a query string).

Lesson: 04 ASGI (notebooks/04_*.ipynb).  Check: `gateway-lab check 07_asgi_hello`.

Task: the same as exercise 03, in ASGI: write `async def app(scope, receive, send)`

    GET /                   -> 200, body "Hello, world!"
    GET /?name=Ada          -> 200, body "Hello, Ada!"
    GET /?name=J%C3%BCrgen  -> 200, body "Hello, Jürgen!" (UTF-8)

with `content-type: text/plain; charset=utf-8`.

Rules it practises (ASGI spec, HTTP connection scope 2.x):
* an app is a coroutine function taking (scope, receive, send);
* scope["type"] is "http" for a request (the server may also send "lifespan");
* scope["query_string"] is bytes, percent-encoded;
* http.response.start (status: int, headers: [(bytes, bytes)]) is sent once,
  before any http.response.body.
"""


async def app(scope, receive, send):
    # Replace this with your code.
    await send({"type": "http.response.start", "status": 501,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": b"not implemented yet\n"})
