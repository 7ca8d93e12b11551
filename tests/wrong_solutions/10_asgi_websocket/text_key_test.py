"""A wrong solution of exercise 10_asgi_websocket: 'text' in message to tell text from bytes.

Mistake: tests `'text' in message`: a server may put both keys in every websocket.receive, the
    unused one None, and then a binary frame is echoed as text None.
Fails: both 'text' and 'bytes'
Says: expected the messages
"""

ROOM = set()


async def echo(receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if "text" in message:
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
