"""What a gateway hands back: the Response the client saw, and the Exchange
that bundles it with the request, the trace and the findings."""

from __future__ import annotations

import json as _json
from http import HTTPStatus

from .request import Request
from .trace import Step, Trace, now

_REASONS = {s.value: s.phrase for s in HTTPStatus}


def reason_phrase(status: int) -> str:
    """'Not Found' for 404 (RFC 9110 §15); '' for a code it does not name."""
    return _REASONS.get(status, "")


class Response:
    """What the client received.

    `complete` is False when the server had to cut the response short (the app
    failed after the status line was sent): a real client sees a closed
    connection, not a 500.
    """

    __slots__ = ("status", "headers", "body", "reason", "complete", "trailers")

    # The gateways' busiest paths pass every argument by position: a class call
    # with keywords builds a dict for them, and an exercise check makes thousands.
    def __init__(self, status: int, headers=(), body: bytes = b"", reason: str = "",
                 complete: bool = True, trailers=()):
        self.status = status
        self.headers: list[tuple[str, str]] = list(headers) if headers else []
        self.body = body
        self.reason = reason
        self.complete = complete
        self.trailers: list[tuple[str, str]] = list(trailers) if trailers else []

    def _snapshot(self) -> Response:
        """A copy for a trace (trace.snapshot): the Response a gateway returns is the
        caller's to change, and the step that recorded it must not change with it."""
        return Response(self.status, tuple(self.headers), self.body, self.reason,
                        self.complete, tuple(self.trailers))

    @classmethod
    def error(cls, status: int) -> Response:
        """The short plain-text answer a server gives when it cannot give the app's."""
        reason = reason_phrase(status)
        return cls(status, [("Content-Type", "text/plain; charset=utf-8")],
                   f"{status} {reason}\n".encode(), reason=reason)

    def header(self, name: str) -> str | None:
        name = name.lower()
        values = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(values) if values else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return _json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class Exchange:
    """One request through one gateway: request, response, trace, findings.

    For a WebSocket, `messages` lists what the app sent after accepting, as
    str (text frames) and bytes (binary frames), and `close_code` the code of
    the close frame.
    """

    __slots__ = ("interface", "request", "response", "trace", "messages", "close_code")

    def __init__(self, interface: str, request: Request | None, response: Response,
                 trace: Trace, messages=None, close_code: int | None = None):
        self.interface = interface
        self.request = request
        self.response = response
        self.trace = trace
        self.messages = messages if messages is not None else []
        self.close_code = close_code

    @property
    def findings(self):
        return self.trace.findings

    @property
    def ok(self) -> bool:
        """True when no rule was broken."""
        return not self.trace.findings

    def to_dict(self) -> dict:
        r = self.response
        out = {
            "interface": self.interface,
            "request": None if self.request is None else {
                "method": self.request.method, "target": self.request.target,
                "headers": self.request.headers,
                "body": self.request.body.decode("utf-8", "replace"),
            },
            "response": {"status": r.status, "reason": r.reason, "headers": r.headers,
                         "body": r.body.decode("utf-8", "replace"), "complete": r.complete},
            "trace": [e.to_dict() for e in self.trace.events],
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.request is not None and self.request.is_websocket:
            out["messages"] = [m if isinstance(m, str) else m.decode("latin-1")
                               for m in self.messages]
            out["close_code"] = self.close_code
        return out

    def __repr__(self) -> str:
        return (f"<Exchange {self.interface} {self.response.status} "
                f"events={len(self.trace)} findings={len(self.findings)}>")

    def __str__(self) -> str:
        from .render import exchange_text

        return exchange_text(self)

    def _repr_html_(self) -> str:
        from .render import exchange_html

        return exchange_html(self)


def _request_line(parts) -> str:
    return f"{parts.method} {parts.target}"


def _response_line(parts: tuple) -> str:
    """'200 OK, 13 bytes': the response event's detail, made when the trace is read."""
    status, _, body, reason, complete, _ = parts
    return (f"{status} {reason}".rstrip() + f", {len(body)} bytes"
            + ("" if complete else " (cut)"))


def _response_shown(parts: tuple) -> Response:
    return Response(*parts)


# The first and the last step of every gateway, whatever the interface.  The
# request is recorded as its immutable parts, the response as a tuple of its
# fields as sent; a view gets a Request / Response of its own, made from them.
REQUEST = Step("client", "request", _request_line, "RFC 9112 §3", "server",
               shown=Request.from_parts)
RESPONSE = Step("server", "response", _response_line, "RFC 9112 §4", "client",
                shown=_response_shown)


def received(trace: Trace, request: Request) -> None:
    """The first step of every gateway: the request arrives from the client, and
    the trace starts with it."""
    parts = request.parts
    trace.record((REQUEST, trace.t0, parts))
    if not parts.framed and parts.body:
        declared = request.header("content-length")
        if declared is not None and declared.isascii() and declared.isdigit() \
                and int(declared) != len(parts.body):
            # A Content-Length set by hand that the body does not match: a real server
            # reads exactly that many bytes (RFC 9112 §6.3), so the app sees a cut
            # body, or the server waits for bytes that never come.
            trace.find("http.content_length.body_mismatch", actor="client",
                       declared=int(declared), actual=len(parts.body))


def respond(interface: str, request: Request | None, trace: Trace, response: Response
            ) -> Exchange:
    """The last step of every gateway: the response goes to the client."""
    r = response
    # In Response()'s own order, so a view remakes it with Response(*recorded).
    trace.record((RESPONSE, now(), (r.status, tuple(r.headers), r.body, r.reason, r.complete,
                                    tuple(r.trailers))))
    return Exchange(interface, request, response, trace)


def accept(interface: str, request) -> tuple[Request | None, Exchange | None]:
    """What a server does first: take the request, or refuse it.

    A gateway may be handed raw bytes instead of a Request; bytes that no server
    may accept (smuggling, bad headers, an oversized head) never reach the app:
    the client gets 400/431/501 and the trace a finding on the server side.
    """
    if request is None:
        return Request(), None
    if isinstance(request, Request):
        return request, None
    if not isinstance(request, (bytes, bytearray)):
        raise TypeError(f"expected a gateway_lab.Request or raw bytes, got "
                        f"{type(request).__name__}")
    from .request import BadRequest

    try:
        return Request.parse(bytes(request)), None
    except BadRequest as error:
        trace = Trace(interface)
        first = bytes(request).split(b"\n", 1)[0][:80].decode("latin-1").strip()
        trace.add("client", "request", first or "(empty)", "RFC 9112 §2", target="server")
        # The request broke the rule, not the app (which never runs): the finding
        # sits on the client's side of the picture.
        trace.find(error.rule, actor="client", detail=str(error))
        reason = reason_phrase(error.status)
        body = f"{error.status} {reason}: {error}\n".encode()
        response = Response(error.status, [("Content-Type", "text/plain; charset=utf-8"),
                                           ("Connection", "close")], body, reason=reason)
        trace.add("server", "response", f"{error.status} {reason}, connection closed",
                  "RFC 9112 §9.6", target="client", data=response)
        return None, Exchange(interface, None, response, trace)
