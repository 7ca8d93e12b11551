"""The ASGI lifespan protocol (ASGI Lifespan spec 2.0): startup and shutdown.

The state machine, as a server runs it (once per event loop: a server with
several worker processes runs it in each of them):

    server: scope {"type": "lifespan", "state": {}}  then  await app(scope, receive, send)
    receive() -> lifespan.startup    app: lifespan.startup.complete | lifespan.startup.failed
    ... the server serves requests; each request's scope gets a shallow copy of "state"
    receive() -> lifespan.shutdown   app: lifespan.shutdown.complete | lifespan.shutdown.failed

* An app that raises on a lifespan scope does not support lifespan: the server carries
  on without it (Django does this) (§Scope).
* A `.failed` startup stops the server; any other reply is an invalid transition.
"""

from __future__ import annotations

import asyncio
import inspect

from .. import sandbox
from ..findings import describe_error
from ..process_state import described
from ..trace import Trace
from .connection import (
    ASGI,
    DEFAULT_TIMEOUT,
    GRACE,
    Watch,
    _Handled,
    _is_call_error,
    _looks_wsgi,
    _NotAsync,
    _valid,
    message_now,
)
from .loops import run_sync

SPEC = "ASGI Lifespan spec"


class _Exited(Exception):
    """An app's KeyboardInterrupt or SystemExit, carried as an ordinary error."""


class Lifespan:
    """What `lifespan(app)` found: whether the app speaks the lifespan protocol,
    whether startup and shutdown completed, the `state` startup filled in."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.supported = True
        self.started = False
        self.stopped = False
        self.state: dict = {}

    @property
    def findings(self):
        return self.trace.findings

    @property
    def ok(self) -> bool:
        return not self.trace.findings

    def __repr__(self) -> str:
        return (f"<Lifespan supported={self.supported} started={self.started} "
                f"stopped={self.stopped} state={sorted(self.state)} "
                f"findings={len(self.findings)}>")

    def __str__(self) -> str:
        return str(self.trace)

    def _repr_html_(self) -> str:
        return self.trace._repr_html_()


async def run_lifespan(app, result: Lifespan, timeout: float, between=None) -> None:
    """Startup, then `await between(result)` (a server's serving years), then shutdown."""
    trace = result.trace
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": dict(ASGI), "state": result.state}
    trace.add("server", "scope", "type='lifespan'", f"{SPEC} §Scope", target="app", data=scope)

    async def receive():
        message = await to_app.get()
        trace.add("server", "receive", message["type"], SPEC, target="app", data=message)
        return message

    answered: set[str] = set()  # the events the app has answered ("startup", "shutdown")

    async def send(message):
        if not _valid(message, trace):
            raise _Handled("invalid message")
        # The server acts on the message as it is now, as a real server does inside
        # send(): an app may reuse the dict for its next message before the server
        # reads the queue.
        message = message_now(message)
        trace.add("app", "send", message["type"], SPEC, target="server", data=message)
        event = _answers(message["type"])
        if event in answered:
            # Each event is answered once: uvicorn asserts this in send(), so the app
            # gets an error there, and serves on without lifespan.
            trace.find("asgi.lifespan.answered_twice", type=message["type"], event=event)
            raise _Handled("answered twice")
        if event:
            answered.add(event)
        await from_app.put(message)

    async def call():
        awaitable = _call_app(app, scope, receive, send)
        try:
            await watch.steps(awaitable)
        except (KeyboardInterrupt, SystemExit) as error:
            # asyncio lets these two out of the loop at once; the app's own are its
            # errors like any other, and must not stop the server.
            raise _Exited(error) from error

    watch = Watch(trace, timeout)
    task = asyncio.ensure_future(call())

    async def phase(name: str) -> bool:
        await to_app.put({"type": f"lifespan.{name}"})
        getter = asyncio.ensure_future(from_app.get())
        done, _ = await asyncio.wait({getter, task}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            reply = getter.result()
            kind = reply["type"]
            if kind == f"lifespan.{name}.complete":
                return True
            if kind == f"lifespan.{name}.failed":
                trace.find(f"asgi.lifespan.{name}_failed", message=reply.get("message", ""))
                return False
            trace.find("asgi.lifespan.bad_transition", type=kind, to=f"lifespan.{name}")
            return False
        getter.cancel()
        if task in done:
            error = None if task.cancelled() else task.exception()
            if isinstance(error, _Exited):
                error = error.args[0]
            if isinstance(error, (_Handled, sandbox.Stopped)):
                # send() recorded why (a message that is not one); or the app held the
                # loop until the lab stopped it (asgi.loop.blocked): either way it does
                # speak lifespan, and did not answer.
                if isinstance(error, sandbox.Stopped):
                    trace.find("asgi.lifespan.timeout", phase=name, timeout=timeout)
                return False
            if name == "startup" and _not_an_asgi_app(app, error, trace):
                result.supported = False
                return False
            if name == "startup" and error is not None and not result.started:
                # §Scope: an app that raises on a lifespan scope does not support it; a
                # server carries on without lifespan (Django does this).
                result.supported = False
                trace.add("server", "note", "the app does not support lifespan "
                          f"({type(error).__name__}); serving without it",
                          f"{SPEC} §Scope", target="client")
                return False
            if error is not None:
                trace.find("asgi.lifespan.raised", error=describe_error(error), phase=name)
            else:
                trace.find("asgi.lifespan.bad_transition", type="(return)",
                           to=f"lifespan.{name}")
            return False
        trace.find("asgi.lifespan.timeout", phase=name, timeout=timeout)
        return False

    try:
        result.started = await phase("startup")
        if result.started:
            if between is not None:
                await between(result)
            result.stopped = await phase("shutdown")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=GRACE)


def _call_app(app, scope, receive, send):
    awaitable = app(scope, receive, send)
    if not inspect.isawaitable(awaitable):
        raise _NotAsync(type(awaitable).__name__)
    return awaitable


def _answers(kind) -> str:
    """'lifespan.startup.complete' -> 'startup': the event a message answers, if any."""
    for event in ("startup", "shutdown"):
        if kind in (f"lifespan.{event}.complete", f"lifespan.{event}.failed"):
            return event
    return ""


def _not_an_asgi_app(app, error, trace: Trace) -> bool:
    """An app a server could not even call the ASGI way: a plain `def`, a WSGI app, not
    a callable.  A server with lifespan "auto" serves on without lifespan, and fails at
    the first request: the finding says why now (as run_asgi's does)."""
    if isinstance(error, _NotAsync):
        trace.find("asgi.app.not_async", type=str(error))
    elif not callable(app):
        trace.find("asgi.app.not_callable", actor="server", type=type(app).__name__)
    elif isinstance(error, TypeError) and _is_call_error(error, _call_app):
        if _looks_wsgi(app):
            trace.find("asgi.app.is_wsgi", name=repr(getattr(app, "__name__",
                                                                 type(app).__name__)))
        else:
            trace.find("asgi.app.signature", error=str(error))
    else:
        return False
    trace.add("server", "note", "the app cannot be served as ASGI at all; serving without "
              "lifespan", f"{SPEC} §Scope", target="client")
    return True


def lifespan(app, *, timeout: float = DEFAULT_TIMEOUT) -> Lifespan:
    """Run the lifespan protocol against `app`: startup, then shutdown.

    Returns a Lifespan with `.supported`, `.started`, `.stopped`, `.state` (what
    startup put in scope["state"]) and `.findings`.  `timeout` is each phase's:
    a startup or shutdown still waiting after `timeout` seconds is given up; one that
    blocks the event loop is stopped by the call's own deadline, twice `timeout` (the
    longest the two phases may take together).
    """
    result = Lifespan(Trace("asgi"))
    outcome = run_sync(lambda: run_lifespan(app, result, timeout), timeout * 2, watch=True)
    if outcome.changed:
        # Startup may set up the process (that is what it is for); after shutdown a
        # server's process exits, and the change with it.  Here the process is the
        # notebook's, which goes on: the lab does what the exit would have done.
        result.trace.add("server", "note", "between startup and the end of shutdown the app "
                         f"changed what the whole process shares: {described(outcome.changed)}; "
                         "a server's process would exit now, and the lab put it back instead",
                         f"{SPEC} §Shutdown", target="app")
    if outcome.timed_out:
        result.trace.find("asgi.lifespan.timeout", phase="startup" if not result.started
                          else "shutdown", timeout=timeout)
    elif outcome.error is not None:
        raise outcome.error
    return result
