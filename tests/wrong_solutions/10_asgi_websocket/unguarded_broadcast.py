"""A wrong solution of exercise 10_asgi_websocket: a broadcast that dies with one dead peer.

Mistake: sends to every member with no guard: when one peer's connection has dropped its send()
    raises (an OSError, ASGI 2.4), the loop stops there and the sender's own connection
    dies.
Fails: a peer whose connection dropped
Says: Disconnected: the connection to client C dropped
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
                await member({"type": "websocket.send", "text": text})
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
