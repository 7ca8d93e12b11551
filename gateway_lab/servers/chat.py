"""Lesson 05's chat as a deployable ASGI app, with a channel that can outgrow a process.

    uvicorn gateway_lab.servers.chat:app                     one process: works
    uvicorn gateway_lab.servers.chat:app --workers 2         two: messages get lost
    GATEWAY_LAB_BROKER=redis://127.0.0.1:6379/0 uvicorn ... --workers 2   all delivered

Lesson 05 kept the room in a Python set: every connected socket's `send`.
That set lives in one process.  Under `uvicorn --workers 2` there are two
processes, two sets, and a message reaches only the clients that happen to
be connected to the same worker as its sender.

The fix real deployments use is a broker between the workers (Django
Channels' channel layers, the `broadcaster` package): each worker publishes
what its clients say to a channel and delivers what the channel carries to
its own clients.  Here that is Redis pub/sub (the `redis` package's asyncio
client) when GATEWAY_LAB_BROKER names a Redis URL; without it, an in-memory
channel (a set of queues in this process), which is all one process needs.

Each message is JSON and carries its *path*: every hop (the worker that
received it, the channel, the worker that sent it on) adds its name, what it
did and when (time.time()), so a client can show where a message went
(gateway_lab.servers.chat_run turns that into a trace).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time

BROKER_ENV = "GATEWAY_LAB_BROKER"
CHANNEL = "chat"


class MemoryChannel:
    """Publish/subscribe inside one process: each subscriber has a queue."""

    def __init__(self):
        self.queues: set[asyncio.Queue] = set()

    async def connect(self) -> None:
        pass

    async def disconnect(self) -> None:
        pass

    async def publish(self, channel: str, message: str) -> None:
        for queue in list(self.queues):
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str):
        queue: asyncio.Queue = asyncio.Queue()
        self.queues.add(queue)
        try:
            yield _Messages(queue.get)
        finally:
            self.queues.discard(queue)


class _Messages:
    """`async for message in subscriber`, for both kinds of channel."""

    def __init__(self, get):
        self._get = get

    def __aiter__(self):
        return self

    async def __anext__(self) -> str:
        item = await self._get()
        return item


class BrokerChannel:
    """Redis pub/sub between processes, fanned out in-process to this worker's clients.

    One SUBSCRIBE per worker process (not per client): a listener task reads what
    Redis delivers and hands it to the worker's own MemoryChannel.  The message
    goes out with PUBLISH, so every worker (this one included) gets it back.
    """

    def __init__(self, url: str):
        self.url = url
        self.local = MemoryChannel()
        self._listener: asyncio.Task | None = None

    async def connect(self) -> None:
        from redis import asyncio as aioredis  # only a deployment with a broker needs it

        self.redis = aioredis.Redis.from_url(self.url)
        await self.redis.ping()              # no broker: fail at startup, not at the 1st message
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self.pubsub.subscribe(CHANNEL)  # confirmed before the first client can speak
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            message = await self.pubsub.get_message(timeout=1.0)
            if message and message["type"] == "message":
                await self.local.publish(CHANNEL, message["data"].decode())

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        await self.pubsub.aclose()
        await self.redis.aclose()

    async def publish(self, channel: str, message: str) -> None:
        await self.redis.publish(channel, message)

    def subscribe(self, channel: str):
        return self.local.subscribe(channel)


def make_channel():
    url = os.environ.get(BROKER_ENV, "").strip()
    return BrokerChannel(url) if url else MemoryChannel()


channel = make_channel()
WORKER = f"worker {os.getpid()}"
BROKER_NAME = "redis" if isinstance(channel, BrokerChannel) else f"memory of {WORKER}"


def _hop(what: str, who: str = WORKER) -> dict:
    return {"who": who, "what": what, "at": time.time()}


async def app(scope, receive, send):
    """ASGI: lifespan connects the channel; a WebSocket at any path joins the room."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] != "websocket":
        body = b"a chat: connect a WebSocket\n"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(
        {"type": "hello", "worker": WORKER, "channel": BROKER_NAME})})
    async with channel.subscribe(CHANNEL) as messages:
        forward = asyncio.create_task(_deliver(messages, send))
        try:
            await _listen(receive)
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forward


async def _listen(receive) -> None:
    """What this worker's client says goes to the channel, with its path so far."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            continue
        path = [_hop("websocket.receive"), _hop(f"publish to {BROKER_NAME}")]
        await channel.publish(CHANNEL, json.dumps({"type": "message", "text": text,
                                                   "path": path}))


async def _deliver(messages, send) -> None:
    """What the channel carries goes to this worker's client."""
    async for raw in messages:
        data = json.loads(raw)
        data["path"] += [_hop("delivered", BROKER_NAME), _hop("websocket.send")]
        await send({"type": "websocket.send", "text": json.dumps(data)})


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await channel.connect()
            except Exception as error:  # noqa: BLE001 - reported to the server, as the spec says
                await send({"type": "lifespan.startup.failed",
                            "message": f"cannot reach the broker: {error}"})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            with contextlib.suppress(Exception):
                await channel.disconnect()
            await send({"type": "lifespan.shutdown.complete"})
            return
