"""A wrong solution of exercise 10_asgi_websocket: the echo never looks at disconnect.

Mistake: echoes every message without looking at its type: websocket.disconnect has neither text
    nor bytes, and the app sends on a connection that is closed (ASGI WebSocket spec
    §Disconnect).
Fails: /echo sends every message back
Says: asgi.ws.after_close
"""

ROOM = set()  # the `send` callables of the clients connected to /chat


async def echo(receive, send):
    while True:
        message = await receive()
        # A frame goes back as the kind it came in: text as text, bytes as bytes.
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def chat(receive, send):
    ROOM.add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                continue  # the chat is text only
            for member in list(ROOM):  # a copy: the room may change while we await
                try:
                    await member({"type": "websocket.send", "text": text})
                except OSError:
                    # That peer's connection dropped (ASGI 2.4: send raises an OSError
                    # subclass); it must not take the others down.
                    ROOM.discard(member)
    finally:
        ROOM.discard(send)  # whatever happened, nobody sends to a closed connection


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    handler = {"/echo": echo, "/chat": chat}.get(scope["path"])
    if handler is None:
        await send({"type": "websocket.close", "code": 1008})  # refused: HTTP 403
        return
    await send({"type": "websocket.accept"})
    await handler(receive, send)
