"""Servers that use the freedoms the specs give them, as different real servers do.

An app that works on one server can break on another that is just as
correct.  The checks play these servers, so a solution is tested against
what the spec allows, not only against what the lab's own gateway happens to
do:

WSGI (PEP 3333 §environ Variables, §Input and Error Streams)
* QUERY_STRING, CONTENT_TYPE and CONTENT_LENGTH "may be empty or absent";
* wsgi.input need not end at CONTENT_LENGTH: Python's own wsgiref server
  hands the app the socket, where a read past the body waits for bytes the
  client will never send (a client waits for the answer; it does not close);
* a client may go away before the first chunk, and the server then calls the
  iterable's close() without iterating it (§Specification Details).

ASGI (HTTP and WebSocket specs)
* `body` and `more_body` of http.request are optional (defaults b"" and
  False), and a server may leave them out;
* a body may come in any number of http.request messages, even a byte each;
* a client may leave at any time: receive() then gives http.disconnect, and
  send() raises an OSError subclass (spec 2.4: hypercorn, the lab) or returns
  without a word (uvicorn's HTTP send does): an app must notice the
  disconnect from receive(), not wait for send() to fail;
* websocket.receive may carry both "text" and "bytes", one of them None.

CGI (RFC 3875 §4.2): the server need not send end-of-file after the body.

Each function here wraps an app, or plays one request, and records what it did
so a check can say exactly what was sent.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

PEP_ENVIRON = "PEP 3333 §environ Variables"
PEP_INPUT = "PEP 3333 §Input and Error Streams"
PEP_CLOSE = "PEP 3333 §Specification Details"
ASGI_REQUEST = "ASGI HTTP spec §Request - receive event"
ASGI_DISCONNECT = "ASGI HTTP spec §Disconnect - receive event"
ASGI_BODY = "ASGI HTTP spec §Response Body - send event"


# -- WSGI --------------------------------------------------------------------------------

def without(app, *names: str, only_if_empty: bool = True):
    """A WSGI server that leaves `names` out of the environ (when empty, by default):
    PEP 3333 says QUERY_STRING, CONTENT_TYPE and CONTENT_LENGTH "may be empty or absent"."""
    def server(environ, start_response):
        for name in names:
            if not only_if_empty or not environ.get(name):
                environ.pop(name, None)
        return app(environ, start_response)
    return server


def empty(app, *names: str):
    """A WSGI server that sets `names` to "" when the request has none of them (a body-less
    request's CONTENT_LENGTH, say): "may be empty or absent" again."""
    def server(environ, start_response):
        for name in names:
            if not environ.get(name):
                environ[name] = ""
        return app(environ, start_response)
    return server


class NoEOFInput:
    """wsgi.input as a socket gives it: the body's CONTENT_LENGTH bytes, then no end-of-file.

    A read that would wait for more bytes (read() with no size, read(n) or
    readline() past the body) does not wait here: it is noted in `stalled`
    and returns what there is, so the check can say what would have hung.
    """

    def __init__(self, body: bytes):
        self._body, self._pos = body, 0
        self.stalled: list[str] = []

    def _stall(self, how: str) -> None:
        left = len(self._body) - self._pos
        self.stalled.append(f"{how} with {left} of {len(self._body)} bytes left")

    def read(self, size=-1) -> bytes:
        left = len(self._body) - self._pos
        if size is None or size < 0:
            self._stall("read() with no size")
            size = left
        elif size > left:
            self._stall(f"read({size})")
        data = self._body[self._pos:self._pos + size]
        self._pos += len(data)
        return data

    def readline(self, size=-1) -> bytes:
        rest = self._body[self._pos:]
        end = rest.find(b"\n") + 1
        if not end:
            # No newline: readline(size) with size <= what is left returns size bytes
            # without waiting; only a read that wants more would wait on a socket.
            if size is None or size < 0 or size > len(rest):
                self._stall("readline() finding no newline")
            end = len(rest)
        if size is not None and 0 <= size < end:
            end = size
        self._pos += end
        return rest[:end]

    def readlines(self, hint=-1) -> list[bytes]:
        lines = []
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)

    def __iter__(self):
        return iter(self.readlines())


def no_eof(app, streams: list):
    """A WSGI server like wsgiref's simple_server: wsgi.input is the connection, with no
    end-of-file after CONTENT_LENGTH bytes.  Each request's NoEOFInput goes to `streams`."""
    def server(environ, start_response):
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length) if length.isdigit() else 0)
        stream = NoEOFInput(body)
        streams.append(stream)
        environ["wsgi.input"] = stream
        return app(environ, start_response)
    return server


def stalled_problem(streams: list) -> str | None:
    """None, or what the app asked wsgi.input for that would have waited forever."""
    stalls = [s for stream in streams for s in stream.stalled]
    if not stalls:
        return None
    return (f"your app called wsgi.input.{stalls[0]}: on a server whose wsgi.input is the "
            "connection (Python's wsgiref is one), that read waits for bytes the client "
            "never sends, until the connection times out")


def serve_partly(app, environ: dict, chunks: int = 0):
    """A server whose client leaves after `chunks` chunks (0: before the first one): it
    takes that many, then calls close() on the iterable without going on (PEP 3333
    §Specification Details).  Returns (chunks taken, whether there was a close(), the
    status the app gave, if it had called start_response by then)."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)
        return lambda data: None

    result = app(environ, start_response)
    taken = []
    try:
        if chunks:
            iterator = iter(result)
            for _ in range(chunks):
                chunk = next(iterator, None)
                if chunk is None:
                    break
                taken.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return taken, close is not None, statuses[-1] if statuses else None


# -- ASGI --------------------------------------------------------------------------------

def bare_messages(app):
    """An ASGI server that leaves out every optional key at its default: `body` when it is
    b"" and `more_body` when it is False (ASGI HTTP spec §Request - receive event)."""
    async def server(scope, receive, send):
        async def bare_receive():
            message = dict(await receive())  # a copy: the trace keeps the original
            if message.get("type") == "http.request":
                if message.get("more_body") is False:
                    del message["more_body"]
                if message.get("body") == b"":
                    del message["body"]
            return message
        await app(scope, bare_receive, send)
    return server


def both_keys(app):
    """An ASGI server whose websocket.receive carries both "text" and "bytes", the one
    not used set to None (ASGI WebSocket spec §Receive: one or both keys may be present)."""
    async def server(scope, receive, send):
        async def full_receive():
            message = dict(await receive())
            if message.get("type") == "websocket.receive":
                message.setdefault("text", None)
                message.setdefault("bytes", None)
            return message
        await app(scope, full_receive, send)
    return server


@dataclass
class Played:
    """What an ASGI app did for one request from a client that may leave early."""

    sent: list = field(default_factory=list)          # messages the app sent, in order
    after_leaving: list = field(default_factory=list)  # messages sent once the client left
    left_at: float | None = None       # time.perf_counter() when the client left
    ended_at: float | None = None      # ... when the app returned (or raised)
    error: BaseException | None = None  # what the app raised, if anything
    still_running: bool = False        # the app had not returned when we stopped waiting
    leftover_tasks: int = 0            # tasks the app started that were still running

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent
                        if m.get("type") == "http.response.body")

    @property
    def body_messages(self) -> list:
        return [m for m in self.sent if m.get("type") == "http.response.body"]

    def took_to_stop(self) -> float | None:
        if self.left_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.left_at)


async def play_http(app, request, *, leave_after_chunks: int | None = None,
                    leave_after_bodies: int | None = None, send_raises: bool = True,
                    linger: float = 0.5, limit: float = 2.0, root_path: str = "",
                    on_send=None) -> Played:
    """Play a server for one HTTP request whose client may leave early.

    The body goes in the request's chunks; with `leave_after_chunks=k` the client
    leaves after k of them (mid-body: the next receive() is http.disconnect); with
    `leave_after_bodies=k` it leaves once it has k http.response.body messages
    (mid-stream).  After that send() raises an OSError subclass (spec 2.4), or with
    `send_raises=False` returns quietly, as uvicorn's does.  The app then has
    `linger` seconds to return; the whole run at most `limit`.  `on_send(message)`,
    if given, sees every message the app sends while the client is there.
    """
    import asyncio

    from ..asgi import Disconnected, connection_scope

    played = Played()
    scope = connection_scope(request, root_path=root_path)
    chunks = list(request.chunks) or [b""]
    given = 0
    gone = asyncio.Event()     # the client has left (or the response is over)
    complete = False

    def leave() -> None:
        if played.left_at is None:
            played.left_at = time.perf_counter()
        gone.set()

    async def receive():
        nonlocal given
        if given < len(chunks) and (leave_after_chunks is None or given < leave_after_chunks):
            given += 1
            return {"type": "http.request", "body": chunks[given - 1],
                    "more_body": given < len(chunks)}
        if leave_after_chunks is not None and given >= leave_after_chunks:
            leave()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal complete
        if gone.is_set() and played.left_at is not None:
            played.after_leaving.append(message)
            if send_raises:
                raise Disconnected("the client has gone away")
            return
        played.sent.append(message)
        if on_send is not None:
            on_send(message)
        if message.get("type") == "http.response.body":
            if not message.get("more_body", False):
                complete = True
                gone.set()  # the response is over: the next receive() is http.disconnect
            elif (leave_after_bodies is not None
                  and len(played.body_messages) >= leave_after_bodies):
                leave()

    before = set(asyncio.all_tasks())
    task = asyncio.ensure_future(app(scope, receive, send))
    start = time.perf_counter()
    while not task.done():
        wait = limit - (time.perf_counter() - start)
        if played.left_at is not None:
            wait = min(wait, played.left_at + linger - time.perf_counter())
        if wait <= 0:
            break
        await asyncio.wait({task}, timeout=min(wait, 0.02))
    if task.done():
        played.ended_at = time.perf_counter()
        if not task.cancelled() and task.exception() is not None:
            played.error = task.exception()
    else:
        played.still_running = True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() - before - {asyncio.current_task(), task}
              if not t.done()]
    played.leftover_tasks = len(others)
    for t in others:
        t.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    return played


# -- CGI ---------------------------------------------------------------------------------

def no_eof_interpreter() -> list[str]:
    """The interpreter for run_cgi(..., interpreter=...) that runs a .py CGI script with a
    stdin that gives CONTENT_LENGTH bytes and then no end-of-file (RFC 3875 §4.2)."""
    return [sys.executable, os.path.join(os.path.dirname(__file__), "_no_eof.py")]


NO_EOF_MARK = "gateway-lab: the script read stdin past CONTENT_LENGTH"


def cgi_stalled(ex) -> str | None:
    """None, or what a script run with no_eof_interpreter() asked stdin for in vain."""
    for event in ex.trace.events:
        if event.kind == "stderr" and NO_EOF_MARK in str(event.detail):
            how = str(event.detail).split(":", 2)[-1].strip()
            return (f"your script {how}: this server sends CONTENT_LENGTH bytes and no "
                    "end-of-file (RFC 3875 §4.2 does not promise one), so that read waits "
                    "until the server's timeout kills the script")
    return None

