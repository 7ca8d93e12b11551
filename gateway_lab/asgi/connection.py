"""What every ASGI connection shares, whatever its type: the scope, the messages, the
app's steps on the event loop (ASGI spec §Applications, §Events, §Error Handling).

An ASGI app is one coroutine function, `async def app(scope, receive, send)`.
The server:

1. builds the `scope`, a dict describing the connection: its type ("http",
   "websocket" or "lifespan"), path, query_string (bytes), headers
   (lower-case bytes pairs), ... (ASGI HTTP spec §HTTP Connection Scope);
2. awaits `app(scope, receive, send)` (ASGI spec §Applications);
3. checks every message the app sends (`send(message)`): a dict with a
   'type' and only the values the spec allows (§Events), in the order the
   connection's state machine allows (`http.py`, `websocket.py`).  An invalid
   message makes send() raise (§Error Handling);
4. if the app raises, terminates the connection: a 500 before the response
   started, a closed connection after.

The app shares one event loop with every other connection.  Between two
awaits a coroutine keeps the loop to itself; each such step of the app is
timed (`Watch`), and one that holds the loop longer than BLOCKED is reported
as `asgi.loop.blocked`, at the point where it happened.

Every message in the trace is a snapshot taken when it was sent or received
(trace.snapshot): an app that reuses one dict for several sends, or empties a
message it received, cannot change what an earlier step shows.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
import types
from types import MappingProxyType
from urllib.parse import unquote_to_bytes

from .. import sandbox
from ..findings import clip, is_async_callable
from ..limits import size_line
from ..request import Request, host_and_port
from ..trace import Step, Trace, now, snapshot

DEFAULT_TIMEOUT = 5.0
BLOCKED = 0.1        # s; a step longer than this blocks the loop (asyncio's debug mode uses 0.1)
REPEATS_SHOWN = 3    # receive() calls after a disconnect that the trace shows one by one
GRACE = 0.25         # s; how long past the deadline a blocked loop gets before it is stopped
ASGI = {"version": "3.0", "spec_version": "2.4"}
WWW = "ASGI HTTP spec"
START_SPEC = "ASGI HTTP spec §Response Start - send event"
WS = "ASGI WebSocket spec"
_clock = time.perf_counter

_SPEC_OF = {
    "http.response.start": f"{WWW} §Response Start - send event",
    "http.response.body": f"{WWW} §Response Body - send event",
    "http.response.trailers": f"{WWW} §Response Trailers - send event",
    "websocket.accept": f"{WS} §Accept - send event",
    "websocket.send": f"{WS} §Send - send event",
    "websocket.close": f"{WS} §Close - send event",
}


def _spec_of(kind) -> str:
    # A type that is not a str (even a list, which cannot be a dict key) is no message.
    return _SPEC_OF.get(kind, "ASGI spec §Events") if kind.__class__ is str else \
        "ASGI spec §Events"


def _summary(message) -> str:
    """One line for a message the app sent (from its snapshot, or the message itself)."""
    kind = message["type"]
    if kind == "http.response.start":
        return f"{kind}, status {message.get('status')!r}"
    if kind == "http.response.body":
        body = message.get("body", b"")
        size = size_line(body) if hasattr(body, "__len__") else "? bytes"  # see limits.py
        return f"{kind}, {size}, more_body={bool(message.get('more_body', False))}"
    if kind == "websocket.send":
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        return f"{kind} {clip(data, 40)}"
    if kind == "websocket.close":
        return f"{kind}, code {message.get('code', 1000)!r}"
    return kind


def _sends(target: str) -> dict[str, Step]:
    """The app's send(message) steps, by message type.  HTTP responses go to the
    gateway (which frames them for the client), WebSocket messages to the client."""
    return {kind: Step("app", "send", _summary, spec, target) for kind, spec in _SPEC_OF.items()}


class ASGIError(RuntimeError):
    """Raised from send() into an app that broke the protocol (ASGI spec §Error Handling:
    "the server must raise an exception" on an invalid event)."""


class Disconnected(OSError):
    """Raised from send() once the peer has gone (ASGI spec 2.4: an OSError subclass,
    which the server does not log).  `connection` is the connection that raised it."""

    connection = None


class _Handled(ASGIError):
    """The gateway already recorded why; raised into the app from send()."""


class _NotAsync(Exception):
    pass


# -- the scope ---------------------------------------------------------------------

_NAMES: dict[str, bytes] = {}


def _name_bytes(name: str) -> bytes:
    """'Content-Type' -> b'content-type' (§HTTP Connection Scope: lower-cased); a pure
    function of an exact str, remembered for the names seen (bounded)."""
    key = _NAMES.get(name) if name.__class__ is str else None
    if key is None:
        key = name.lower().encode("latin-1")
        if name.__class__ is str and len(_NAMES) < 4096:
            _NAMES[name] = key
    return key


def connection_scope(request: Request, *, root_path: str = "",
                     state: dict | None = None) -> dict:
    """The scope a server builds for `request`: a WebSocket's for a WebSocket
    handshake (ASGI WebSocket spec §Websocket Connection Scope), else an HTTP
    request's (ASGI HTTP spec §HTTP Connection Scope)."""
    return _scope_for(request, root_path, state)[0]


def _scope_for(request: Request, root_path: str, state) -> tuple[dict, tuple]:
    """The scope for one run, and what the trace records of it: the template every
    run of these request parts shares (Request.memo; never handed to an app, and
    shown only as a copy, so it stays as built) and the state, as it was."""
    template = request.memo(("asgi", root_path), _request_scope, request, root_path)
    scope = template.copy()
    # The parts an app or middleware may change are the run's own.
    scope["asgi"] = ASGI.copy()
    scope["headers"] = list(template["headers"])
    scope["extensions"] = {}
    if "subprotocols" in scope:
        scope["subprotocols"] = list(scope["subprotocols"])
    if state is None:
        return scope, (template, None)
    scope["state"] = state.copy()  # Lifespan spec: a shallow copy per request
    return scope, (template, snapshot(state))


def _request_scope(request: Request, root_path: str) -> dict:
    parts = request.parts
    target = parts.target
    raw, _, query = target.partition("?")
    if raw[:1] != "/" and "://" in raw:
        raw = request._path  # absolute-form: the path after the authority
    raw = raw.encode("latin-1")
    headers, host, websocket, offered = [], None, False, ""
    for name, value in parts.headers:
        key = _name_bytes(name)
        headers.append((key, value.encode("latin-1")))
        if key == b"host":
            host = value
        elif key == b"upgrade":
            websocket = value.lower() == "websocket"
        elif key == b"sec-websocket-protocol":
            offered = value
    scope = {
        "type": "http",
        "asgi": ASGI,
        "http_version": parts.http_version,
        "method": parts.method,
        "scheme": parts.scheme,
        # `path` is percent-decoded text, `raw_path` the bytes as sent.
        "path": (unquote_to_bytes(raw) if b"%" in raw else raw).decode("utf-8", "replace"),
        "raw_path": raw,
        "query_string": query.encode("latin-1"),
        "root_path": root_path,
        "headers": tuple(headers),
        "client": parts.client,
        "server": host_and_port(host, parts),
        "extensions": None,
    }
    if websocket:
        scope["type"] = "websocket"
        scope["scheme"] = "wss" if parts.scheme == "https" else "ws"
        del scope["method"]
        scope["subprotocols"] = tuple(p.strip() for p in offered.split(",") if p.strip())
    return scope


def _scope_line(recorded: tuple) -> str:
    scope = recorded[0]
    return f"type={scope['type']!r}, path={scope['path']!r}"


def _scope_shown(recorded: tuple) -> dict:
    """The scope as the app got it, made from what was recorded (trace.Step.shown)."""
    template, state = recorded
    scope = template.copy()
    scope["asgi"] = dict(template["asgi"])
    scope["headers"] = list(template["headers"])
    scope["extensions"] = {}
    if state is not None:
        scope["state"] = dict(state)
    return scope


# -- what an app may put in a message (ASGI spec §Events) ---------------------------

_ALLOWED = (bytes, str, int, float, list, dict, bool, type(None), tuple)
_PLAIN = frozenset({bytes, str, int, bool, type(None), list, dict, tuple})  # no float: NaN
_KEEP = frozenset({bytes, str, int, bool, type(None)})  # valid, and snapshots of themselves


def _valid(message, trace: Trace) -> bool:
    if not isinstance(message, dict) or "type" not in message:
        trace.find("asgi.message.not_dict", value=clip(message))
        return False
    for value in message.values():  # the usual message: plain values only, one look each
        if type(value) not in _PLAIN:
            break
    else:
        return True
    for key, value in message.items():
        if type(value) in _PLAIN:
            continue
        if not isinstance(value, _ALLOWED) or (isinstance(value, float) and not
                                               math.isfinite(value)):
            trace.find("asgi.message.bad_value", type=message.get("type"), key=key,
                       value=clip(value), vtype=type(value).__name__)
            return False
    return True


def message_now(message: dict) -> MappingProxyType:
    """A message as it is at this moment (see the module docstring): its plain values
    as they are, lists and dicts copied all the way down."""
    out = message.copy()
    for key, value in message.items():
        cls = value.__class__
        if cls not in _KEEP and cls is not float:
            out[key] = _headers_now(value) if key == "headers" and cls is list else \
                snapshot(value)
    return MappingProxyType(out)


def _headers_now(headers: list) -> tuple:
    """A header list as it is now: a shallow copy is a whole one when every pair is a
    tuple of two bytes (the usual), else copy it all the way down."""
    for pair in headers:
        if pair.__class__ is not tuple or len(pair) != 2 or pair[0].__class__ is not bytes \
                or pair[1].__class__ is not bytes:
            return snapshot(headers)
    return tuple(headers)


# -- timing the app's steps -----------------------------------------------------

def _cancel_still_asked() -> bool:
    """The app caught a CancelledError and goes on: did it swallow a cancellation, or
    was it its own timeout's?  asyncio.timeout() (and wait_for, built on it since 3.12)
    cancels the task it runs in and, turning that into TimeoutError, takes the cancel
    back (Task.uncancel): then nobody's cancel is pending.  Before 3.11 a task does not
    count its cancels (and wait_for cancels an inner task): count it as swallowed."""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    return cancelling is None or cancelling() > 0



class Watch:
    """The loop's view of one app: which step it is in, how long it held the loop.

    A coroutine runs between two awaits without giving the loop back.  A step
    that takes longer than BLOCKED kept every other connection on the loop
    waiting.  Each send() and receive() inside a step is a checkpoint: a gap
    longer than BLOCKED between two checkpoints is reported right there, before
    the message that ended it, so the trace shows *where* the loop was held.
    """

    step_start: float | None = None  # set while the app holds the loop
    mark = 0.0                       # the last checkpoint inside the current step
    reported = False                 # this step's hold is reported already
    blocked = 0.0                    # the longest hold so far
    closed = False                   # the run is reported; late steps change nothing
    ignored_cancel = False           # it caught its cancellation, and was left unstepped
    lab_cancels = 0                  # the task's cancel()s that were the lab's own

    def __init__(self, trace: Trace, timeout: float):
        self.trace = trace
        self.timeout = timeout

    @types.coroutine
    def steps(self, awaitable, first_wait=None):
        """Await `awaitable` one step at a time, timing each step; every yield and
        every exception thrown in (cancellation) is passed through unchanged.
        `first_wait()` is called when the app first waits for the loop."""
        # A coroutine steps by itself; any other awaitable through its __await__().
        steps = awaitable if type(awaitable) is types.CoroutineType else awaitable.__await__()
        send, throw = steps.send, steps.throw
        value = error = None
        recancel = None  # set once the app has caught a cancellation and awaits on
        try:
            while True:
                self.step_start = self.mark = _clock()
                self.reported = False
                try:
                    yielded = send(value) if error is None else throw(error)
                except StopIteration as stop:
                    self.step_ended()
                    return stop.value
                except BaseException:
                    self.step_ended(stopped=True)
                    raise
                self.step_ended()
                if first_wait is not None:
                    first_wait()
                    first_wait = None
                if recancel is None and isinstance(error, asyncio.CancelledError) \
                        and _cancel_still_asked():
                    recancel = self._grace_after_cancel()
                try:
                    value, error = (yield yielded), None
                except asyncio.CancelledError as cancelled:
                    if recancel is not None:
                        # Cancelled again after it caught one: it had its grace.
                        self._abandon(steps)
                        raise
                    value, error = None, cancelled
                except BaseException as thrown:  # noqa: BLE001 - forwarded to the app
                    value, error = None, thrown
        finally:
            if recancel is not None:
                recancel.cancel()

    def _grace_after_cancel(self) -> asyncio.TimerHandle:
        """The app caught the CancelledError its task was cancelled with and awaits
        again.  Clean-up awaits are allowed (asyncio's own docs say to re-raise once
        done); GRACE later the task is cancelled once more, and the app is then left
        unstepped (`_abandon`), so that neither the deadline nor the caller's own
        cancellation (asyncio.wait_for, a TaskGroup) can be held off for ever."""
        task = asyncio.current_task()
        self.lab_cancels += 1
        return task.get_loop().call_later(GRACE, task.cancel)

    def _abandon(self, steps) -> None:
        self.ignored_cancel = True
        close = getattr(steps, "close", None)
        if close is not None:
            try:
                close()  # GeneratorExit at its await: its `finally:` blocks run
            except RuntimeError:  # "coroutine ignored GeneratorExit"
                pass

    def checkpoint(self) -> float:
        """The app called send() or receive(): report a hold that ends here.  Returns
        the time, which the step that follows is recorded at."""
        at = _clock()
        if self.step_start is not None:
            if at - self.mark > BLOCKED and not self.closed:
                self.found(at - self.mark)
                self.reported = True
                at = _clock()  # after the finding, which goes before the step
            self.mark = at
        return at

    def step_ended(self, stopped: bool = False) -> None:
        start, self.step_start = self.step_start, None
        at = _clock()
        if self.closed or start is None:
            return
        took = at - start
        if at - self.mark > BLOCKED:
            how = " and was stopped there" if stopped and took >= self.timeout else ""
            self.found(at - self.mark, how)
        elif took > BLOCKED and not self.reported:
            # No single stretch was long, but the step as a whole held the loop.
            self.found(took)

    def found(self, took: float, how: str = "") -> None:
        self.trace.find("asgi.loop.blocked", seconds=took, how=how)
        self.blocked = max(self.blocked, took)


# -- one connection: the state shared by receive() and send() ----------------------

CALL = Step("gateway", "call", "await app(scope, receive, send)", "ASGI spec §Applications",
            "app")


class Connection(Watch):
    """What every kind of connection keeps: the app, the trace, the deadline; and,
    as a Watch, how long each of the app's steps held the loop."""

    kind = "http"
    sends: dict[str, Step] = {}
    sends_to = "gateway"
    # How a run starts out; an instance sets its own only when one changes.
    error: BaseException | None = None
    returned = None
    timed_out = False
    stuck = False   # timed out inside a C call
    waiting = ""    # what the app was awaiting, for a timeout's message
    timer: asyncio.TimerHandle | None = None  # the deadline, once the app waits
    owns_task = True  # False when the caller's own task runs the app (run_asgi_async)
    noted_case = False  # a header name that is not lower-case was noted (http.check_headers)
    repeats = 0         # receive() calls after the disconnect was delivered
    started = 0.0
    ended_at: float | None = None

    def __init__(self, app, request: Request, timeout: float, scope: dict, coach=True):
        self.app = app
        self.request = request
        self.timeout = timeout
        self.scope = scope
        self.trace = Trace("asgi", coach)

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def late(self, at: float | None) -> bool:
        """True when `at` (a time, or None: never) is past the deadline."""
        return at is None or at > self.deadline

    async def main(self) -> None:
        """Await the app with a deadline; record how it ended."""
        self.started = _clock()
        try:
            self.returned = await self.steps(self._call(), self._arm)
        except asyncio.CancelledError as cancelled:
            if not self.owns_task:
                self._uncancel()
            if self.timed_out:
                pass
            elif self.owns_task:
                # Nobody but the app cancelled the task the lab gave it.
                self.error = cancelled
            else:
                raise  # the caller's own task was cancelled: theirs to handle
        except sandbox.Stopped:
            raise  # the sandbox's deadline: the caller reports it
        except BaseException as error:  # noqa: BLE001 - learner code may raise anything,
            self.error = error           # KeyboardInterrupt and SystemExit included
        finally:
            self.ended_at = _clock()
            if self.timer is not None:
                self.timer.cancel()
            self.ended()

    def _arm(self) -> None:
        """Set the deadline's timer; called when the app first waits for something
        (an app that answers in one step never needs one)."""
        left = self.timeout - (_clock() - self.started)
        task = asyncio.current_task()
        self.timer = task.get_loop().call_later(max(left, 0.0), self._expire, task)

    def _expire(self, task) -> None:
        self.timed_out = True
        self.lab_cancels += 1
        task.cancel()

    def _uncancel(self) -> None:
        """Take back the lab's own cancel()s of the caller's task (run_asgi_async): left
        counted (Task.cancelling(), 3.11+), they would turn the caller's later
        asyncio.timeout() into a plain CancelledError."""
        task = asyncio.current_task()
        for _ in range(self.lab_cancels if hasattr(task, "uncancel") else 0):
            task.uncancel()
        self.lab_cancels = 0

    def _call(self):
        self.trace.record((CALL, now(), None))
        awaitable = self.app(self.scope, self.receive, self.send)
        if type(awaitable) is not types.CoroutineType and not inspect.isawaitable(awaitable):
            raise _NotAsync(type(awaitable).__name__)
        return awaitable

    def ended(self) -> None:
        """Called once the app is done, whatever happened (wakes waiting receives)."""

    def overran(self) -> bool:
        """The app was still running at its deadline (it blocked the loop past it, or
        was stopped there)."""
        return self.timed_out or self.ended_at is None or \
            self.ended_at > self.started + self.timeout

    def where(self) -> str:
        """What the app was doing when its time ran out, for the timeout's finding."""
        if self.stuck:
            return "it blocked the event loop inside a C call and could not be stopped"
        if self.ignored_cancel:
            return (f"it caught the asyncio.CancelledError the server stopped it with and "
                    f"awaited again; {GRACE:g} s later the server closed it")
        if self.blocked:
            return "it blocked the event loop"
        return self.waiting or "an await never returned"

    def explained(self, error: BaseException) -> bool:
        """True when `error` needs no more words: a finding about how the app was
        called is recorded here, and send() recorded its own before raising."""
        if isinstance(error, _NotAsync):
            self.trace.find("asgi.app.not_async", type=str(error))
            return True
        if isinstance(error, TypeError) and _is_call_error(error):
            if _looks_wsgi(self.app):
                self.trace.find("asgi.app.is_wsgi", name=repr(getattr(
                    self.app, "__name__", type(self.app).__name__)))
            else:
                self.trace.find("asgi.app.signature", error=str(error))
            return True
        if isinstance(error, asyncio.CancelledError):
            self.trace.find("asgi.app.cancelled")
            return True
        if isinstance(error, Disconnected):
            # This connection's own send() raised it: the client had gone, which the
            # spec says the server must not log.  Raised by another connection's send
            # (a chat's broadcast to a peer that left), it is an unhandled error.
            return error.connection is self
        return isinstance(error, _Handled)

    async def again(self, rule: str, **facts) -> bool:
        """receive() once more after the app was told of the disconnect: the connection
        is gone, and the answer is the disconnect again (as uvicorn gives it), at once.
        Reported once; the loop gets its turn first, so an app that keeps asking spins
        until its deadline instead of holding the loop (it *does* await).  True while the
        repeat is still shown in the trace (a few, not one step per turn of a loop)."""
        self.repeats += 1
        if self.repeats == 1:
            self.trace.find(rule, **facts)
        self.waiting = "calling receive() again and again after the disconnect"
        await asyncio.sleep(0)
        return self.repeats <= REPEATS_SHOWN

    def sent_event(self, message) -> str:
        """What every send() does first: check the message is one, and trace it."""
        at = _clock()
        if self.step_start is not None:  # a checkpoint (see Watch.checkpoint), inline
            if at - self.mark > BLOCKED and not self.closed:
                at = self.checkpoint()
            self.mark = at
        snap = None
        if message.__class__ is dict and "type" in message:
            # The usual message, in one look at each value: plain values that are their
            # own snapshot need nothing more (see _valid and message_now).
            for value in message.values():
                if value.__class__ not in _KEEP:
                    break
            else:
                snap = MappingProxyType(message.copy())
        if snap is None:
            if not _valid(message, self.trace):
                raise _Handled("invalid message")
            snap = message_now(message)
        kind = message["type"]
        step = self.sends.get(kind) if kind.__class__ is str else None
        if step is None:  # a type the spec does not have: send() says so next
            step = Step("app", "send", _summary, _spec_of(kind), self.sends_to)
        self.trace.record((step, at, snap))
        return kind

    def disconnected(self, why: str) -> Disconnected:
        error = Disconnected(why)
        error.connection = self
        return error


def _looks_wsgi(app) -> bool:
    """A plain (not async) function of two parameters: `app(environ, start_response)`,
    a WSGI app handed to an ASGI server."""
    if is_async_callable(app):
        return False
    try:
        params = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):  # a builtin, or a callable with no signature
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 2 and all(p.kind is not p.VAR_POSITIONAL for p in params)


def _is_call_error(error: TypeError, caller=None) -> bool:
    """The TypeError was raised by the call into the app itself, in `caller`
    (Connection._call unless said), not inside the app."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = (caller or Connection._call).__code__
    return tb is not None and tb.tb_frame.f_code is code
