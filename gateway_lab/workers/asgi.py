"""An ASGI worker (see the package docstring): one event loop that serves many
requests at once, as a uvicorn worker does, with a heartbeat the server watches,
the app's lifespan around it, and WebSockets relayed message by message."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from ..exchange import Exchange, Response, received, respond
from ..findings import describe_error
from ..listening import clip_trace
from ..request import Request
from ..trace import Trace
from .channel import BEAT, Channel, lab_thread, resolve_future
from .tracing import traced_asgi


class _ServerLoop(asyncio.SelectorEventLoop if os.name != "nt" else asyncio.ProactorEventLoop):
    """The worker's event loop.  It belongs to the server: stop() called from an app's
    task is refused with a RuntimeError (the app gets a 500 and a finding with its line);
    any other stop only ends one turn, and the worker runs the loop again."""

    serving = True

    def stop(self) -> None:
        if self.serving and asyncio.current_task(self) is not None:
            caller = sys._getframe(1)  # the app's line, for the message
            where = f"{os.path.basename(caller.f_code.co_filename)} line {caller.f_lineno}"
            raise RuntimeError(f"loop.stop() refused ({where}): the event loop belongs to "
                               "the server, not to an app")
        super().stop()


class AsgiWorker:
    """A uvicorn-like worker: one event loop, many connections, a heartbeat."""

    def __init__(self, app, channel: Channel, timeout: float, keep_body: int):
        self.app = app
        self.channel = channel
        self.timeout = timeout
        self.keep_body = keep_body
        self.loop = _ServerLoop()
        self.inboxes: dict[int, asyncio.Queue] = {}
        self.acks: dict[int, asyncio.Future] = {}
        self.state: dict = {}
        self.tasks: set[asyncio.Task] = set()
        self.stopping: asyncio.Event | None = None

    def serve(self) -> None:
        loop = self.loop
        asyncio.events._set_running_loop(None)  # a forked copy may think its parent's runs
        asyncio.set_event_loop(loop)
        main = loop.create_task(self.main())
        while not main.done():
            try:
                loop.run_forever()  # stopped by main's done-callback below, or by an app
            except (KeyboardInterrupt, SystemExit):
                continue  # raised by an app's task: that task has it, the loop goes on
        loop.serving = False
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def main(self) -> None:
        loop = self.loop
        asyncio.current_task().add_done_callback(lambda _: loop.stop())
        self.stopping = asyncio.Event()
        lifespan = _Lifespan(self.app, self.state, self.timeout)
        failure = await lifespan.startup()
        if failure is not None:
            self.channel.send(("failed", failure))
            return
        self.channel.send(("ready", os.getpid()))
        self._beat()
        lab_thread(self._read, "gateway-lab-worker-reader")
        await self.stopping.wait()
        for task in list(self.tasks):
            task.cancel()
        await lifespan.shutdown()

    def _beat(self) -> None:
        try:
            self.channel.send(("beat",))
        except (OSError, ValueError):  # the server has gone
            return
        self.loop.call_later(BEAT, self._beat)

    def _read(self) -> None:  # on a thread: messages from the server, onto the loop
        while True:
            try:
                message = self.channel.recv()
            except (EOFError, OSError):
                message = ("stop",)
            try:
                self.loop.call_soon_threadsafe(self._dispatch, message)
            except RuntimeError:  # the loop is closed
                return
            if message[0] == "stop":
                return

    def _dispatch(self, message) -> None:
        kind = message[0]
        if kind == "http":
            self._task(self._http(*message[1:]))
        elif kind == "ws":
            self.inboxes[message[1]] = asyncio.Queue()
            self._task(self._websocket(message[1], message[2]))
        elif kind == "ws_in" and message[1] in self.inboxes:
            self.inboxes[message[1]].put_nowait(message[2])
        elif kind == "ws_ack" and message[1] in self.acks:
            resolve_future(self.acks[message[1]], message[2])
        elif kind == "stop":
            self.stopping.set()

    def _task(self, coro) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _http(self, job_id: int, request: Request, options: dict) -> None:
        from ..asgi import run_asgi_async

        try:
            ex = await run_asgi_async(self.app, request, timeout=self.timeout,
                                      state=self.state, **options)
        except BaseException as error:  # noqa: BLE001 - CancelledError, KeyboardInterrupt...
            if self.stopping.is_set():
                raise
            ex = _escaped(request, error)
        self.channel.send(("done", job_id, ex.response, clip_trace(ex.trace, self.keep_body)))

    async def _websocket(self, relay_id: int, scope: dict) -> None:
        inbox = self.inboxes[relay_id]
        channel = self.channel

        async def receive():
            return await inbox.get()

        async def send(message):
            ack = self.acks[relay_id] = self.loop.create_future()
            channel.send(("ws_out", relay_id, message))
            error = await ack
            if error is not None:
                raise RuntimeError(error)

        traces: list[Trace] = []
        scope = {**scope, "state": dict(self.state)}
        try:
            await traced_asgi(self.app, traces.append)(scope, receive, send)
        except BaseException:  # noqa: BLE001 - in the trace already; the socket closes
            pass
        finally:
            self.inboxes.pop(relay_id, None)
            self.acks.pop(relay_id, None)
            trace = clip_trace(traces[0], self.keep_body) if traces else Trace("asgi")
            channel.send(("ws_end", relay_id, trace))


def _escaped(request: Request, error: BaseException) -> Exchange:
    """What the client gets when something the gateway does not catch escaped the app
    (it cancelled its own task, raised KeyboardInterrupt): a 500, and a finding."""
    trace = Trace("asgi")
    received(trace, request)
    trace.add("server", "log", f"the app raised {describe_error(error)}",
              "ASGI spec §Error Handling")
    trace.find("asgi.app.raised", error=describe_error(error))
    return respond("asgi", request, trace, Response.error(500))


class _Lifespan:
    """The lifespan protocol as a server runs it around serving (ASGI Lifespan spec):
    startup before the first request, shutdown after the last.  An app that raises
    on the lifespan scope does not support it, and is served without it."""

    def __init__(self, app, state: dict, timeout: float):
        self.app = app
        self.state = state
        self.timeout = timeout
        self.task: asyncio.Task | None = None
        self.to_app: asyncio.Queue = asyncio.Queue()
        self.from_app: asyncio.Queue = asyncio.Queue()
        self.started = False

    async def startup(self) -> str | None:
        """None when serving may begin; else why not."""
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}

        async def call():
            await self.app(scope, self.to_app.get, self.from_app.put)

        self.task = asyncio.ensure_future(call())
        reply = await self._phase("startup")
        if reply is None:
            return None  # not supported: serve without it
        if reply == "lifespan.startup.complete":
            self.started = True
            return None
        return f"the app's lifespan startup failed: {reply}"

    async def shutdown(self) -> None:
        if self.started:
            await self._phase("shutdown")
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait({self.task}, timeout=0.5)

    async def _phase(self, name: str) -> str | None:
        await self.to_app.put({"type": f"lifespan.{name}"})
        getter = asyncio.ensure_future(self.from_app.get())
        done, _ = await asyncio.wait({getter, self.task}, timeout=self.timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            message = getter.result()
            kind = message.get("type", "?") if isinstance(message, dict) else repr(message)
            if kind.endswith(".failed"):
                return f"{kind} {message.get('message', '')!r}"
            return kind
        getter.cancel()
        if self.task in done:
            # An app that raises on (or returns from) the lifespan scope does not support
            # it: served without it, as uvicorn's lifespan="auto" does.
            return None
        return f"no answer to lifespan.{name} within {self.timeout:g} s"
