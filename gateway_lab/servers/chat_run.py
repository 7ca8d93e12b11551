"""Run the chat on a real server with real WebSocket clients, and trace a message's path.

    run = chat_run(workers=2)                    # no broker: in-memory channels
    run.delivered, run.lost                      # messages between the two clients
    run = chat_run(workers=2, broker="redis")    # a real redis-server, started here
    run.trace()                                  # one message's path, as a lab Trace

Two clients (the `websockets` package) connect to `uvicorn --workers N`
serving gateway_lab.servers.chat:app.  The kernel hands each new connection
to whichever worker accepts it first, so the lab keeps connecting until the
two clients sit on *different* workers (each worker says its name when a
client joins), which is the case that breaks an in-memory room.  Then each
client sends `messages` lines; a line counts as delivered when the *other*
client receives it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

from ..trace import Trace
from ..trace import now as perf_now
from .broker import start_redis
from .server import start

CHAT_APP = "gateway_lab.servers.chat:app"
SETTLE = 0.5          # seconds to wait for the last messages to arrive
CONNECT_TRIES = 60    # connections tried to land two clients on different workers
RETRY_PAUSE = 0.1     # seconds between tries (the other worker may still be starting)
WS_SPEC = "ASGI WebSocket spec 2.4: websocket.receive / websocket.send"
PUBSUB_SPEC = "Redis Pub/Sub: PUBLISH delivers to every SUBSCRIBEd connection"


@dataclass
class ChatRun:
    server: str
    channel: str                        # "redis" or "memory of worker N"
    workers: list[str]                  # the worker each client landed on
    sent: dict[str, list[str]]          # client name -> texts it sent
    received: dict[str, list[dict]]     # client name -> messages it received (with paths)
    sent_at: dict[str, float] = field(default_factory=dict)   # text -> time.time() sent
    got_at: dict[tuple, float] = field(default_factory=dict)  # (client, text) -> received

    def _across(self):
        names = list(self.sent)
        for me, other in ((names[0], names[1]), (names[1], names[0])):
            got = {m["text"] for m in self.received[other]}
            for text in self.sent[me]:
                yield me, other, text, text in got

    @property
    def sent_count(self) -> int:
        return sum(len(v) for v in self.sent.values())

    @property
    def delivered(self) -> int:
        """Messages that reached the *other* client."""
        return sum(ok for *_, ok in self._across())

    @property
    def lost(self) -> int:
        return self.sent_count - self.delivered

    def __str__(self) -> str:
        where = " and ".join(f"{c} on {w}" for c, w in zip(self.sent, self.workers,
                                                           strict=True))
        return (f"{self.server}, channel: {self.channel}; {where}: "
                f"{self.delivered} of {self.sent_count} messages reached the other client, "
                f"{self.lost} lost")

    def trace(self, text: str | None = None) -> Trace:
        """The path of one message (by default client A's first) as a lab Trace: the
        client's frame, the worker that received it, the channel, the worker that sent
        it on, the client that got it.  A client that never got it gets a note."""
        text = text or next(iter(self.sent.values()))[0]
        sender = next(c for c, texts in self.sent.items() if text in texts)
        copies = [(c, m) for c, ms in self.received.items() for m in ms if m["text"] == text]
        steps = []  # (time.time(), actor, kind, detail, spec, target): sorted below

        def step(at, actor, kind, detail, spec="", target=None):
            steps.append((at, actor, kind, detail, spec, target))

        sent_at = self.sent_at[text]
        first = copies[0][1]["path"] if copies else None
        step(sent_at, sender, "send", f"text frame {text!r}", "RFC 6455 §5.6",
             first[0]["who"] if first else "server")
        if first:
            step(first[0]["at"], first[0]["who"], "receive",
                 f"websocket.receive {{'text': {text!r}}}", WS_SPEC)
            channel = first[2]["who"]
            step(first[1]["at"], first[1]["who"], "publish", first[1]["what"],
                 PUBSUB_SPEC if channel == "redis" else "", channel)
        for client, message in copies:
            hops = message["path"]
            step(hops[2]["at"], hops[2]["who"], "deliver", f"to {hops[3]['who']}",
                 PUBSUB_SPEC if hops[2]["who"] == "redis" else "", hops[3]["who"])
            step(hops[3]["at"], hops[3]["who"], "send", f"websocket.send to {client}",
                 WS_SPEC, client)
            step(self.got_at.get((client, text), hops[3]["at"]), client, "receive",
                 f"text frame {text!r}", "RFC 6455 §5.6")
        last = max([s[0] for s in steps] + list(self.got_at.values()))
        for client in self.sent:
            if client not in {c for c, _ in copies}:
                step(last, client, "note", f"{client} never received {text!r}")
        trace = Trace("websocket")
        base = perf_now()
        trace.t0 = base
        for at, actor, kind, detail, spec, target in sorted(steps, key=lambda s: s[0]):
            trace.add(actor, kind, detail, spec, target=target, at=base + (at - sent_at))
        return trace


async def _open_pair(url: str, want_different: bool):
    """Two connected clients (with their hello messages), on different workers if asked."""
    from websockets.asyncio.client import connect

    spare = []
    first = None
    try:
        for _ in range(CONNECT_TRIES):
            ws = await connect(url, open_timeout=5, proxy=None)
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if first is None:
                first = (ws, hello)
            elif not want_different or hello["worker"] != first[1]["worker"]:
                return first, (ws, hello)
            else:
                spare.append(ws)
                await asyncio.sleep(RETRY_PAUSE)
        raise RuntimeError(f"{CONNECT_TRIES} connections in {CONNECT_TRIES * RETRY_PAUSE:g} s "
                           f"all landed on {first[1]['worker']}: the server did not spread "
                           "them over its workers")
    finally:
        for ws in spare:
            await ws.close()


async def _talk(url: str, workers: int, messages: int, gap: float) -> ChatRun:
    (a, hello_a), (b, hello_b) = await _open_pair(url, workers > 1)
    names = {"client A": a, "client B": b}
    run = ChatRun("", hello_a["channel"] if workers == 1 or "redis" in hello_a["channel"]
                  else "memory of each worker", [hello_a["worker"], hello_b["worker"]],
                  {n: [] for n in names}, {n: [] for n in names})

    async def reader(name, ws):
        async for raw in ws:
            data = json.loads(raw)
            if data.get("type") == "message":
                run.received[name].append(data)
                run.got_at[(name, data["text"])] = time.time()

    readers = [asyncio.create_task(reader(n, ws)) for n, ws in names.items()]
    await asyncio.sleep(0.1)  # both subscribed before anyone speaks
    for i in range(messages):
        for name, ws in names.items():
            text = f"{name}: message {i + 1}"
            run.sent[name].append(text)
            run.sent_at[text] = time.time()
            await ws.send(text)
        await asyncio.sleep(gap)
    await asyncio.sleep(SETTLE)
    for ws in names.values():
        await ws.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return run


def _in_thread(coro_fn, timeout: float):
    """Run a coroutine on a fresh loop in a helper thread (a notebook has its own loop)."""
    box: dict = {}

    def run():
        try:
            box["value"] = asyncio.run(coro_fn())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=run, name="gateway-lab-chat-clients", daemon=True)
    thread.start()
    thread.join(timeout)
    if "error" in box:
        raise box["error"]
    if "value" not in box:
        raise RuntimeError(f"the chat clients did not finish within {timeout:g} s")
    return box["value"]


def chat_run(*, workers: int = 2, broker: str | None = None, messages: int = 3,
             gap: float = 0.05, server: str = "uvicorn") -> ChatRun:
    """Start `server --workers N` with the chat (and redis-server if broker="redis"),
    connect two clients on different workers, exchange messages, stop everything."""
    if broker not in (None, "redis"):
        raise ValueError(f"broker must be None (in-memory) or 'redis', not {broker!r}")
    redis = start_redis() if broker == "redis" else None
    try:
        env = {"GATEWAY_LAB_BROKER": redis.url} if redis else {"GATEWAY_LAB_BROKER": ""}
        with start(server, CHAT_APP, workers=workers, env=env) as srv:
            run = _in_thread(lambda: _talk(srv.url.replace("http", "ws", 1) + "chat",
                                           workers, messages, gap),
                             timeout=60 + messages * gap * 2)
            run.server = srv.label
        return run
    finally:
        if redis is not None:
            redis.stop()
