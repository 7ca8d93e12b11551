"""The ASGI gateway: a Request in, an app awaited, an Exchange out.

`run_asgi` is for plain code and notebook cells (the app runs on a loop of the
lab's own, `loops.py`); `run_asgi_async` is awaited on the caller's own loop,
where concurrent calls interleave as they would in a real server.  Both build
the scope, pick the connection's state machine (`http.py` or `websocket.py`)
and turn how the app went into the Response the client saw.
"""

from __future__ import annotations

import threading

from .. import process_state
from ..exchange import Exchange, Response, accept, received, respond
from ..leftovers import _counts
from ..leftovers import report as report_leftovers
from ..limits import MAX_BODY, check_max_body
from ..process_state import report as report_changes
from ..request import Request
from ..stoppable import plain, swallowers
from ..trace import now
from . import http, websocket
from .connection import DEFAULT_TIMEOUT, GRACE, Connection, _clock, _scope_for
from .loops import run_sync


def _prepare(app, request, timeout, root_path, state, coach=True):
    if type(request) is not Request:  # None, raw bytes, or not a request at all
        request, refused = accept("asgi", request)
        if refused is not None:
            return None, refused
    scope, shown = _scope_for(request, root_path, state)
    kind = websocket if scope["type"] == "websocket" else http
    connection = (websocket.WebSocketConnection if kind is websocket else
                  http.HTTPConnection)(app, request, timeout, scope, coach)
    trace = connection.trace
    received(trace, request)
    trace.record((kind.SCOPE, now(), shown))
    if not callable(app):
        trace.find("asgi.app.not_callable", actor="server", type=type(app).__name__)
        return None, _finish(connection, Response.error(500))
    return connection, None


def _finish(connection: Connection, response: Response) -> Exchange:
    trace = connection.trace
    if connection.kind != "websocket":
        return respond("asgi", connection.request, trace, response)
    if response.status == 101:
        # The 101 went out at websocket.accept; what ends now is the connection.
        trace.add("server", "close", connection.closing_line(), "RFC 6455 §7",
                  target="client")
    elif connection.state != "denied":  # a 403 went out at websocket.close, once
        trace.add("server", "response", f"{response.status} {response.reason}".rstrip(),
                  "RFC 6455 §4.2.2", target="client", data=response)
    return Exchange("asgi", connection.request, response, trace, messages=connection.sent,
                    close_code=connection.close_code if response.status == 101 else None)


def _conclude(connection: Connection, outcome) -> Exchange:
    if outcome.left is not None:
        report_leftovers(connection.trace, outcome.left)
    if outcome.changed:
        report_changes(connection.trace, outcome.changed, "asgi")
    if outcome.timed_out:
        connection.timed_out = True
        connection.stuck = outcome.stuck
        if connection.step_start is not None and not connection.reported:
            # Still inside one step: the loop has been blocked since its last checkpoint.
            connection.found(_clock() - connection.mark,
                             f" and could not be stopped {outcome.why}" if outcome.stuck else
                             " and was stopped there")
    elif outcome.error is not None:  # an error of the gateway itself, not of the app
        raise outcome.error
    connection.closed = True
    return _finish(connection, connection.response())


def run_asgi(app, request: Request | bytes | None = None, *, timeout: float = DEFAULT_TIMEOUT,
             root_path: str = "", state: dict | None = None, coach: bool = True,
             max_body: int = MAX_BODY, isolate=None) -> Exchange:
    """Run one request (HTTP or a scripted WebSocket) through an ASGI app.

    Works from plain code and from inside a running event loop (a notebook
    cell) alike, on the calling thread (see loops.py).  After `timeout` seconds
    the server gives up (504, or a cut connection once the response started);
    an app that blocks the loop past it is stopped.
    `state` is the lifespan state, shallow-copied into the scope.
    A response body past `max_body` bytes is cut off (limits.py).
    `isolate=True` runs the app in a child process killed at the deadline
    (isolate.py); by default only an app whose code would swallow the stop
    runs there (stoppable.py), and `isolate=False` never.
    With `coach=False` the app is served the same way, but broken rules are
    not recorded as findings (the benchmark uses it to price the coach).
    """
    if isolate is not False and (isolate or (app is not plain.app or plain.changes !=
                                             _counts.code_changes) and swallowers(app)):
        if type(request) is not Request:
            request, refused = accept("asgi", request)
            if refused is not None:
                return refused
        from ..isolate import run_isolated

        return run_isolated("asgi", app, request, timeout, isolate, {
            "root_path": root_path, "state": state, "coach": coach, "max_body": max_body})
    connection, refused = _prepare(app, request, timeout, root_path, state, coach)
    if refused is not None:
        return refused
    if max_body != MAX_BODY and connection.kind == "http":
        connection.max_body = check_max_body(max_body)
    outcome = run_sync(connection.main, timeout + GRACE, connection.trace, watch=True)
    try:
        return _conclude(connection, outcome)
    except MemoryError:  # even with the body bounded, the process may be short of memory
        connection.body = []
        connection.trace.find("asgi.app.out_of_memory", actor="server")
        return _finish(connection, Response.error(500))


async def run_asgi_async(app, request: Request | bytes | None = None, *,
                         timeout: float = DEFAULT_TIMEOUT, root_path: str = "",
                         state: dict | None = None, coach: bool = True) -> Exchange:
    """`await` form of run_asgi: the app runs on the caller's own loop, as in a real
    server, so concurrent calls interleave.  The deadline cancels an app that awaits
    too long; an app that blocks the loop is reported, and cannot be stopped here
    (the loop is yours): use run_asgi for code you do not trust."""
    connection, refused = _prepare(app, request, timeout, root_path, state, coach)
    if refused is not None:
        return refused
    connection.owns_task = False
    before = _alone.enter()
    try:
        await connection.main()
    finally:
        changed = _alone.leave(before)
    if changed:
        report_changes(connection.trace, changed, "asgi")
    connection.closed = True
    return _finish(connection, connection.response())


class _Alone:
    """Awaited runs on the caller's loop interleave: what one changed of the process
    cannot be told from what another did.  A run is watched (process_state.py) when it
    is on the main thread and no other awaited run overlaps it from start to end."""

    def __init__(self):
        self.running = 0   # awaited runs in progress
        self.started = 0   # awaited runs ever started

    def enter(self):
        first = self.running == 0 and _main_thread()
        self.running += 1
        self.started += 1
        return (self.started, process_state.mark()) if first else None

    def leave(self, before) -> tuple:
        self.running -= 1
        if before is None or self.started != before[0]:  # another run began meanwhile
            return ()
        return process_state.look(before[1])


_alone = _Alone()


def _main_thread() -> bool:
    return threading.get_ident() == threading.main_thread().ident
