"""Checks for 16 (an ASGI middleware that wraps send) and 19 (server-sent events that
stop when the client leaves).

16 wraps apps of the checker's: one that streams slowly, one that leaves out
the optional more_body, one that sends the same headers list every time, and
lifespan and WebSocket apps that must pass through untouched.  19 plays
clients that leave half way, on a server whose send() raises then (spec 2.4)
and on one whose send() returns quietly (uvicorn's HTTP send does).
"""

from __future__ import annotations

import re
import time

from ..request import Request
from . import freedoms
from .asgi_checks import LESSON_ASGI, LESSON_WS
from .core import (
    LearnerError,
    asgi,
    call,
    call_async,
    describe,
    doing,
    exercise,
    expect,
    fact,
    failed,
    need,
)

TEXT = b"text/plain; charset=utf-8"
_MS = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*ms\b")


# -- 16 -----------------------------------------------------------------------------------

class _Slow:
    """An ASGI app that waits 50 ms before its response starts and streams three chunks
    50 ms apart; it leaves out more_body on the last one when `bare`."""

    def __init__(self, bare=False, headers=None):
        self.bare = bare
        self.headers = headers  # one list for every response, if given

    async def __call__(self, scope, receive, send):
        import asyncio

        await asyncio.sleep(0.05)
        headers = self.headers if self.headers is not None else [
            (b"content-type", TEXT), (b"x-inner", b"yes")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, chunk in enumerate((b"one ", b"two ", b"three")):
            if i:
                await asyncio.sleep(0.05)
            last = i == 2
            message = {"type": "http.response.body", "body": chunk}
            if not (last and self.bare):
                message["more_body"] = not last
            await send(message)


class _Quick:
    """Sends one body message without more_body (it is optional: default False).  Its
    http.response.start is one dict, made once and sent for every request, as an app
    with a precomputed answer does."""

    def __init__(self, headers):
        self.headers = headers
        self.start = {"type": "http.response.start", "status": 200, "headers": headers}

    async def __call__(self, scope, receive, send):
        await send(self.start)
        await send({"type": "http.response.body", "body": b"quick"})


async def _lifespan_app(scope, receive, send):
    assert scope["type"] == "lifespan", scope["type"]
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["ready"] = True
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _ws_echo(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text")})
        else:
            return


def _timing_ok(min_ms: float):
    def judge(value: str) -> str:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*ms\s*", value)
        if not m:
            return "should be a number of milliseconds, e.g. '51.2ms'"
        if float(m.group(1)) < min_ms:
            return (f"the app waited at least {min_ms:.0f} ms before http.response.start, so "
                    "the header should say at least that much")
        return ""
    return judge


HEADER_RULE = ("ASGI HTTP spec §Response Start: the headers go out with http.response.start, "
               "before the body; the last body message (more_body False, the default) ends "
               "the response")


def _make(wrap, inner, lines):
    return call(wrap, inner, lines.append, what="TimingMiddleware(app, log)")


@exercise("16_asgi_middleware", "ASGI middleware that wraps send: a header and a timing log",
          LESSON_ASGI, hints=[
    "An ASGI middleware is an ASGI app that calls another one with a send of its own: "
    "`await self.app(scope, receive, my_send)`; my_send looks at each message and passes it "
    "on with `await send(message)`. Anything but an 'http' scope goes through untouched.",
    "On http.response.start add (b'x-response-time', f'{ms:.1f}ms'.encode()) to a *new* "
    "list: message = {**message, 'headers': [*message.get('headers', []), header]}. "
    "Appending to the app's own list changes it for every later response.",
    "The response ends with the http.response.body whose more_body is False, and a missing "
    "more_body means False: message.get('more_body', False). After sending that one, call "
    "self.log(f\"{scope['method']} {scope['path']} {status} {ms:.1f}ms\").",
])
def check_16(module):
    wrap = need(module, "TimingMiddleware",
                "a class TimingMiddleware(app, log=print) returning an ASGI app")
    lines: list[str] = []
    ex = asgi(_make(wrap, _Slow(), lines), Request("GET", "/report"))
    yield expect("the response passes through, with x-response-time added", ex, status=200,
                 body="one two three",
                 headers={"X-Inner": "yes", "Content-Type": TEXT.decode(),
                          "X-Response-Time": _timing_ok(40)},
                 rule=HEADER_RULE,
                 hint="(b'x-response-time', f'{ms:.1f}ms'.encode()), bytes like every ASGI "
                      "header, timed from the call to http.response.start")
    yield _logged(wrap)
    lines = []
    ex = asgi(_make(wrap, _Slow(bare=True), lines), Request("GET", "/bare"))
    ok = len(lines) == 1 and "/bare" in lines[0]
    yield expect("an app that leaves more_body out of its last message is logged too", ex,
                 status=200, body="one two three",
                 problems=[None if ok else f"expected one log line for GET /bare, got "
                           f"{lines!r}"],
                 rule=f"{freedoms.ASGI_BODY}: more_body is optional, default False",
                 hint="message.get('more_body', False), never message['more_body']")
    shared = [(b"content-type", TEXT)]
    quick = _Quick(shared)
    app_start = quick.start
    app = _make(wrap, quick, [])
    counts = []
    for _ in range(2):
        ex = asgi(app, Request("GET", "/quick"))
        counts.append(sum(1 for k, _ in ex.response.headers if k.lower() == "x-response-time"))
    problems = []
    if counts != [1, 1]:
        problems.append(f"the two responses had {counts[0]} and {counts[1]} x-response-time "
                        "headers, expected one each")
    if len(shared) != 1:
        problems.append(f"the app's own headers list grew to {len(shared)} entries: the "
                        "middleware appended to it")
    elif app_start["headers"] is not shared:
        problems.append("the app's own http.response.start dict was changed: its 'headers' "
                        "is no longer the app's list (the middleware assigned to "
                        "message['headers'])")
    yield expect("an app that sends the same start message every time: one header each time",
                 ex, status=200, body="quick", problems=problems,
                 note="(the app sends the same http.response.start dict, with the same "
                      "headers list, every time)",
                 rule="ASGI spec §Events: a message is the app's; change a copy, not the "
                      "original", hint="headers = [*message.get('headers', []), (b'x-response-"
                                       "time', ...)] and send {**message, 'headers': headers}")
    lines = []
    doing("lifespan.startup and lifespan.shutdown through your middleware", 6.0)
    from ..asgi import lifespan

    life = lifespan(_make(wrap, _lifespan_app, lines), timeout=3.0)
    ok = life.started and life.stopped and (life.state or {}).get("ready") and not life.findings
    yield fact("a lifespan scope goes through untouched", bool(ok),
               f"startup {'completed' if life.started else 'did not complete'}, shutdown "
               f"{'completed' if life.stopped else 'did not complete'}, state "
               f"{life.state!r}; findings: {[f.message for f in life.findings]}",
               sent="lifespan.startup, lifespan.shutdown", got=f"state {life.state!r}",
               rule="ASGI spec: a middleware passes scopes it does not handle to the app as "
                    "they are", hint="if scope['type'] != 'http': return await self.app(scope, "
                                     "receive, send)")
    ex = asgi(_make(wrap, _ws_echo, []), Request.websocket("/ws", ["hi"]))
    yield expect("a WebSocket goes through untouched", ex,
                 problems=[None if list(ex.messages) == ["hi"] else
                           f"expected the echo ['hi'], got {list(ex.messages)!r}"],
                 rule="ASGI WebSocket spec: a websocket scope has no method and no "
                      "http.response.* messages",
                 hint="handle only scope['type'] == 'http'; pass the others through")


def _logged(wrap):
    title = "one log line per request, after the last byte: method, path, status, full time"
    lines: list[str] = []
    stamps: list[float] = []
    last_body: list[float] = []

    def log(line):
        lines.append(line)
        stamps.append(time.perf_counter())

    def on_send(message):
        if message.get("type") == "http.response.body" and not message.get("more_body", False):
            last_body.append(time.perf_counter())

    sent = "GET /report (the app waits 50 ms, then sends 3 chunks 50 ms apart)"
    try:
        app = call(wrap, _Slow(), log, what="TimingMiddleware(app, log)")
        call_async(lambda: freedoms.play_http(app, Request("GET", "/report"), on_send=on_send),
                   what="GET /report through your middleware")
    except LearnerError as error:
        return failed(title, error, sent=sent)
    problems = []
    if len(lines) != 1:
        problems.append(f"expected exactly one call of log(...), there were {len(lines)}: "
                        f"{lines!r}")
    else:
        line = lines[0]
        if not all(part in line for part in ("GET", "/report", "200")):
            problems.append(f"the line {line!r} should hold the method, path and status, e.g. "
                            "'GET /report 200 151.2ms'")
        m = _MS.search(line)
        if not m:
            problems.append(f"the line {line!r} should end with the time, e.g. '151.2ms'")
        elif float(m.group(1)) < 130:
            problems.append(f"the line says {m.group(1)} ms, but the response took at least "
                            "150 ms to its last byte: measure when the last body message has "
                            "been sent")
        if last_body and stamps[0] < last_body[0]:
            problems.append("the line was logged before the last body message was sent")
    return fact(title, not problems, "\n".join(problems), sent=sent, got=f"log: {lines!r}",
                rule=HEADER_RULE,
                hint="after `await send(message)` of the body message with more_body False, "
                     "self.log(...) with the time since the call began")


# -- 19 -----------------------------------------------------------------------------------

INTERVAL = 0.05  # what the stub says: one event every 50 ms
SSE_RULE = ("HTML Living Standard §9.2 Server-sent events: Content-Type text/event-stream; "
            "each event is 'data: ...' lines ended by an empty line")
LEAVE_RULE = (f"{freedoms.ASGI_DISCONNECT}: “Sent to the application if receive is called "
              "after a response has been sent or after the HTTP connection has been closed”; "
              "send() raising afterwards “is not guaranteed” (spec 2.4), and uvicorn's does not")
LEAVE_HINT = ("run a task that awaits receive() until it returns http.disconnect, and stop "
              "the stream when it does (asyncio.wait on both); cancel your tasks before "
              "returning")


def _events(n: int) -> bytes:
    return b"".join(f"data: tick {i}\n\n".encode() for i in range(1, n + 1))


@exercise("19_sse", "server-sent events that stop when the client leaves", LESSON_WS, hints=[
    "Send http.response.start with content-type text/event-stream and cache-control "
    "no-cache, then one http.response.body per event, b'data: tick N\\n\\n' with "
    "more_body=True, await asyncio.sleep(INTERVAL) between them, and a last body message "
    "with more_body=False.",
    "The client leaving shows up in receive(): the first receive() is the (empty) "
    "http.request, a later one returns {'type': 'http.disconnect'}. Start a task that "
    "loops on receive() until then, so the stream can stop at once.",
    "Do not wait for send() to fail: uvicorn's send() just returns once the client has "
    "gone. Wait for the next tick *or* the disconnect (asyncio.wait with a timeout), and "
    "cancel the receive task in a finally: so nothing is left running.",
])
def check_19(module):
    app = need(module, "app", "the ASGI application, `async def app(scope, receive, send)`")
    ex = asgi(app, Request("GET", "/events?n=3"))
    bodies = [e for e in ex.trace.events if e.kind == "send"
              and "http.response.body" in str(e.detail) and not str(e.detail).startswith(
                  "http.response.body, 0 bytes")]
    yield expect("GET /events?n=3: three events, each its own message, then the end", ex,
                 status=200, body=_events(3),
                 headers={"Content-Type": lambda v: "" if v.split(";")[0].strip() ==
                          "text/event-stream" else "should be text/event-stream",
                          "Cache-Control": lambda v: "" if "no-cache" in v else
                          "should be no-cache (a proxy must not keep the stream)"},
                 problems=[None if len(bodies) >= 3 else
                           f"expected one http.response.body per event, got {len(bodies)}"],
                 rule=SSE_RULE,
                 hint="b'data: tick 1\\n\\n': the empty line ends the event")
    for raises in (True, False):
        yield _leaves(app, raises)


def _leaves(app, raises: bool):
    how = ("send() raises an OSError from then on (ASGI 2.4)" if raises else
           "send() returns quietly from then on, as uvicorn's does")
    title = ("an endless stream stops within 0.3 s when the client leaves; "
             + ("send() raises then" if raises else "send() stays quiet then (uvicorn)"))
    sent = f"GET /events (no n: endless); after 3 events the client leaves: {how}"
    try:
        played = call_async(lambda: freedoms.play_http(
            app, Request("GET", "/events"), leave_after_bodies=3, send_raises=raises,
            linger=0.3, limit=2.0), what="GET /events to your app (the client leaves)")
    except LearnerError as error:
        return failed(title, error, sent=sent)
    problems = []
    if len(played.body_messages) < 3:
        problems.append(f"only {len(played.body_messages)} event(s) came before the client "
                        "left; expected 3")
    if played.still_running:
        problems.append("the app was still running 0.3 s after the client left (it never "
                        "noticed http.disconnect)")
    if not raises and len(played.after_leaving) > 2:
        problems.append(f"it sent {len(played.after_leaving)} more messages to a client that "
                        "had gone")
    if played.leftover_tasks:
        problems.append(f"{played.leftover_tasks} task(s) the app started were still running "
                        "after it returned")
    if played.error is not None and not isinstance(played.error, OSError):
        problems.append(f"the app raised {describe(played.error)}")
    took = played.took_to_stop()
    return fact(title, not problems, "\n".join(problems), sent=sent,
                got=f"{len(played.body_messages)} events, then "
                    + ("it kept running" if played.still_running else
                       f"it returned {took * 1000:.0f} ms after the client left"
                       if took is not None else "it returned")
                    + f"; messages after leaving: {len(played.after_leaving)}",
                rule=LEAVE_RULE, hint=LEAVE_HINT)
