"""Lessons 05 and 07-09 (long-lived connections, event loops in notebooks, bridges, build
your own), as cell lists.

`_build.py` imports `lessons()` and writes them like the others: each cell is a
("markdown" | "code", text) pair.
"""

from __future__ import annotations


def M(text: str):
    return ("markdown", text.strip("\n"))


def C(text: str):
    return ("code", text.strip("\n"))


def event_loops() -> list:
    return [
        M("""
# 07 · Event loops in notebooks

JupyterLab runs your cells inside an asyncio event loop that is *already running*. That one
fact explains an error every ASGI learner meets, the popular `nest_asyncio` patch, and how
this lab runs ASGI apps from a cell without either.

**In this notebook you will**
- see why `asyncio.run()` fails in a cell, and what top-level `await` does instead;
- learn what `nest_asyncio` (and its maintained fork `nest-asyncio2`) changes, by running it
  in a separate Python process so this kernel stays unpatched;
- see where `gl.run_asgi` runs your app (the lab's own loop thread) and where
  `await gl.run_asgi_async` runs it (the notebook's loop);
- block the notebook's loop on purpose, and read the watchdog's finding.
"""),
        C("""
import asyncio
import sys
import threading
import time

import gateway_lab as gl
from gateway_lab.views import TraceStepper
"""),
        M("""
## There is already a loop

`asyncio.get_running_loop()` only succeeds inside a running loop, and in a notebook cell it
does: the kernel (ipykernel) runs one and executes cells from it.
"""),
        C("""
loop = asyncio.get_running_loop()
print(type(loop).__name__, "running:", loop.is_running(),
      "on thread", threading.current_thread().name)
"""),
        M("""
## So `asyncio.run()` refuses

`asyncio.run(main())` starts a *new* loop and runs it until `main()` is done. One thread runs
at most one loop at a time, and this thread's loop is busy running this cell, so asyncio
raises instead of nesting (Python docs, §asyncio.run: "This function cannot be called when
another asyncio event loop is running in the same thread").
"""),
        C("""
async def main():
    await asyncio.sleep(0.01)
    return "done"

coro = main()
try:
    asyncio.run(coro)
except RuntimeError as error:
    print("RuntimeError:", error)
finally:
    coro.close()  # the coroutine never started; close it so Python does not warn
"""),
        M("""
## Top-level `await`: use the loop that is there

IPython lets a cell `await` directly (its autoawait feature): the cell itself becomes a
coroutine on the kernel's loop. This is the notebook's answer to `asyncio.run()`.
"""),
        C("""
start = time.perf_counter()
results = await asyncio.gather(main(), main(), main())
print(results, f"in {time.perf_counter() - start:.3f} s: three 10 ms sleeps overlapped")
"""),
        M("""
## What `nest_asyncio` does

Code written for scripts calls `asyncio.run()` or `loop.run_until_complete()` internally,
and breaks in a notebook. `nest_asyncio.apply()` **patches asyncio** so those calls re-enter
the running loop: the inner call runs the loop's steps itself until its coroutine finishes.
It works, at a price: the patch is global to the process, the original project is archived,
and every library now runs on a modified asyncio. `nest-asyncio2` is a maintained fork with
the same idea.

To keep this kernel unpatched we show it in a child Python process:
"""),
        C("""
import subprocess

script = '''
import asyncio
async def inner():
    return "inner result"
async def outer():
    try:
        asyncio.run(inner())
    except RuntimeError as error:
        print("before the patch:", error)
    import nest_asyncio
    nest_asyncio.apply()
    print("after the patch:", asyncio.run(inner()))
asyncio.run(outer())
'''
done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
print(done.stdout or done.stderr)
"""),
        M("""
## Why the lab needs neither

`gl.run_asgi(app, request)` is an ordinary function. When it is called from a thread that
already runs a loop (this cell), it hands the app to the lab's **own loop on its own
thread**, `gateway-lab-loop`, and waits for the answer: the same idea as starlette's
TestClient, with one reusable thread instead of one per client, and no patching. The app
below reports which thread it runs on.
"""),
        C("""
async def where(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body",
                "body": threading.current_thread().name.encode()})

print("gl.run_asgi ran the app on:", gl.run_asgi(where, gl.Request()).response.text)
ex = await gl.run_asgi_async(where, gl.Request())
print("await gl.run_asgi_async ran it on:", ex.response.text)
"""),
        M("""
`run_asgi_async` uses *your* loop, as a real server would: many requests interleave on it.
Twenty requests that each wait 50 ms finish together, not one after another:
"""),
        C("""
async def waits(scope, receive, send):
    await asyncio.sleep(0.05)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body"})

start = time.perf_counter()
exchanges = await asyncio.gather(*[gl.run_asgi_async(waits, gl.Request()) for _ in range(20)])
print(f"20 requests in {time.perf_counter() - start:.3f} s (one after another: 1.0 s)")
"""),
        M("""
## Blocking the loop you share

Your loop is now also the server's loop. An app that calls `time.sleep` inside `async def`
holds it: nothing else runs, not even the notebook's own machinery. The lab times every
step of the app between two awaits and reports a step longer than 0.1 s as
`asgi.loop.blocked`. Step through the trace to see where it happened.
"""),
        C("""
async def sleepy(scope, receive, send):
    time.sleep(0.2)  # blocks: should be `await asyncio.sleep(0.2)`
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"late"})

ex = await gl.run_asgi_async(sleepy, gl.Request())
for finding in ex.findings:
    print(finding.rule, "-", finding.message)
TraceStepper(ex)
"""),
        M("""
## Your turn

Exercise `11_asgi_blocking` hands you an app that blocks its loop. Make 20 concurrent
requests finish in about the time of one. Edit `exercises/11_asgi_blocking.py`, then run
`gl.check("11_asgi_blocking")` in a cell (or `gateway-lab check 11_asgi_blocking` in a
terminal). The unsolved stub takes a few seconds to check, because it really is slow.

## Summary

- A notebook cell already runs inside an event loop, so `asyncio.run()` refuses; `await`
  at the top level of a cell instead.
- `nest_asyncio` makes nested runs work by patching asyncio for the whole process.
- `gl.run_asgi` runs apps on the lab's own loop thread, `await gl.run_asgi_async` on yours;
  neither patches anything.
- Blocking calls inside `async def` stop every request on the loop; the lab measures it.
"""),
    ]


def bridges() -> list:
    return [
        M("""
# 08 · Bridges: WSGI apps on ASGI servers, and back

Many apps are WSGI (Flask, Django's classic stack); many servers are now ASGI (uvicorn,
hypercorn). Adapters bridge the two. Here we run the same apps through two well-known
adapters, **asgiref**'s `WsgiToAsgi` and **a2wsgi**'s `WSGIMiddleware` / `ASGIMiddleware`,
and measure what they cost and what they lose.

**In this notebook you will**
- run a WSGI app under the ASGI gateway through each adapter and compare the traces;
- check whether each adapter calls the iterable's `close()` (PEP 3333 says it must);
- check whether a streamed body stays streamed;
- measure the cost of a bridged request against the direct call;
- run an ASGI app under the WSGI gateway.
"""),
        C("""
import time

from a2wsgi import ASGIMiddleware, WSGIMiddleware
from asgiref.wsgi import WsgiToAsgi

import gateway_lab as gl
from gateway_lab.views import TraceStepper
"""),
        M("""
## A WSGI app that streams and cleans up

Its body is an iterable with a `close()` method: PEP 3333 §Specification Details requires
the server (here: the adapter, which plays the server for the WSGI app) to call it once the
response is done, whatever happened. Files, database cursors and locks are released there.
"""),
        C("""
closed = []

class Parts:
    def __init__(self):
        self.parts = [b"one ", b"two ", b"three"]
    def __iter__(self):
        return iter(self.parts)
    def close(self):
        closed.append(True)

def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Parts()

direct = gl.run_wsgi(wsgi_app, gl.Request("GET", "/"))
print(direct.response.status, direct.response.body, "close() called:", len(closed))
"""),
        M("""
## Through each adapter, under the ASGI gateway

For each adapter: the status and body, how many `http.response.body` messages carried the
body (one per part means it streams), whether `close()` was called, and the coach's
findings.
"""),
        C("""
def bridged(name, asgi_app):
    closed.clear()
    ex = gl.run_asgi(asgi_app, gl.Request("GET", "/"))
    parts = sum(1 for e in ex.trace if e.kind == "send" and "http.response.body" in e.detail
                and "0 bytes" not in e.detail)
    print(f"{name:22} {ex.response.status} {ex.response.body!r:24} body messages: {parts}  "
          f"close() called: {len(closed)}  findings: {[f.rule for f in ex.findings]}")
    return ex

via_asgiref = bridged("asgiref WsgiToAsgi", WsgiToAsgi(wsgi_app))
via_a2wsgi = bridged("a2wsgi WSGIMiddleware", WSGIMiddleware(wsgi_app))
"""),
        M("""
Both stream (one body message per part). Look at the `close()` column: an adapter that
never calls it leaks whatever the app meant to release. At the time of writing, asgiref's
`WsgiToAsgi` (3.13) had no call to `close()` at all; a2wsgi calls it. Step through the
asgiref run: the WSGI side of the story happens inside the adapter, on a worker thread, so
the ASGI trace only sees the messages it produces.
"""),
        C("""
TraceStepper(via_asgiref)
"""),
        M("""
## What a bridge costs

Both adapters run the WSGI app on a thread pool (WSGI code may block; the event loop must
not), so every request pays for a hand-off between threads. A short measurement:
"""),
        C("""
def per_request(fn, n=200):
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n

request = gl.Request("GET", "/")
via_asgiref, via_a2wsgi = WsgiToAsgi(wsgi_app), WSGIMiddleware(wsgi_app)
costs = {
    "direct WSGI (gl.run_wsgi)": per_request(lambda: gl.run_wsgi(wsgi_app, request)),
    "asgiref WsgiToAsgi (gl.run_asgi)": per_request(lambda: gl.run_asgi(via_asgiref, request)),
    "a2wsgi WSGIMiddleware (gl.run_asgi)": per_request(lambda: gl.run_asgi(via_a2wsgi, request)),
}
base = costs["direct WSGI (gl.run_wsgi)"]
for name, seconds in costs.items():
    print(f"{name:38} {seconds * 1e6:8.1f} µs   {seconds / base:5.1f}x")
"""),
        M("""
## And back: an ASGI app under a WSGI server

`a2wsgi.ASGIMiddleware` runs an event loop on a thread of its own and turns the WSGI call
into ASGI messages. What it cannot bridge: WebSockets and lifespan have no WSGI
counterpart, and the whole response is produced inside one WSGI call, holding a WSGI
worker for as long as the ASGI app takes.
"""),
        C("""
async def asgi_app(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    for part in (b"async ", b"under ", b"WSGI"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})

ex = gl.run_wsgi(ASGIMiddleware(asgi_app), gl.Request("GET", "/"))
print(ex.response.status, ex.response.body, [f.rule for f in ex.findings])
"""),
        M("""
## Your turn

Exercise `12_wsgi_to_asgi`: write your own WSGI-to-ASGI adapter that reads a body sent in
many chunks, builds a PEP 3333 environ from the scope, streams the response and **calls
`close()`**. Edit `exercises/12_wsgi_to_asgi.py`, then check it:
"""),
        C("""
report = gl.check("12_wsgi_to_asgi")
print(report.summary())
"""),
        M("""
## Summary

- An adapter plays the server for one side and the app for the other; it must keep both
  specs' promises, including `close()`.
- Check what your adapter does with `close()` and streaming instead of assuming it.
- Bridges run WSGI code on threads: each request pays a thread hand-off, measured above.
- WebSockets and lifespan do not cross into WSGI at all.
"""),
    ]


def build_your_own() -> list:
    return [
        M("""
# 09 · Build your own: a tiny framework on WSGI, then on ASGI

Frameworks are not magic. A router, a request object and a response object fit in a few
dozen lines on either interface. Building them shows what Flask and Starlette do for you.

**In this notebook you will**
- write a 30-line WSGI framework with routes, path parameters, 404 and 405;
- write the same framework on ASGI;
- run one set of handlers on both and compare the responses and the traces;
- see which spec rules the framework now keeps for every handler.
"""),
        C("""
import json
import re

import gateway_lab as gl
from gateway_lab.views import TraceStepper
"""),
        M("""
## The shared part: routes and responses

A route is a method, a path pattern like `/hello/{name}` and a handler. A handler takes the
request's path parameters and query, and returns `(status, content_type, body_text)`.
"""),
        C("""
class Router:
    def __init__(self):
        self.routes = []  # (method, compiled pattern, handler)

    def route(self, method, pattern):
        regex = re.compile("^" + re.sub(r"{(\\w+)}", r"(?P<\\1>[^/]+)", pattern) + "$")
        def register(handler):
            self.routes.append((method, regex, handler))
            return handler
        return register

    def dispatch(self, method, path, query):
        allowed = []
        for route_method, regex, handler in self.routes:
            match = regex.match(path)
            if match:
                if route_method == method:
                    return handler(query=query, **match.groupdict())
                allowed.append(route_method)
        if allowed:  # RFC 9110 §15.5.6: 405 must list the allowed methods
            return 405, "text/plain", "method not allowed", [("Allow", ", ".join(allowed))]
        return 404, "text/plain", "not found"

router = Router()

@router.route("GET", "/hello/{name}")
def hello(name, query):
    return 200, "text/plain", f"Hello, {name}!"

@router.route("GET", "/add")
def add(query):
    numbers = [int(v) for k, v in (p.split("=") for p in query.split("&") if p) if k == "n"]
    return 200, "application/json", json.dumps({"sum": sum(numbers)})
"""),
        M("""
## On WSGI

The framework turns `environ` into `(method, path, query)` and the handler's tuple into
`start_response` plus a one-item list of bytes. The reason phrase comes from the status
(PEP 3333 wants the full `"404 Not Found"` line).
"""),
        C("""
from http import HTTPStatus

def wsgi_framework(router):
    def app(environ, start_response):
        status, ctype, text, *extra = router.dispatch(
            environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"])
        body = text.encode("utf-8")
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        headers += extra[0] if extra else []
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]
    return app

wsgi_app = wsgi_framework(router)
ex = gl.run_wsgi(wsgi_app, gl.Request("GET", "/hello/Ada"))
print(ex.response.status, ex.response.body, ex.findings)
"""),
        M("""
## On ASGI

The same router; the framework reads the scope (`query_string` is **bytes**), drains the
`http.request` events, and answers with two `send` calls.
"""),
        C("""
def asgi_framework(router):
    async def app(scope, receive, send):
        assert scope["type"] == "http"  # a real framework also handles lifespan
        more = True
        while more:  # read (and here ignore) the whole body
            message = await receive()
            more = message.get("more_body", False)
        status, ctype, text, *extra = router.dispatch(
            scope["method"], scope["path"], scope["query_string"].decode("latin-1"))
        body = text.encode("utf-8")
        headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in (extra[0] if extra else [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    return app

asgi_app = asgi_framework(router)
"""),
        M("""
## Same handlers, same answers

Each request goes through both frameworks; the table compares status and body.
"""),
        C("""
requests = [gl.Request("GET", "/hello/Ada"), gl.Request("GET", "/add?n=2&n=40"),
            gl.Request("POST", "/hello/Ada"), gl.Request("GET", "/nowhere")]
for request in requests:
    w = gl.run_wsgi(wsgi_app, request)
    a = gl.run_asgi(asgi_app, request)
    same = (w.response.status, w.response.body) == (a.response.status, a.response.body)
    print(f"{request.method:5} {request.target:16} WSGI {w.response.status} "
          f"ASGI {a.response.status}  {'same' if same else 'DIFFERENT'}  {a.response.body!r}  "
          f"findings: {len(w.findings) + len(a.findings)}")
"""),
        M("""
Step through the ASGI run of the 405 answer: the `Allow` header the router added travels as
lower-case bytes in `http.response.start`.
"""),
        C("""
TraceStepper(gl.run_asgi(asgi_app, gl.Request("POST", "/hello/Ada")))
"""),
        M("""
## Your turn

Exercise `04_wsgi_router` asks for a WSGI router with 404 and 405 (like the one above, from
scratch), and `14_starlette_port` for porting a WSGI app to Starlette with identical
responses. Check the first one:
"""),
        C("""
report = gl.check("04_wsgi_router")
print(report.summary())
"""),
        M("""
## Summary

- A framework is a translation layer: interface in (environ or scope), handler call,
  interface out (start_response + iterable, or send events).
- Routing, 404/405 and Content-Length are written once and then hold for every handler.
- The handlers did not change between WSGI and ASGI; only the thin edge did.
"""),
    ]


def long_lived() -> list:
    return [
        M("""
# 05 · Long-lived connections: WebSockets and server-sent events

A classic request is over in milliseconds. A chat, a live dashboard or a notification feed
keeps its connection open for minutes, mostly idle. This is where ASGI's design pays off, and
where WSGI's does not fit.

**In this notebook you will**
- walk through the WebSocket state machine of the ASGI spec, step by step;
- refuse a handshake (close before accept = HTTP 403);
- connect two scripted clients to one chat app and watch messages cross;
- stream server-sent events from an ASGI app, then from a WSGI app, and see what each
  costs a server that must hold many of them;
- measure what an idle connection costs as a thread and as a task.
"""),
        C("""
import asyncio
import time

import gateway_lab as gl
from gateway_lab.views import TraceStepper
"""),
        M("""
## The WebSocket state machine (ASGI WebSocket spec)

| state | the client sends | the app may send |
|---|---|---|
| connecting | `websocket.connect` (the upgrade request) | `websocket.accept`; `websocket.close` (= 403) |
| connected | `websocket.receive` (text or bytes); `websocket.disconnect` | `websocket.send`; `websocket.close` |
| closed | `websocket.disconnect` | nothing |

A `websocket.send` carries exactly one of `text` (str) and `bytes`.

The lab drives the client side from a **script**: a list of frames (`str` for text, `bytes`
for binary), numbers (seconds of silence) and `gl.Close(code)`. When the script runs out the
client closes normally (1000).
"""),
        C("""
async def echo(scope, receive, send):
    assert scope["type"] == "websocket"
    await receive()                                  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            break
        await send({"type": "websocket.send", "text": message["text"].upper()})

ex = gl.run_asgi(echo, gl.Request.websocket("/echo", ["hello", "are you there?"]))
print(ex.response.status, ex.messages, "closed with", ex.close_code)
TraceStepper(ex)
"""),
        M("""
## Refusing a connection

Closing before accepting is how an app says no (for example, no login cookie). The client
never gets a WebSocket: it gets an HTTP 403 to its upgrade request.
"""),
        C("""
async def members_only(scope, receive, send):
    await receive()
    cookies = dict(scope["headers"]).get(b"cookie", b"")
    if b"session=" not in cookies:
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})

print("no cookie:", gl.run_asgi(members_only, gl.Request.websocket("/ws")).response.status)
print("cookie:   ", gl.run_asgi(members_only, gl.Request.websocket(
    "/ws", headers={"Cookie": "session=1"})).response.status)
"""),
        M("""
## A chat between two clients

One app, two connections. The app keeps every connected socket's `send` in a set and
broadcasts each message to all of them. Both clients run at once on one event loop
(`await gl.run_asgi_async` in `asyncio.gather`); A waits 20 ms (so both are in the room)
and B 50 ms before speaking.
"""),
        C("""
room = set()

async def chat(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    room.add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                break
            for peer in list(room):
                await peer({"type": "websocket.send", "text": message["text"]})
    finally:
        room.discard(send)

alice, bob = await asyncio.gather(
    gl.run_asgi_async(chat, gl.Request.websocket("/chat", [0.02, "hi, I am A", 0.15])),
    gl.run_asgi_async(chat, gl.Request.websocket("/chat", [0.05, "hello A, B here", 0.1])))
print("A received:", alice.messages)
print("B received:", bob.messages)
"""),
        M("""
## Server-sent events: a response that does not end

SSE (the HTML standard's `text/event-stream`) is plain HTTP: the server keeps the response
open and writes `data: ...` lines as things happen. In ASGI that is `http.response.body`
with `more_body=True`, once per event. The trace's time column shows the gaps.
"""),
        C("""
async def ticker(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream"),
                            (b"cache-control", b"no-cache")]})
    for n in range(3):
        event = f"data: tick {n}\\n\\n".encode()
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b""})

ex = gl.run_asgi(ticker, gl.Request("GET", "/events"))
for event in ex.trace:
    if event.kind == "send":
        print(f"{event.t * 1000:7.1f} ms  {event.detail}")
print(ex.response.text)
"""),
        M("""
## The same stream from WSGI

A WSGI app can stream too: return a generator. But the generator runs **inside the
server's worker** (a thread or a process) for the whole stream, and `time.sleep` between
events keeps that worker busy doing nothing. With 2 worker threads and 4 listeners, the
last two wait until the first two streams end. On one event loop, the 4 ASGI streams
interleave.
"""),
        C("""
def wsgi_ticker(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    def events():
        for n in range(3):
            yield f"data: tick {n}\\n\\n".encode()
            time.sleep(0.05)
    return events()

listeners = [gl.Request("GET", "/events") for _ in range(4)]
threads = gl.run_many(wsgi_ticker, listeners, model=gl.Threads(2))
loop = gl.run_many(ticker, listeners, model=gl.EventLoop())
print(f"WSGI, 2 threads: all 4 streams done after {threads.summary()['makespan']:.2f} s")
print(f"ASGI, one loop:  all 4 streams done after {loop.summary()['makespan']:.2f} s")
"""),
        M("""
## What an idle connection costs

Most of a chat connection's life is waiting. A threaded server parks a thread on it; an
event loop parks a suspended coroutine. Here are 1,000 idle connections each way, measured
in this process (Python objects allocated, and the growth of resident memory where the OS
tells us):
"""),
        C("""
from gateway_lab.concurrency import idle_connection_cost

for how, cost in idle_connection_cost(1000).items():
    print(how, cost, sep="\\n", end="\\n\\n")
"""),
        M("""
## Your turn

Exercise `10_asgi_websocket`: an echo endpoint and a broadcast room, like the chat above.
Edit `exercises/10_asgi_websocket.py`, then check it:
"""),
        C("""
report = gl.check("10_asgi_websocket")
print(report.summary())
"""),
        M("""
## Summary

- A WebSocket is a state machine: connect, then accept (or close = 403), then frames both
  ways, then close; sending out of order is an error the lab names.
- Long-lived connections are mostly idle. On an event loop each costs a suspended
  coroutine; on a threaded server, a thread for its whole life.
- WSGI can stream (a generator) but holds a worker per open stream, and has no way to
  receive WebSocket frames at all: the interface has no `receive`.
"""),
    ]


def lessons() -> dict[str, list]:
    return {"05_long_lived": long_lived(),
            "07_event_loops": event_loops(), "08_bridges": bridges(),
            "09_build_your_own": build_your_own()}
