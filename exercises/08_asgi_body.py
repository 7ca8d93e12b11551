"""Exercise 08: ASGI, a request body that arrives in many chunks.

Lesson: 04 ASGI (notebooks/04_*.ipynb).  Check: `gateway-lab check 08_asgi_body`.

Task: write `async def app(scope, receive, send)` that answers POST /echo
with status 200 and the *whole* request body echoed back, with a
Content-Length and content-type application/octet-stream.  The server hands
the body over in as many http.request messages as it likes: 1, 3, 100, or one
per byte.  If the client leaves before the body is complete (receive() gives
{"type": "http.disconnect"}), answer nothing and return.

Rules it practises (ASGI spec, HTTP):
* receive() returns {"type": "http.request", "body": bytes, "more_body": bool};
  more_body=True means more is coming: keep receiving until it is False;
  both keys are optional (defaults b"" and False) and a server may leave them
  out: message.get("more_body", False);
* an empty body is one message with body b"" and more_body False;
* http.response.start then http.response.body (ASGI §Response Start / Body).
"""


async def app(scope, receive, send):
    # Replace this with your code.
    await send({"type": "http.response.start", "status": 501,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": b"not implemented yet\n"})
