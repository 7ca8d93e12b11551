"""A wrong solution of exercise 10_asgi_websocket: a client never taken out of the room.

Mistake: adds each client to the room but never removes it: after a client leaves, the chat keeps
    sending to its closed connection.
Fails: forgets one that left
Says: expected nothing sent to B after it disconnected
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
            for member in list(ROOM):
                try:
                    await member({"type": "websocket.send", "text": text})
                except OSError:
                    ROOM.discard(member)
    finally:
        pass


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
