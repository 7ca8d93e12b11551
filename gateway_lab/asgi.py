"""The ASGI gateway (ASGI 3.0, spec 2.x): a Request in, an app awaited, a Response out.

An ASGI app is one coroutine function, `async def app(scope, receive, send)`
(ASGI spec §Applications).  The server's side, each step in the trace:

1. build the `scope`, a dict describing the connection: its type ("http",
   "websocket" or "lifespan"), path, query_string (bytes), headers
   (lower-case bytes pairs), ... (§HTTP Connection Scope);
2. await `app(scope, receive, send)`;
3. answer the app's `await receive()` with the request as events:
   `http.request` chunks with `more_body`, then `http.disconnect` once the
   response is over; for a WebSocket `websocket.connect`, the client's
   messages, `websocket.disconnect`;
4. check every event the app passes to `await send(event)` against the
   protocol's state machine: `http.response.start` once, then
   `http.response.body` parts until `more_body` is False; for a WebSocket
   `websocket.accept` (or `websocket.close` = refused, HTTP 403) before any
   `websocket.send`.

The app shares one event loop with every other request.  Each step it takes
between two awaits is timed; a step that holds the loop too long
(`time.sleep` in `async def`) is reported as `asgi.loop.blocked`.

Where the app runs: from sync code (a script, a test) on this thread's own
loop under the sandbox's deadline; when this thread already runs a loop (a
Jupyter cell) on the lab's loop thread, as starlette's TestClient does, but
one thread for every run instead of one per client.  asyncio is never patched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import math
import threading
import time
import traceback
import types
from urllib.parse import unquote_to_bytes

from . import sandbox
from .exchange import Exchange, Response, accept, reason_phrase, received, respond
from .findings import clip, describe_error
from .request import Close, Request
from .trace import Step, Trace, now

DEFAULT_TIMEOUT = 5.0
BLOCKED = 0.1        # s; a step longer than this blocks the loop (asyncio's debug mode uses 0.1)
GRACE = 0.25         # s; how long past the deadline a blocked loop gets before it is abandoned
IDLE_EXIT = 5.0      # s; the lab's loop thread exits after this long without work
ASGI = {"version": "3.0", "spec_version": "2.4"}
WWW = "ASGI HTTP spec"
START_SPEC = "ASGI HTTP spec §Response Start - send event"
WS = "ASGI WebSocket spec"
_clock = time.perf_counter
_MAIN_IDENT = threading.main_thread().ident
_get_running_loop = asyncio._get_running_loop  # None when no loop runs (public since 3.7 in events)


# -- the steps of an ASGI run, as the trace shows them ------------------------------
# Each detail function makes an event's text from the step's data, when the
# trace is read (trace.Step).

def _scope_line(scope: dict) -> str:
    return f"type={scope['type']!r}, path={scope['path']!r}"


def _summary(message: dict) -> str:
    """One line for a message the app sent."""
    kind = message["type"]
    if kind == "http.response.start":
        return f"{kind}, status {message.get('status')!r}"
    if kind == "http.response.body":
        body = message.get("body", b"")
        size = len(body) if hasattr(body, "__len__") else "?"
        return f"{kind}, {size} bytes, more_body={bool(message.get('more_body', False))}"
    if kind == "websocket.send":
        data = message.get("text") if message.get("text") is not None else message.get("bytes")
        return f"{kind} {clip(data, 40)}"
    return kind


def _body_line(message: dict) -> str:
    """One line for an http.request event the gateway hands the app."""
    return f"http.request, {len(message['body'])} bytes, more_body={message['more_body']}"


HTTP_SCOPE = Step("server", "scope", _scope_line, f"{WWW} §HTTP Connection Scope", "gateway")
WS_SCOPE = Step("server", "scope", _scope_line, f"{WS} §Websocket Connection Scope", "gateway")
CALL = Step("gateway", "call", "await app(scope, receive, send)", "ASGI spec §Applications",
            "app")
REQUEST_EVENT = Step("gateway", "receive", _body_line, f"{WWW} §Request - receive event",
                     "app")
DISCONNECT_EVENT = Step("gateway", "receive", "http.disconnect",
                        f"{WWW} §Disconnect - receive event", "app")
CUT = Step("server", "close connection", "response cut short", "ASGI spec §Error Handling",
           "client")
_SPEC_OF = {
    "http.response.start": f"{WWW} §Response Start - send event",
    "http.response.body": f"{WWW} §Response Body - send event",
    "http.response.trailers": f"{WWW} §Response Trailers - send event",
    "websocket.accept": f"{WS} §Accept - send event",
    "websocket.send": f"{WS} §Send - send event",
    "websocket.close": f"{WS} §Close - send event",
}


def _spec_of(kind: str) -> str:
    return _SPEC_OF.get(kind, "ASGI spec §Events")


def _sends(target: str) -> dict[str, Step]:
    """The app's send(message) steps, by message type.  HTTP responses go to the
    gateway (which frames them for the client), WebSocket messages to the client."""
    return {kind: Step("app", "send", _summary, spec, target) for kind, spec in _SPEC_OF.items()}


class ASGIError(RuntimeError):
    """Raised from send() into an app that broke the protocol (ASGI spec §Error Handling:
    "the server must raise an exception" on an invalid event)."""


class Disconnected(OSError):
    """Raised from send() after the client went away (ASGI spec 2.4: an OSError subclass)."""


# -- where coroutines run ----------------------------------------------------------

def _quiet(loop, context) -> None:
    """Exception handler for the lab's loops: a stopped app is not news."""
    if isinstance(context.get("exception"), (sandbox.Stopped, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)


def _new_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet)
    return loop


class _OwnLoop:
    """A loop of the lab's own for sync callers, which keeps a list of the tasks
    started on it: asking asyncio for them (all_tasks) walks every task of
    every loop, which cost more than a whole hello-world run."""

    def __init__(self):
        self.loop = _new_loop()
        self.tasks: list[asyncio.Task] = []
        self.stopped_by_app = False
        self.loop.set_task_factory(self._task)

    def _task(self, loop, coro, **kwargs) -> asyncio.Task:
        task = asyncio.Task(coro, loop=loop, **kwargs) if kwargs else asyncio.Task(coro, loop=loop)
        self.tasks.append(task)
        return task

    def run(self, coro):
        """loop.run_until_complete(coro), one turn of the loop cheaper for an app
        that answers in one step (most do)."""
        loop = self.loop
        task = loop.create_task(coro)
        # stop() before run_forever(): the loop runs what is ready (the task's
        # first step) and returns (asyncio docs, AbstractEventLoop.stop).
        loop.stop()
        loop.run_forever()
        if not task.done():  # the app waits for something: run until it is done
            task.add_done_callback(lambda _: loop.stop())
            loop.run_forever()
            while not task.done():
                # The app called loop.stop(): a server's loop is not the app's to
                # stop. The run carries on (the deadline holds) and the trace says so.
                self.stopped_by_app = True
                loop.run_forever()
        return task.result()

    def leftovers(self) -> int:
        """How many tasks of the run are still pending; the list starts over."""
        tasks, self.tasks = self.tasks, []
        return len([task for task in tasks if not task.done()])


_main_loop: _OwnLoop | None = None


def _run_here(make_coro, timeout: float, trace: Trace | None = None) -> sandbox.Outcome:
    """Run the coroutine on a loop of our own, on this thread, under the sandbox's deadline.
    The main thread keeps its loop between runs (making one costs more than a run)."""
    global _main_loop
    main = threading.get_ident() == _MAIN_IDENT
    own = _main_loop if main else None
    if own is None or own.loop.is_closed():
        own = _OwnLoop()
    loop = own.loop
    outcome = sandbox.call(lambda: own.run(make_coro()), timeout)
    if own.stopped_by_app:
        own.stopped_by_app = False
        if trace is not None:
            trace.add("server", "note", "the app called loop.stop(); the loop belongs to "
                      "the server, which carried on", "ASGI spec §Applications", target="app")
    left = own.leftovers()
    if left and not (outcome.timed_out or outcome.stuck):
        # Tasks the app started and left running would wake up in the next,
        # unrelated run on this loop: nothing of a run may outlive it.
        _cancel_all(loop)
        if trace is not None:
            trace.add("server", "note", f"{left} task(s) the app started were still running "
                      "after it returned; the lab cancelled them", "ASGI spec §Applications",
                      target="app")
        own.tasks = []
    if outcome.timed_out or outcome.stuck:
        # The loop was interrupted mid-step: its state is not to be trusted again.
        if not loop.is_running():
            _cancel_all(loop)
            loop.close()
        own = None
    if main:
        _main_loop = own
    elif own is not None:
        loop.close()
    return outcome


def _cancel_all(loop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        try:
            loop.run_until_complete(asyncio.wait(tasks, timeout=GRACE))
        except BaseException:  # noqa: BLE001 - a task that will not die is abandoned
            pass


class _LoopThread(threading.Thread):
    """The lab's own event loop, on its own thread, for callers that already run a loop.

    It exits after IDLE_EXIT seconds without work, so nothing lingers, and it is
    replaced when an app blocks it past its deadline.
    """

    lock = threading.Lock()
    current: _LoopThread | None = None

    def __init__(self):
        super().__init__(name="gateway-lab-loop", daemon=True)
        self.loop = _new_loop()
        self.busy = 0
        self.last = _clock()
        self.closing = False
        self.lab_idle = True  # read by sandbox.lab_threads()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_later(IDLE_EXIT, self._idle_check)
        try:
            self.loop.run_forever()
        except BaseException:  # noqa: BLE001 - a Stopped that landed outside an app
            pass
        finally:
            with _LoopThread.lock:
                self.closing = True
                if _LoopThread.current is self:
                    _LoopThread.current = None
            _cancel_all(self.loop)
            self.loop.close()

    def _idle_check(self) -> None:
        with _LoopThread.lock:
            if self.busy == 0 and _clock() - self.last >= IDLE_EXIT:
                self.closing = True
                if _LoopThread.current is self:
                    _LoopThread.current = None
                self.loop.stop()
                return
        self.loop.call_later(IDLE_EXIT, self._idle_check)

    @classmethod
    def get(cls) -> _LoopThread:
        with cls.lock:
            thread = cls.current
            if thread is None or thread.closing:
                thread = cls.current = _LoopThread()
                thread.start()
            thread.busy += 1
            thread.lab_idle = False
            return thread

    def done(self) -> None:
        with _LoopThread.lock:
            self.busy -= 1
            self.last = _clock()
            self.lab_idle = self.busy == 0


def _run_on_loop_thread(make_coro, timeout: float) -> sandbox.Outcome:
    if isinstance(threading.current_thread(), _LoopThread):
        raise RuntimeError("run_asgi() was called from inside an app running on the lab's "
                           "loop; use `await gl.run_asgi_async(app, request)` there")
    thread = _LoopThread.get()
    out = sandbox.Outcome()
    future = asyncio.run_coroutine_threadsafe(make_coro(), thread.loop)
    try:
        out.value = future.result(timeout)
    except concurrent.futures.TimeoutError:
        out.timed_out = True
        _unblock(thread, future, out)
    except sandbox.Stopped:
        out.timed_out = True
    except BaseException as error:  # noqa: BLE001
        out.error = error
    finally:
        thread.done()
    return out


def _unblock(thread: _LoopThread, future, out: sandbox.Outcome) -> None:
    """The loop is blocked by an app past its deadline: raise Stopped into it; if it is
    stuck in C (a long time.sleep), abandon the thread and start a fresh one next time."""
    def moved(seconds: float) -> bool:
        try:
            future.result(seconds)
        except concurrent.futures.TimeoutError:
            return False
        except BaseException:  # noqa: BLE001 - Stopped, as intended
            pass
        return True

    if sandbox.stop_thread(thread, moved, GRACE):
        return
    out.stuck = True
    with _LoopThread.lock:
        thread.closing = True
        if _LoopThread.current is thread:
            _LoopThread.current = None
    thread.loop.call_soon_threadsafe(thread.loop.stop)


def _run(make_coro, timeout: float, trace: Trace | None = None) -> sandbox.Outcome:
    if _get_running_loop() is None:
        return _run_here(make_coro, timeout + GRACE, trace)
    return _run_on_loop_thread(make_coro, timeout + GRACE)


# -- timing the app's steps -----------------------------------------------------

class _Watch:
    """The loop watchdog's view of one app: which step it is in, how long it held the loop.

    A coroutine runs between two awaits without giving the loop back; a step
    longer than BLOCKED kept every other request on the loop waiting.
    """

    step_start: float | None = None  # set while the app holds the loop
    blocked = 0.0                    # the longest step so far
    closed = False                   # the run is reported; late steps change nothing

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
        while True:
            start = self.step_start = _clock()
            try:
                yielded = send(value) if error is None else throw(error)
            except StopIteration as stop:
                self._timed(start)
                return stop.value
            except BaseException:
                self._timed(start, stopped=True)
                raise
            self._timed(start)
            if first_wait is not None:
                first_wait()
                first_wait = None
            try:
                value, error = (yield yielded), None
            except BaseException as thrown:  # noqa: BLE001 - cancellation, forwarded
                value, error = None, thrown

    def _timed(self, start: float, stopped: bool = False) -> None:
        self.step_start = None
        took = _clock() - start
        if took > BLOCKED and not self.closed:
            self.found(took, " and was stopped there" if stopped and took >= self.timeout
                       else "")

    def found(self, took: float, how: str = "") -> None:
        self.trace.find("asgi.loop.blocked", seconds=took, how=how)
        self.blocked = max(self.blocked, took)


# -- scopes ------------------------------------------------------------------

def _headers(request: Request) -> list[tuple[bytes, bytes]]:
    # §HTTP Connection Scope: header names lower-cased, order and duplicates kept.
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers]


def connection_scope(request: Request, *, root_path: str = "",
                     state: dict | None = None) -> dict:
    """The scope a server builds for `request`: a WebSocket's for a WebSocket
    handshake (ASGI WebSocket spec §Websocket Connection Scope), else an HTTP
    request's (ASGI HTTP spec §HTTP Connection Scope)."""
    # Built once per request (Request.memo); each run gets a copy whose mutable
    # parts are its own, since apps and middleware add to the scope.
    scope = request.memo(("asgi", root_path), _request_scope, request, root_path).copy()
    scope["asgi"] = ASGI.copy()
    scope["headers"] = scope["headers"].copy()
    scope["extensions"] = {}
    if "subprotocols" in scope:
        scope["subprotocols"] = scope["subprotocols"].copy()
    if state is not None:
        scope["state"] = state.copy()  # Lifespan spec: a shallow copy per request
    return scope


def _request_scope(request: Request, root_path: str) -> dict:
    scope = {
        "type": "http",
        "asgi": ASGI,
        "http_version": request.http_version,
        "method": request.method,
        "scheme": request.scheme,
        # `path` is percent-decoded text, `raw_path` the bytes as sent.
        "path": _unquote(request.path_bytes),
        "raw_path": request.raw_path,
        "query_string": request.query_string.encode("latin-1"),
        "root_path": root_path,
        "headers": _headers(request),
        "client": request.client,
        "server": request.host,
        "extensions": None,
    }
    if request.is_websocket:
        scope["type"] = "websocket"
        scope["scheme"] = "wss" if request.scheme == "https" else "ws"
        del scope["method"]
        offered = request.header("sec-websocket-protocol") or ""
        scope["subprotocols"] = [p.strip() for p in offered.split(",") if p.strip()]
    return scope


def _unquote(raw: bytes) -> str:
    if b"%" not in raw:
        return raw.decode("utf-8", "replace")
    return unquote_to_bytes(raw).decode("utf-8", "replace")


# -- what an app may put in a message (ASGI spec §Events) ---------------------------

_ALLOWED = (bytes, str, int, float, list, dict, bool, type(None), tuple)
_PLAIN = frozenset({bytes, str, int, bool, type(None), list, dict, tuple})  # no float: NaN
_PASSED: dict = {}  # response headers that passed _check_headers -> their str form


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




# -- one run: the connection's state, shared by receive() and send() ---------------

class _Run(_Watch):
    """What every kind of connection keeps: the app, the trace, the deadline; and,
    as a _Watch, how long each of the app's steps held the loop."""

    kind = "http"
    # How a run starts out; an instance sets its own only when one changes.
    error: BaseException | None = None
    returned = None
    timed_out = False
    stuck = False   # timed out inside a C call: its thread was abandoned
    waiting = ""    # what the app was awaiting, for a timeout's message
    timer: asyncio.TimerHandle | None = None  # the deadline, once the app waits

    def __init__(self, app, request: Request, timeout: float, scope: dict, coach=True):
        self.app = app
        self.request = request
        self.timeout = timeout
        self.scope = scope
        self.trace = Trace("asgi", coach)

    async def main(self) -> None:
        """Await the app with a deadline; record how it ended."""
        self.started = _clock()
        try:
            self.returned = await self.steps(self._call(), self._arm)
        except asyncio.CancelledError:
            if not self.timed_out:
                raise
        except (sandbox.Stopped, KeyboardInterrupt):
            raise
        except BaseException as error:  # noqa: BLE001 - learner code may raise anything
            self.error = error
        finally:
            if self.timer is not None:
                self.timer.cancel()
            self.ended()

    def _arm(self) -> None:
        """Set the deadline's timer; called when the app first waits for something
        (an app that answers in one step never needs one)."""
        left = self.timeout - (_clock() - self.started)
        task = asyncio.current_task()
        self.timer = task.get_loop().call_later(left, self._expire, task)

    def _expire(self, task) -> None:
        self.timed_out = True
        task.cancel()

    def _call(self):
        self.trace.record((CALL, now(), None))
        awaitable = self.app(self.scope, self.receive, self.send)
        if type(awaitable) is not types.CoroutineType and not inspect.isawaitable(awaitable):
            raise _NotAsync(type(awaitable).__name__)
        return awaitable

    def ended(self) -> None:
        """Called once the app is done, whatever happened (wakes waiting receives)."""

    def where(self) -> str:
        """What the app was doing when its time ran out, for the timeout's finding."""
        if self.stuck:
            return "it blocked the event loop inside a C call and could not be stopped"
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
            self.trace.find("asgi.app.signature", error=str(error))
            return True
        return isinstance(error, (_Handled, Disconnected))

    def sent_event(self, message) -> str:
        """What every send() does first: check the message is one, and trace it."""
        if not _valid(message, self.trace):
            raise _Handled("invalid message")
        kind = message["type"]
        step = self.sends.get(kind)
        if step is None:  # a type the spec does not have: send() says so next
            step = Step("app", "send", _summary, _spec_of(kind), self.sends_to)
        self.trace.record((step, now(), message))
        return kind


class _NotAsync(Exception):
    pass


class _HTTP(_Run):
    """An HTTP request: the body as http.request events, the response from send()."""

    sends_to = "gateway"
    sends = _sends(sends_to)
    next_chunk = 0
    status: int | None = None
    headers: tuple = ()                    # as the client gets them (Response makes a list)
    length: str | None = None              # the Content-Length among them
    complete = False
    trailers_expected = False
    finished: asyncio.Event | None = None  # set when the response is over
    over = False                           # the app has returned (or failed)
    told_disconnect = False
    noted_case = False

    def __init__(self, app, request, timeout, scope, coach=True):
        super().__init__(app, request, timeout, scope, coach)
        self.chunks = request.chunks or [b""]
        self.body: list[bytes] = []
        self.trailers: list[tuple[str, str]] = []

    # receive(): ASGI HTTP spec §Request - receive event, §Disconnect - receive event
    async def receive(self) -> dict:
        trace = self.trace
        if self.next_chunk < len(self.chunks):
            body = self.chunks[self.next_chunk]
            self.next_chunk += 1
            more = self.next_chunk < len(self.chunks)
            message = {"type": "http.request", "body": body, "more_body": more}
            trace.record((REQUEST_EVENT, now(), message))
            return message
        if self.told_disconnect:
            trace.find("asgi.http.receive_after_disconnect")
        if not (self.complete or self.over):
            # The whole body has arrived; like a real server, the next event is
            # http.disconnect, once the response is over (or the client leaves).
            self.waiting = "waiting in receive() after the whole body had arrived"
            if self.finished is None:
                self.finished = asyncio.Event()
            await self.finished.wait()
            self.waiting = ""
        self.told_disconnect = True
        message = {"type": "http.disconnect"}
        trace.step(DISCONNECT_EVENT, message)
        return message

    # send(): ASGI HTTP spec §Response Start, §Response Body, §Response Trailers
    async def send(self, message) -> None:
        kind = self.sent_event(message)
        if self.over:
            raise Disconnected("the client has gone away")
        if self.complete:
            self.trace.find("asgi.http.after_complete", type=kind)
            return  # uvicorn ignores it too; no need to crash the app
        if kind == "http.response.start":
            self._start(message)
        elif kind == "http.response.body":
            self._body(message)
        elif kind == "http.response.trailers":
            self._trailers(message)
        else:
            self.trace.find("asgi.http.unknown_message", type=kind)
            raise _Handled(f"unknown message type {kind!r}")

    def _start(self, message: dict) -> None:
        trace = self.trace
        if self.status is not None:
            trace.find("asgi.http.start_twice")
            raise _Handled("http.response.start sent twice")
        status = message.get("status")
        if type(status) is not int or not 100 <= status <= 599:
            trace.find("asgi.http.bad_status", value=clip(status))
            raise _Handled("bad status")
        self.headers, self.length = self._check_headers(message.get("headers", ()))
        self.trailers_expected = bool(message.get("trailers", False))
        self.status = status

    def _check_headers(self, headers) -> tuple[tuple, str | None]:
        """The headers as the client gets them (str pairs), once they are checked,
        and the Content-Length among them.

        An app sends the same headers again and again: headers that passed
        with nothing to say are remembered (`_PASSED`) with what the check made
        of them.
        """
        if type(headers) is list:
            try:  # a list of tuples, the usual headers, makes the key as it is
                return _PASSED[tuple(headers)]
            except (KeyError, TypeError):  # not seen yet, or pairs that are lists
                pass
        try:
            pairs = tuple(map(tuple, headers))
        except TypeError:
            self.trace.find("asgi.http.bad_headers", value=clip(headers),
                            problem="it is not a list of pairs")
            raise _Handled("bad headers") from None
        try:
            return _PASSED[pairs]
        except (KeyError, TypeError):  # not seen yet, or not hashable (the check says why)
            pass
        before = len(self.trace)
        out = tuple(self._check_pairs(pairs))  # shared by every run that sends them
        length = next((value for name, value in out if name.lower() == "content-length"), None)
        # Only with the coach on: with it off, a broken rule leaves no finding to see.
        if self.trace.coach and len(self.trace) == before:
            if len(_PASSED) >= 1024:
                _PASSED.clear()  # many distinct responses: keep the memory bounded
            _PASSED[pairs] = (out, length)
        return out, length

    def _check_pairs(self, pairs) -> list[tuple[str, str]]:
        trace, out = self.trace, []
        for pair in pairs:
            if len(pair) != 2:
                trace.find("asgi.http.bad_headers", value=clip(pair),
                           problem="each header must be a [name, value] pair")
                raise _Handled("bad headers")
            name, value = pair
            if not isinstance(name, bytes) or not isinstance(value, bytes):
                bad = value if isinstance(name, bytes) else name
                trace.find("asgi.http.header_not_bytes", name=clip(name),
                           vtype=type(bad).__name__)
                raise _Handled("header not bytes")
            if name != name.lower() and not self.noted_case:
                # The spec asks for lower-case names; servers accept any case (HTTP
                # names are case-insensitive) and Django sends b"Content-Type": a
                # note, not a finding.
                self.noted_case = True
                trace.add("server", "note", f"header name {clip(name)} is not lower-case "
                          "as the spec asks; servers accept it", START_SPEC, target="app")
            if any(c in value for c in b"\r\n\x00") or any(c in name for c in b"\r\n\x00:"):
                trace.find("asgi.http.header_control_chars", name=clip(name))
                continue  # never sent
            out.append((name.decode("latin-1"), value.decode("latin-1")))
        return out

    def _body(self, message: dict) -> None:
        trace = self.trace
        if self.status is None:
            trace.find("asgi.http.body_before_start", type="http.response.body")
            raise _Handled("body before start")
        body = message.get("body", b"")
        if not isinstance(body, (bytes, bytearray, memoryview)):
            trace.find("asgi.http.body_not_bytes", vtype=type(body).__name__)
            raise _Handled("body not bytes")
        if body:
            self.body.append(bytes(body))
        if not message.get("more_body", False) and not self.trailers_expected:
            self._complete()

    def _trailers(self, message: dict) -> None:
        if self.status is None:
            self.trace.find("asgi.http.body_before_start", type="http.response.trailers")
            raise _Handled("trailers before start")
        if not self.trailers_expected:
            self.trace.find("asgi.http.trailers_not_announced")
            raise _Handled("trailers not announced")
        self.trailers.extend((bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                             for k, v in message.get("headers", ()))
        if not message.get("more_trailers", False):
            self._complete()

    def _complete(self) -> None:
        self.complete = True
        if self.finished is not None:
            self.finished.set()

    def ended(self) -> None:
        self.over = True
        if self.finished is not None:
            self.finished.set()

    def response(self) -> Response:
        trace, request = self.trace, self.request
        complete = self.complete
        if self.timed_out:
            trace.find("asgi.app.timeout", actor="server", timeout=self.timeout,
                       where=self.where(),
                       status=504 if self.status is None else "with a cut connection")
            if self.status is not None:
                return self._cut()
            return Response.error(504)
        error = self.error
        if error is not None:
            if not self.explained(error):
                trace.add("server", "log", "".join(traceback.format_exception(error)).rstrip(),
                          "ASGI spec §Error Handling")
                rule = ("asgi.app.raised" if self.status is None else
                        "asgi.app.raised_after_response" if complete else
                        "asgi.app.raised_after_start")
                trace.find(rule, error=describe_error(error))
            if self.status is None:
                return Response.error(500)
            if not complete:
                return self._cut()
            error = None  # the response went out whole; the error was only logged
        if self.returned is not None and error is None:
            trace.find("asgi.app.returned_value", value=clip(self.returned))
        if self.status is None:
            trace.find("asgi.http.no_response")
            return Response.error(500)
        if not complete:
            trace.find("asgi.http.incomplete_response")
            return self._cut()
        body = b"".join(self.body)
        declared = self.length
        if request.method == "HEAD":
            body = b""  # RFC 9110 §9.3.2: no body, and Content-Length is a GET's
        elif declared is not None and declared.strip().isdigit():
            if int(declared) != len(body):
                trace.find("asgi.http.content_length_mismatch", declared=int(declared),
                           actual=len(body))
                complete = len(body) >= int(declared)
                body = body[:int(declared)]
        return Response(self.status, self.headers, body, reason_phrase(self.status), complete,
                        self.trailers)

    def _cut(self) -> Response:
        self.trace.step(CUT)
        return Response(self.status, self.headers, b"".join(self.body),
                        reason=reason_phrase(self.status), complete=False)


class _Handled(Exception):
    """The gateway already recorded why the app failed; raised into the app from send()."""


def _is_call_error(error: TypeError) -> bool:
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    # The TypeError was raised by the call into the app itself, in _Run._call.
    return tb is not None and tb.tb_frame.f_code is _Run._call.__code__


# -- WebSocket -------------------------------------------------------------------

def _is_pause(item) -> bool:
    return isinstance(item, (int, float)) and not isinstance(item, bool)


class _WebSocket(_Run):
    """A WebSocket driven by a scripted client: its messages are `request.messages`,
    str for text frames, bytes for binary ones, a number to pause that many seconds,
    `Close(code)` to hang up.  When the script runs out the client closes normally
    (1000)."""

    kind = "websocket"
    sends_to = "client"
    sends = _sends(sends_to)

    def __init__(self, app, request, timeout, scope, coach=True):
        super().__init__(app, request, timeout, scope, coach)
        self.script = list(request.messages or [])
        self.connected = False   # websocket.connect delivered
        self.state = "connecting"  # -> "accepted" -> "closed"; or "denied"
        self.accept_headers: list[tuple[str, str]] = []
        self.subprotocol = None
        self.sent: list = []
        self.close_code: int | None = None
        self.client_code: int | None = None
        self.early_receives = 0

    async def receive(self) -> dict:
        trace = self.trace
        if not self.connected:
            self.connected = True
            message = {"type": "websocket.connect"}
            trace.add("client", "receive", "websocket.connect (the HTTP upgrade request)",
                      f"{WS} §Connect - receive event", target="app", data=message)
            return message
        if self.state == "connecting":
            trace.find("asgi.ws.receive_before_accept")
            return self._disconnect(1006)
        while self.script and _is_pause(self.script[0]) and self.state == "accepted":
            seconds = self.script.pop(0)
            trace.add("client", "wait", f"the client sends nothing for {seconds:g} s",
                      "RFC 6455 §5 (frames come when the peer sends them)", target="app")
            await asyncio.sleep(seconds)
        if self.state != "accepted" or not self.script:
            return self._disconnect(self.close_code or 1000)
        item = self.script.pop(0)
        if isinstance(item, Close):
            return self._disconnect(item.code, item.reason)
        if isinstance(item, str):
            message = {"type": "websocket.receive", "text": item}
        else:
            message = {"type": "websocket.receive", "bytes": bytes(item)}
        trace.add("client", "receive", f"websocket.receive {clip(item, 40)}",
                  f"{WS} §Receive - receive event", target="app", data=message)
        return message

    def _disconnect(self, code: int, reason: str = "") -> dict:
        if self.client_code is None:
            self.client_code = code
        if self.state == "accepted":
            self.state = "closed"
        message = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self.trace.add("client", "receive", f"websocket.disconnect, code {code}",
                       f"{WS} §Disconnect - receive event", target="app", data=message)
        return message

    async def send(self, message) -> None:
        trace = self.trace
        kind = self.sent_event(message)
        if kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.send":
            self._send(message)
        elif kind == "websocket.close":
            if self.state in ("closed", "denied"):
                trace.find("asgi.ws.after_close", type=kind)
                raise Disconnected("the WebSocket is closed")
            code = message.get("code", 1000)
            if self.state == "connecting":
                # Closing before accepting refuses the handshake: HTTP 403 (§Close).
                self.state = "denied"
                trace.add("server", "response", "403 Forbidden: the handshake was refused",
                          f"{WS} §Close - send event", target="client")
            else:
                self.state = "closed"
                self.close_code = code if isinstance(code, int) else 1000
        else:
            trace.find("asgi.ws.unknown_message", type=kind)
            raise _Handled(f"unknown message type {kind!r}")

    def _accept(self, message: dict) -> None:
        trace = self.trace
        if self.state != "connecting":
            rule = "asgi.ws.accept_twice" if self.state == "accepted" else "asgi.ws.after_close"
            trace.find(rule, type="websocket.accept")
            raise _Handled("accept out of order")
        subprotocol = message.get("subprotocol")
        offered = self.scope["subprotocols"]
        if subprotocol is not None and subprotocol not in offered:
            trace.find("asgi.ws.subprotocol_not_offered", value=subprotocol,
                       offered=offered or "none")
        headers = []
        for name, value in message.get("headers", ()) or ():
            if bytes(name).lower() == b"sec-websocket-protocol":
                trace.find("asgi.ws.protocol_header")
                continue
            headers.append((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")))
        if subprotocol is not None:
            headers.append(("sec-websocket-protocol", str(subprotocol)))
        self.accept_headers, self.subprotocol = headers, subprotocol
        self.state = "accepted"

    def _send(self, message: dict) -> None:
        trace = self.trace
        if self.state == "connecting":
            trace.find("asgi.ws.send_before_accept", type="websocket.send")
            raise _Handled("send before accept")
        if self.state in ("closed", "denied"):
            trace.find("asgi.ws.after_close", type="websocket.send")
            raise Disconnected("the WebSocket is closed")
        text, data = message.get("text"), message.get("bytes")
        if (text is None) == (data is None):
            trace.find("asgi.ws.bad_payload", what="both" if text is not None else "neither")
            raise _Handled("bad payload")
        if text is not None and not isinstance(text, str):
            trace.find("asgi.ws.bad_payload", what=f"'text' of type {type(text).__name__}")
            raise _Handled("bad payload")
        if data is not None and not isinstance(data, (bytes, bytearray)):
            trace.find("asgi.ws.bad_payload", what=f"'bytes' of type {type(data).__name__}")
            raise _Handled("bad payload")
        self.sent.append(text if text is not None else bytes(data))

    def response(self) -> Response:
        trace = self.trace
        if self.timed_out:
            trace.find("asgi.app.timeout", actor="server", timeout=self.timeout,
                       where=self.where(),
                       status="with a closed socket" if self.state == "accepted" else 504)
            if self.state != "accepted" and self.state != "closed":
                return Response.error(504)
            self.close_code = self.close_code or 1011
            return self._switched()
        error = self.error
        if error is not None:
            if not self.explained(error):
                when = "after accepting" if self.state in ("accepted", "closed") else \
                    "before accepting"
                did = ("closed the socket with 1011 (internal error)" if self.state ==
                       "accepted" else "answered the handshake with 500")
                trace.find("asgi.ws.raised", error=describe_error(error), when=when, did=did)
        elif self.returned is not None:
            trace.find("asgi.app.returned_value", value=clip(self.returned))
        if self.state == "denied":
            return Response.error(403)
        if self.state == "connecting":
            if error is None and self.client_code is None:
                trace.find("asgi.ws.no_handshake")
            return Response.error(500)
        if self.close_code is None:
            # The app returned with the socket open (or failed): the server closes it,
            # 1000 after a normal return, 1011 after an error.
            self.close_code = 1011 if error is not None and self.state == "accepted" else \
                (self.client_code or 1000)
        return self._switched()

    def _switched(self) -> Response:
        headers = [("upgrade", "websocket"), ("connection", "Upgrade")] + self.accept_headers
        return Response(101, headers, b"", reason="Switching Protocols")


# -- the public functions ------------------------------------------------------------

def _prepare(app, request, timeout, root_path, state, coach=True):
    if type(request) is not Request:  # None, raw bytes, or not a request at all
        request, refused = accept("asgi", request)
        if refused is not None:
            return None, refused
    scope = connection_scope(request, root_path=root_path, state=state)
    websocket = scope["type"] == "websocket"
    run = (_WebSocket if websocket else _HTTP)(app, request, timeout, scope, coach)
    trace = run.trace
    received(trace, request)
    trace.record((WS_SCOPE if websocket else HTTP_SCOPE, now(), scope))
    if not callable(app):
        trace.find("asgi.app.not_callable", actor="server", type=type(app).__name__)
        return None, _finish(run, Response.error(500))
    return run, None


def _finish(run: _Run, response: Response) -> Exchange:
    trace = run.trace
    if run.kind == "websocket":
        trace.add("server", "response", f"{response.status} {response.reason}".rstrip()
                  + (f", {len(run.sent)} messages, closed with {run.close_code}"
                     if response.status == 101 else ""),
                  "RFC 6455 §4.2.2", target="client", data=response)
        return Exchange("asgi", run.request, response, trace, messages=getattr(run, "sent", []),
                        close_code=run.close_code if response.status == 101 else None)
    return respond("asgi", run.request, trace, response)


def _conclude(run: _Run, outcome: sandbox.Outcome) -> Exchange:
    if outcome.timed_out:
        run.timed_out = True
        run.stuck = outcome.stuck
        if run.step_start is not None and not run.blocked:
            # Still inside one step: the loop has been blocked since it began.
            run.found(_clock() - run.step_start,
                        " and could not be stopped" if outcome.stuck else "")
    elif outcome.error is not None:  # an error of the gateway itself, not of the app
        raise outcome.error
    run.closed = True
    return _finish(run, run.response())


def run_asgi(app, request: Request | bytes | None = None, *, timeout: float = DEFAULT_TIMEOUT,
             root_path: str = "", state: dict | None = None, coach: bool = True) -> Exchange:
    """Run one request (HTTP or a scripted WebSocket) through an ASGI app.

    Works from plain code and from inside a running event loop (a notebook
    cell) alike.  After `timeout` seconds the app is cancelled (504); an app
    that blocks the loop past it is stopped, or its loop abandoned.
    `state` is the lifespan state, shallow-copied into the scope.
    With `coach=False` the app is served the same way, but broken rules are
    not recorded as findings (the benchmark uses it to price the coach).
    """
    run, refused = _prepare(app, request, timeout, root_path, state, coach)
    if refused is not None:
        return refused
    return _conclude(run, _run(run.main, timeout, run.trace))


async def run_asgi_async(app, request: Request | bytes | None = None, *,
                         timeout: float = DEFAULT_TIMEOUT, root_path: str = "",
                         state: dict | None = None, coach: bool = True) -> Exchange:
    """`await` form of run_asgi: the app runs on the caller's own loop, as in a real
    server, so concurrent calls interleave.  The deadline cancels an app that awaits
    too long; an app that blocks the loop is reported, and cannot be stopped here
    (the loop is yours): use run_asgi for code you do not trust."""
    run, refused = _prepare(app, request, timeout, root_path, state, coach)
    if refused is not None:
        return refused
    await run.main()
    return _finish(run, run.response())


# -- lifespan --------------------------------------------------------------------

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


async def _lifespan(app, result: Lifespan, timeout: float, between=None) -> None:
    trace = result.trace
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": dict(ASGI), "state": result.state}
    trace.add("server", "scope", "type='lifespan'", "ASGI Lifespan spec §Scope",
              target="app", data=scope)

    async def receive():
        message = await to_app.get()
        trace.add("server", "receive", message["type"], "ASGI Lifespan spec", target="app",
                  data=message)
        return message

    async def send(message):
        if not _valid(message, trace):
            raise _Handled("invalid message")
        trace.add("app", "send", message["type"], "ASGI Lifespan spec", target="server",
                  data=message)
        await from_app.put(message)

    async def call():
        awaitable = app(scope, receive, send)
        if not inspect.isawaitable(awaitable):
            raise _NotAsync(type(awaitable).__name__)
        await watch.steps(awaitable)

    watch = _Watch(trace, timeout)
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
            error = task.exception()
            if name == "startup" and error is not None and not result.started:
                # §Scope: an app that raises on a lifespan scope does not support it; a
                # server carries on without lifespan (Django does this).
                result.supported = False
                trace.add("server", "note", "the app does not support lifespan "
                          f"({type(error).__name__}); serving without it",
                          "ASGI Lifespan spec §Scope", target="client")
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


def lifespan(app, *, timeout: float = DEFAULT_TIMEOUT) -> Lifespan:
    """Run the lifespan protocol against `app`: startup, then shutdown.

    Returns a Lifespan with `.supported`, `.started`, `.stopped`, `.state` (what
    startup put in scope["state"]) and `.findings`.
    """
    result = Lifespan(Trace("asgi"))
    outcome = _run(lambda: _lifespan(app, result, timeout), timeout * 2)
    if outcome.timed_out:
        result.trace.find("asgi.lifespan.timeout", phase="startup" if not result.started
                          else "shutdown", timeout=timeout)
    elif outcome.error is not None:
        raise outcome.error
    return result
