"""An ASGI HTTP connection (ASGI HTTP spec, "www" 2.x): one request, one response.

The state machine, as the server enforces it:

    receive():  http.request {body, more_body}  ... until more_body is False,
                then (once the response is over, or the client left) http.disconnect.
                'body' and 'more_body' may be left out by a server: b"" and False.
    send():     http.response.start {status, headers, trailers}   exactly once, first
                http.response.body {body, more_body}               one or more
                http.response.trailers {headers, more_trailers}    only if announced
                The response is complete when a body (or the last trailers) says no more.

* A status is an int from 100 to 599; headers are [bytes, bytes] pairs, names
  lower-case (servers accept any case); a body is bytes (§Response Start, §Response
  Body).  CR, LF or NUL in a header is never sent (response splitting).
* A message out of order makes send() raise; a message after the response is
  complete is ignored, as uvicorn does, and reported.
* If the app raises before http.response.start the client gets a 500; after it, the
  server can only close the connection (§Error Handling).
* After `timeout` seconds the server gives up: 504 if nothing was sent by then, a cut
  connection if the response was under way.
"""

from __future__ import annotations

import asyncio
import re

from ..exchange import Response, reason_phrase
from ..findings import clip, describe_error, format_error
from ..limits import (
    MAX_BODY,
    TRACE_CLIP,
    declared_length,
    kept,
    length_problem,
    length_text,
)
from ..trace import Step, now
from .connection import (
    START_SPEC,
    WWW,
    Connection,
    _clock,
    _Handled,
    _scope_line,
    _scope_shown,
    _sends,
)

SCOPE = Step("server", "scope", _scope_line, f"{WWW} §HTTP Connection Scope", "gateway",
             shown=_scope_shown)


def _body_line(recorded: tuple) -> str:
    body, more = recorded
    return f"http.request, {len(body)} bytes, more_body={more}"


def _body_shown(recorded: tuple) -> dict:
    return {"type": "http.request", "body": recorded[0], "more_body": recorded[1]}


REQUEST_EVENT = Step("gateway", "receive", _body_line, f"{WWW} §Request - receive event",
                     "app", shown=_body_shown)
DISCONNECT_EVENT = Step("gateway", "receive", "http.disconnect",
                        f"{WWW} §Disconnect - receive event", "app",
                        shown=lambda _: {"type": "http.disconnect"})
CUT = Step("server", "close connection", "response cut short", "ASGI spec §Error Handling",
           "client")


# Bytes that would end a header line early (response splitting).
_SPLITS_VALUE = re.compile(rb"[\r\n\x00]")
_SPLITS_NAME = _SPLITS_VALUE
# RFC 9110 §5.1: field-name = token, 1*tchar (§5.6.2); h11 refuses any other name
# ("Illegal header name"), the same check WSGI's start_response makes (wsgi._TOKEN).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What the checks make of a header name (exact bytes): its text, or None if it could
# split the response; whether it is lower-case; whether it is Content-Length; whether it
# is a token.  A pure function of the name, remembered for the names seen (bounded).
_NAMES: dict[bytes, tuple] = {}


def _name_info(name: bytes) -> tuple:
    info = (None if _SPLITS_NAME.search(name) else name.decode("latin-1"),
            name == name.lower(), name.lower() == b"content-length",
            _TOKEN.fullmatch(name) is not None)
    if len(_NAMES) < 4096:
        _NAMES[name] = info
    return info


class HTTPConnection(Connection):
    """An HTTP request: the body as http.request events, the response from send()."""

    sends_to = "gateway"
    sends = _sends(sends_to)
    next_chunk = 0
    status: int | None = None
    headers: tuple = ()                    # as the client gets them (Response makes a list)
    length: str | None = None              # the Content-Length among them
    complete = False
    start_at: float | None = None          # when http.response.start went out
    complete_at: float | None = None       # when the response was complete
    trailers_expected = False
    finished: asyncio.Event | None = None  # set when the response is over
    over = False                           # the app has returned (or failed)
    told_disconnect = False
    size = 0                               # body bytes taken so far ...
    max_body = MAX_BODY                    # ... and at most (limits.py)

    def __init__(self, app, request, timeout, scope, coach=True):
        super().__init__(app, request, timeout, scope, coach)
        self.chunks = request.chunks or (b"",)
        self.body: list[bytes] = []
        self.trailers: list[tuple[str, str]] = []

    # receive(): ASGI HTTP spec §Request - receive event, §Disconnect - receive event
    async def receive(self) -> dict:
        self.checkpoint()
        trace = self.trace
        if self.next_chunk < len(self.chunks):
            body = self.chunks[self.next_chunk]
            self.next_chunk += 1
            more = self.next_chunk < len(self.chunks)
            trace.record((REQUEST_EVENT, now(), (body, more)))
            return {"type": "http.request", "body": body, "more_body": more}
        if self.told_disconnect:
            if await self.again("asgi.http.receive_after_disconnect"):
                trace.step(DISCONNECT_EVENT)
            return {"type": "http.disconnect"}
        if not (self.complete or self.over):
            # The whole body has arrived; like a real server, the next event is
            # http.disconnect, once the response is over (or the client leaves).
            self.waiting = "waiting in receive() after the whole body had arrived"
            if self.finished is None:
                self.finished = asyncio.Event()
            await self.finished.wait()
            self.waiting = ""
        self.told_disconnect = True
        trace.step(DISCONNECT_EVENT)
        return {"type": "http.disconnect"}

    # send(): ASGI HTTP spec §Response Start, §Response Body, §Response Trailers
    async def send(self, message) -> None:
        kind = self.sent_event(message)
        if self.over:
            raise self.disconnected("the client has gone away")
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
        if type(status) is not int or not 200 <= status <= 599:
            if type(status) is int and 100 <= status <= 199:
                # RFC 9110 §15.2: interim, never the final response (h11 refuses a
                # 1xx Response: uvicorn cannot send it either).
                trace.find("asgi.http.informational_status", status=status)
                raise _Handled("1xx status")
            trace.find("asgi.http.bad_status", value=clip(status))
            raise _Handled("bad status")
        self.headers, self.length = check_headers(self, message.get("headers", ()))
        self.trailers_expected = bool(message.get("trailers", False))
        self.status = status
        self.start_at = _clock()

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
            self.size = size = self.size + len(body)
            if size > TRACE_CLIP:
                self._clip_recorded(size - len(body))
            if size > self.max_body:
                # The server stops taking chunks (limits.py); the status line went out
                # with http.response.start, so the client gets a cut connection.
                trace.find("asgi.http.body_too_large", actor="server", limit=self.max_body,
                           size=size)
                raise _Handled("response body too large")
            self.body.append(bytes(body))
        if not message.get("more_body", False) and not self.trailers_expected:
            self._complete()

    def _clip_recorded(self, before: int) -> None:
        """A trace keeps the first TRACE_CLIP bytes of a body (limits.py): the send
        step just recorded (sent_event) keeps this body's clip, not the whole of it."""
        steps = self.trace._steps
        if steps and steps[-1][0] is self.sends["http.response.body"]:
            step, t, shown = steps[-1]
            shown = dict(shown)
            shown["body"] = kept(bytes(shown["body"]), before)
            steps[-1] = (step, t, type(steps[-1][2])(shown))

    def _trailers(self, message: dict) -> None:
        if self.status is None:
            self.trace.find("asgi.http.body_before_start", type="http.response.trailers")
            raise _Handled("trailers before start")
        if not self.trailers_expected:
            self.trace.find("asgi.http.trailers_not_announced")
            raise _Handled("trailers not announced")
        # Trailers are header fields like any others (§Response Trailers): the same
        # checks, and CR or LF in one is never sent.
        self.trailers.extend(check_headers(self, message.get("headers", ()),
                                           "http.response.trailers")[0])
        if not message.get("more_trailers", False):
            self._complete()

    def _complete(self) -> None:
        self.complete = True
        self.complete_at = _clock()
        if self.finished is not None:
            self.finished.set()

    def ended(self) -> None:
        self.over = True
        if self.finished is not None:
            self.finished.set()

    # -- what the client gets ----------------------------------------------------------
    def response(self) -> Response:
        if self.overran():
            return self._timed_out()
        trace = self.trace
        complete = self.complete
        error = self.error
        if error is not None:
            if not self.explained(error):
                trace.add("server", "log", format_error(error), "ASGI spec §Error Handling")
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
        return self._whole()

    def _timed_out(self) -> Response:
        """The deadline passed with the app still running (see `Connection.overran`)."""
        if self.late(self.start_at):
            status = 504
        elif self.late(self.complete_at):
            status = "with a cut connection"
        else:
            status = "nothing more: the response had gone out whole before the deadline"
        self.trace.find("asgi.app.timeout", actor="server", timeout=self.timeout,
                        where=self.where(), status=status)
        if status == 504:
            return Response.error(504)
        if self.late(self.complete_at):
            return self._cut()
        return self._whole()

    def _whole(self) -> Response:
        body = b"".join(self.body)
        declared = self.length
        complete = True
        if self.request.method == "HEAD":
            body = b""  # RFC 9110 §9.3.2: no body, and Content-Length is a GET's
        elif self.status in (204, 304) or self.status < 200:
            if body:  # RFC 9112 §6.3: the response ends with its headers
                self.trace.find("asgi.http.body_not_allowed", status=self.status,
                                size=len(body))
                body = b""
        elif declared is not None:
            n = declared_length(declared)
            if n is not None and n != len(body):
                self.trace.find("asgi.http.content_length_mismatch",
                                declared=length_text(declared), actual=len(body))
                complete = len(body) >= n
                body = body[:n]
        return Response(self.status, self.headers, body, reason_phrase(self.status), complete,
                        self.trailers)

    def _cut(self) -> Response:
        self.trace.step(CUT)
        return Response(self.status, self.headers, b"".join(self.body),
                        reason=reason_phrase(self.status), complete=False)


def check_headers(connection, headers, kind: str = "http.response.start"
                  ) -> tuple[tuple, str | None]:
    """The headers as the client gets them (str pairs), once they are checked, and the
    Content-Length among them: a response's, its trailers' and a WebSocket accept's
    alike (§Response Start, §Response Trailers, WebSocket §Accept: [bytes, bytes]
    pairs), `kind` says which.  `connection` notes a name that is not lower-case, once."""
    trace, out, length, lengths = connection.trace, [], None, None
    if headers.__class__ is not list and headers.__class__ is not tuple:
        try:
            headers = list(headers)
        except TypeError:
            trace.find("asgi.http.bad_headers", type=kind, value=clip(headers),
                       problem="it is not a list of pairs")
            raise _Handled("bad headers") from None
    for pair in headers:
        try:
            name, value = pair
        except (TypeError, ValueError):
            trace.find("asgi.http.bad_headers", type=kind, value=clip(pair),
                       problem="each header must be a [name, value] pair")
            raise _Handled("bad headers") from None
        # Exactly bytes (§HTTP Connection Scope: "byte strings"): a memoryview or
        # bytearray compares equal to bytes, but is not what the spec allows.
        if name.__class__ is not bytes or value.__class__ is not bytes:
            bad = value if name.__class__ is bytes else name
            trace.find("asgi.http.header_not_bytes", name=clip(name),
                       vtype=type(bad).__name__)
            raise _Handled("header not bytes")
        known = _NAMES.get(name)
        if known is None:
            known = _name_info(name)
        text, lower, is_length, token = known
        if not lower and not connection.noted_case:
            # The spec asks for lower-case names; servers accept any case (HTTP
            # names are case-insensitive) and Django sends b"Content-Type": a
            # note, not a finding.
            connection.noted_case = True
            trace.add("server", "note", f"header name {clip(name)} is not lower-case "
                      "as the spec asks; servers accept it", START_SPEC, target="app")
        if text is None or _SPLITS_VALUE.search(value):
            trace.find("asgi.http.header_control_chars", name=clip(name))
            continue  # never sent
        if not token:
            trace.find("asgi.http.bad_header_name", type=kind, name=clip(name))
            raise _Handled("header name not a token")
        value = value.decode("latin-1")
        if is_length:
            if length is None:
                length = value
            else:
                lengths = (lengths or [length]) + [value]
        out.append((text, value))
    if length is not None and kind == "http.response.start" and (
            lengths is not None or not (length.isascii() and length.isdigit())):
        problem = length_problem(lengths or [length])
        if problem is not None:
            trace.find("asgi.http.content_length_invalid", problem=problem)
            raise _Handled("invalid Content-Length")
    return tuple(out), length
