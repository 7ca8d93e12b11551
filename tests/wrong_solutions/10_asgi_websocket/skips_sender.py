"""A wrong solution of exercise 10_asgi_websocket: the sender left out of the broadcast.

Mistake: sends each message to everybody but the sender: the task asks for every client at that
    moment, the sender too (that is how a chat client shows its own message).
Fails: broadcasts to every connected client
Says: expected client A to get 'hi from A'
"""

ROOM = set()


async def echo(receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
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
                continue
            for member in [m for m in ROOM if m is not send]:
                try:
                    await member({"type": "websocket.send", "text": text})
                except OSError:
                    ROOM.discard(member)
    finally:
        ROOM.discard(send)


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    handler = {"/echo": echo, "/chat": chat}.get(scope["path"])
    if handler is None:
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    await handler(receive, send)
