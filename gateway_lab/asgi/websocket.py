"""An ASGI WebSocket connection (ASGI WebSocket spec, "www" 2.x), with a scripted client.

The state machine, as the server enforces it:

    connecting --receive()--> websocket.connect
    connecting --send(websocket.accept)--> accepted      the server answers 101 now
    connecting --send(websocket.close)---> denied        the server answers 403
    accepted   --send(websocket.send {text | bytes})--> accepted
    accepted   --receive()--> websocket.receive {text | bytes} ... as the client sends
    accepted   --send(websocket.close {code})--> closed
    accepted   --the client closes, or its connection drops--> closed
    closed     --receive()--> websocket.disconnect {code}

* accept once, and before any send; exactly one of 'text' (str) and 'bytes'
  (bytes) per websocket.send; a subprotocol only from scope["subprotocols"], and
  never a sec-websocket-protocol header of the app's own (§Accept, §Send).
* Once the connection is closed, send() raises an OSError subclass
  (`Disconnected`, spec 2.4), and it may do so *before* the app has received the
  websocket.disconnect: the peer can vanish at any moment.  An app that sends to
  several peers guards each send.  Sending after the app itself closed, or after it
  was told of the disconnect, is the app's mistake and is reported.
* A code 1006 disconnect means the connection dropped with no close frame
  (RFC 6455 §7.1.5); the app's close code defaults to 1000; an app that raises
  after accepting gets its socket closed with 1011.

The client is a script (`Request.websocket(path, messages)`), run as a task of
its own from the moment the app accepts: str is a text frame, bytes a binary
frame, a number a pause in seconds, `Close(code)` a close frame, and
`Close(1006)` a client that vanished.  When the script runs out the client
closes with 1000.
"""

from __future__ import annotations

import asyncio

from ..exchange import Response
from ..findings import clip, describe_error
from ..request import Close
from ..trace import Step
from .connection import WS, Connection, _Handled, _scope_line, _scope_shown, _sends
from .http import check_headers

SCOPE = Step("server", "scope", _scope_line, f"{WS} §Websocket Connection Scope", "gateway",
             shown=_scope_shown)
HANDSHAKE = "RFC 6455 §4.2.2"


def _is_pause(item) -> bool:
    return isinstance(item, (int, float)) and not isinstance(item, bool)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# RFC 6455 §7.4.1: the codes it defines, less 1004 (reserved) and 1005, 1006, 1015 (a
# close with no code, a connection lost, a TLS failure: reported locally, never sent);
# 1012-1014 are registered since (IANA's WebSocket Close Code Number Registry).
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                             1013, 1014})


def _bad_close_code(code) -> str | None:
    """Why `code` cannot go in a close frame (ASGI §Close: an int), or None if it can."""
    if type(code) is not int:
        return f"it is a {type(code).__name__}; the spec's code is an int"
    if code in _SENDABLE_CODES or 3000 <= code <= 4999:
        return None
    if code in (1004, 1005, 1006, 1015):
        return ("RFC 6455 §7.4.1 reserves it: 1004 has no meaning yet, and 1005, 1006 and "
                "1015 only report a close without a code, a lost connection or a failed TLS "
                "handshake; none is ever sent")
    if 1000 <= code <= 2999:
        return "RFC 6455 §7.4.2 keeps 1000-2999 for codes the protocol defines, and it is not one"
    return "RFC 6455 §7.4.2 allows only 1000-4999 in a close frame"


class WebSocketConnection(Connection):
    """A WebSocket driven by a scripted client (see the module docstring)."""

    kind = "websocket"
    sends_to = "client"
    sends = _sends(sends_to)

    def __init__(self, app, request, timeout, scope, coach=True):
        super().__init__(app, request, timeout, scope, coach)
        self.script = list(request.messages or ())
        self.connected = False      # websocket.connect delivered
        self.state = "connecting"   # -> "accepted" -> "closed"; or "denied"
        self.app_closed = False     # the app sent websocket.close
        self.told = False           # the app received websocket.disconnect
        self.accept_headers: list[tuple[str, str]] = []
        self.subprotocol = None
        self.sent: list = []
        self.close_code: int | None = None
        self.client_code: int | None = None
        self.inbox: asyncio.Queue | None = None
        self.client: asyncio.Task | None = None

    # -- the client, on its own clock -------------------------------------------------
    async def _client(self) -> None:
        """Walk the script on the client's own clock: frames go into the app's inbox as
        the client sends them (after its pauses)."""
        trace = self.trace
        try:
            while self.state == "accepted":
                item = self.script.pop(0) if self.script else Close(1000)
                if _is_pause(item):
                    trace.add("client", "wait", f"the client sends nothing for {item:g} s",
                              "RFC 6455 §5 (frames come when the peer sends them)",
                              target="server")
                    await asyncio.sleep(item)
                elif isinstance(item, Close):
                    self._client_closed(item)
                    return
                elif isinstance(item, str):
                    self.inbox.put_nowait({"type": "websocket.receive", "text": item})
                else:
                    self.inbox.put_nowait({"type": "websocket.receive", "bytes": bytes(item)})
        except asyncio.CancelledError:
            pass

    def _client_closed(self, close: Close) -> None:
        message = {"type": "websocket.disconnect", "code": close.code, "reason": close.reason}
        if close.code == 1006:
            # The peer vanished: the connection is gone now, whatever the app is doing;
            # its next send() fails, even before it has received the disconnect.
            self.trace.add("client", "connection lost", "the client vanished: no close frame, "
                           "the connection dropped (1006)", "RFC 6455 §7.1.5", target="server")
            self.client_code = 1006
            self.state = "closed"
        else:
            # A close frame queues behind the frames sent before it; the server acts on it
            # when the app reads it (the frames before it are answered first).
            self.trace.add("client", "close frame", f"code {close.code}", "RFC 6455 §5.5.1",
                           target="server")
        self.inbox.put_nowait(message)

    # -- receive(): §Connect, §Receive, §Disconnect - receive event ---------------------
    async def receive(self) -> dict:
        self.checkpoint()
        trace = self.trace
        if not self.connected:
            self.connected = True
            message = {"type": "websocket.connect"}
            trace.add("client", "receive", "websocket.connect (the HTTP upgrade request)",
                      f"{WS} §Connect - receive event", target="app", data=message)
            return message
        if self.state == "connecting":
            trace.find("asgi.ws.receive_before_accept")
            return self._tell({"type": "websocket.disconnect", "code": 1006, "reason": ""})
        if self.told or self.state == "denied":
            message = {"type": "websocket.disconnect",
                       "code": self.client_code or self.close_code or 1000, "reason": ""}
            if self.told and not await self.again("asgi.ws.receive_after_disconnect",
                                                  code=message["code"]):
                return message  # the same again, no longer shown step by step
            return self._tell(message)
        self.waiting = "waiting in receive() for the client's next frame"
        message = await self.inbox.get()
        self.waiting = ""
        return self._tell(message)

    def _tell(self, message: dict) -> dict:
        kind = message["type"]
        if kind == "websocket.disconnect":
            self.told = True
            if self.client_code is None and not self.app_closed:
                self.client_code = message["code"]
            if self.state == "accepted":
                self.state = "closed"
            detail = f"websocket.disconnect, code {message['code']}"
            spec = f"{WS} §Disconnect - receive event"
        else:
            item = message.get("text", message.get("bytes"))
            detail, spec = f"websocket.receive {clip(item, 40)}", f"{WS} §Receive - receive event"
        self.trace.add("client", "receive", detail, spec, target="app", data=message)
        return message

    # -- send(): §Accept, §Send, §Close - send event -----------------------------------
    async def send(self, message) -> None:
        trace = self.trace
        kind = self.sent_event(message)
        if kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.send":
            self._send(message)
        elif kind == "websocket.close":
            self._close(message)
        else:
            trace.find("asgi.ws.unknown_message", type=kind)
            raise _Handled(f"unknown message type {kind!r}")

    def _gone(self, kind: str) -> Exception:
        """send() on a closed connection (see the module docstring)."""
        if self.app_closed or self.told or self.state == "denied":
            self.trace.find("asgi.ws.after_close", type=kind)
        return self.disconnected("the WebSocket is closed")

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
                       offered=list(offered) or "none")
        headers = []
        # The 101 response's headers: checked as any response's are (§Accept: [bytes,
        # bytes] pairs; CR or LF in one would split the handshake's response).
        for name, value in check_headers(self, message.get("headers", ()) or (),
                                         "websocket.accept")[0]:
            if name.lower() == "sec-websocket-protocol":
                trace.find("asgi.ws.protocol_header")
                continue
            headers.append((name, value))
        if subprotocol is not None:
            headers.append(("sec-websocket-protocol", str(subprotocol)))
        self.accept_headers, self.subprotocol = headers, subprotocol
        self.state = "accepted"
        # The handshake's answer goes out now, not when the connection ends.
        response = self._switched()
        trace.add("server", "response", "101 Switching Protocols: the WebSocket is open",
                  HANDSHAKE, target="client", data=response)
        self.inbox = asyncio.Queue()
        self.client = asyncio.get_running_loop().create_task(self._client())

    def _send(self, message: dict) -> None:
        trace = self.trace
        if self.state == "connecting":
            trace.find("asgi.ws.send_before_accept", type="websocket.send")
            raise _Handled("send before accept")
        if self.state in ("closed", "denied"):
            raise self._gone("websocket.send")
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

    def _close(self, message: dict) -> None:
        if self.state in ("closed", "denied"):
            raise self._gone("websocket.close")
        code = message.get("code", 1000)
        if self.state == "connecting":
            self.app_closed = True
            # Closing before accepting refuses the handshake: HTTP 403 (§Close).
            self.state = "denied"
            # The handshake's answer goes out now, and only now (gateway._finish adds
            # none for a denied connection).
            self.trace.add("server", "response", "403 Forbidden: the handshake was refused",
                           f"{WS} §Close - send event", target="client",
                           data=Response.error(403))
            return
        why = _bad_close_code(code)
        if why is not None:
            # websockets (under uvicorn) refuses such a close frame: "invalid status code".
            self.trace.find("asgi.ws.bad_close_code", value=clip(code), why=why)
            raise _Handled("invalid close code")
        self.app_closed = True
        self.state = "closed"
        self.close_code = code
        self._stop_client()
        # The client answers a close frame with one of its own (RFC 6455 §5.5.1): the
        # app's next receive() is the disconnect, after what was already in flight.
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": self.close_code,
                               "reason": ""})

    def _stop_client(self) -> None:
        if self.client is not None and not self.client.done():
            self.client.cancel()

    async def main(self) -> None:
        await super().main()
        # The scripted client is the lab's own task, cancelled when the app ended
        # (ended()); it ends at its next step.  Waiting for that step keeps it out of
        # the tasks that outlived the run, which the loop reports as the *app's*
        # (loops.run_sync).
        if self.client is not None and not self.client.done():
            await asyncio.wait({self.client})

    def ended(self) -> None:
        self._stop_client()

    # -- what the client saw -------------------------------------------------------------
    def response(self) -> Response:
        trace = self.trace
        if self.overran():
            trace.find("asgi.app.timeout", actor="server", timeout=self.timeout,
                       where=self.where(),
                       status="with a closed socket" if self.state == "accepted" else
                       "nothing more: the socket was closed already" if self.state == "closed"
                       else "nothing more: the 403 had gone out" if self.state == "denied"
                       else 504)
            if self.state == "denied":
                return Response.error(403)  # sent at websocket.close, before the deadline
            if self.state not in ("accepted", "closed"):
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

    def closing_line(self) -> str:
        """The last step of an accepted WebSocket: how it ended."""
        who = ("the client closed" if self.client_code is not None and not self.app_closed
               else "closed")
        return (f"{who} with code {self.close_code}; the app sent "
                f"{_plural(len(self.sent), 'message')}")
