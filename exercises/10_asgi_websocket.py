"""Exercise 10: ASGI WebSocket: an echo, and a chat that broadcasts.

Lesson: 05 Long-lived connections (notebooks/05_*.ipynb).
Check: `gateway-lab check 10_asgi_websocket`.

Task: write `async def app(scope, receive, send)` for two WebSocket paths:

* /echo: accept, then send every message straight back (a text frame as text,
  a binary frame as bytes) until the client disconnects;
* /chat: accept, and send every text message a client sends to *every* client
  connected to /chat at that moment (the sender too); a client that has left
  must not be sent anything, and a client whose connection has dropped (its
  send() raises) must not take the chat down for the others.

Rules it practises (ASGI spec, WebSocket 2.x):
* the connection starts with websocket.connect; reply websocket.accept (or
  websocket.close to refuse it, which the client sees as HTTP 403);
* websocket.receive carries exactly one of "text" (str) or "bytes" that is not
  None; a server may put both keys in, the other one None;
* since spec 2.4, send() on a connection that has gone raises an OSError
  subclass, possibly before the app has seen websocket.disconnect;
* websocket.disconnect ends the connection: return, and never send on it again
  (RFC 6455 §7: a closed connection has no more frames).
"""


async def app(scope, receive, send):
    # Replace this with your code.
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1011, "reason": "not implemented yet"})
