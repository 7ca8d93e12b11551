"""Checks for the ASGI exercises: 07 hello, 08 a body in many chunks, 09 lifespan,
10 WebSocket echo and broadcast, 11 an event loop that is never blocked.

Each check sends requests through the lab's ASGI server (`run_asgi`,
`lifespan`, the concurrency lab's `run_many`); the coach's findings come with it.
"""

from __future__ import annotations

from ..request import Request
from . import core as _core
from .core import LearnerError, exercise, expect, fact, need

LESSON_ASGI = "04 ASGI (notebooks/04_*.ipynb)"
LESSON_WS = "05 Long-lived connections (notebooks/05_*.ipynb)"
LESSON_LOOP = "06 The concurrency showdown (notebooks/06_*.ipynb)"
TEXT = "text/plain; charset=utf-8"


def _asgi():
    try:
        from .. import asgi
    except ImportError as error:
        raise LearnerError("the lab's ASGI gateway (gateway_lab.asgi) is not available in this "
                           f"install: {error}") from None
    return asgi


def _app(module):
    app = need(module, "app", "the ASGI application, `async def app(scope, receive, send)`")
    if not callable(app):
        raise LearnerError(f"`app` must be callable, it is a {type(app).__name__}")
    return app


# -- 07 -----------------------------------------------------------------------------

@exercise("07_asgi_hello", "ASGI hello, world with a query string", LESSON_ASGI, hints=[
    "An ASGI app is `async def app(scope, receive, send)`. Answer with two awaited sends: "
    "{'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', "
    "b'text/plain; charset=utf-8')]} and {'type': 'http.response.body', 'body': b'...'}.",
    "scope['query_string'] is *bytes*, still percent-encoded: "
    "parse_qs(scope['query_string'].decode('latin-1')) decodes it.",
    "Header names and values in ASGI are bytes; the status is an int, not '200 OK'. "
    "Check scope['type'] == 'http' first: the server may also send a 'lifespan' scope.",
])
def check_07(module):
    run_asgi = _asgi().run_asgi
    app = _app(module)
    ex = run_asgi(app, Request("GET", "/"), timeout=_core.RUN_TIMEOUT)
    yield expect("GET / says hello to the world", ex, status=200, body="Hello, world!",
                 headers={"Content-Type": TEXT})
    ex = run_asgi(app, Request("GET", "/?name=Ada"), timeout=_core.RUN_TIMEOUT)
    yield expect("GET /?name=Ada greets Ada", ex, status=200, body="Hello, Ada!")
    ex = run_asgi(app, Request("GET", "/?name=J%C3%BCrgen"), timeout=_core.RUN_TIMEOUT)
    yield expect("a percent-encoded UTF-8 name is decoded", ex, status=200,
                 body="Hello, Jürgen!".encode())


# -- 08 -----------------------------------------------------------------------------

@exercise("08_asgi_body", "ASGI: a request body that arrives in many chunks", LESSON_ASGI,
          hints=[
    "One `await receive()` gives one http.request message: its 'body' may be only part "
    "of the request. Keep calling receive() while message.get('more_body', False) is True.",
    "Collect the pieces in a list and b''.join() them at the end (adding bytes one by one "
    "in a loop copies the whole body every time).",
    "Answer 200 with the body echoed back and a Content-Length of its byte count; an empty "
    "body comes as one message with body b'' and more_body False.",
])
def check_08(module):
    run_asgi = _asgi().run_asgi
    app = _app(module)
    cases = [
        ("a body in 3 chunks is echoed whole", [b"ab", b"cd", b"ef"]),
        ("a body in one chunk", [b"hello"]),
        ("an empty body", []),
        ("100 chunks of 1000 bytes", [bytes([65 + i % 26]) * 1000 for i in range(100)]),
    ]
    for title, chunks in cases:
        body = b"".join(chunks)
        request = Request("POST", "/echo", {"Content-Type": "application/octet-stream"},
                          chunks=chunks)
        ex = run_asgi(app, request, timeout=_core.RUN_TIMEOUT)
        yield expect(title, ex, status=200, body=body,
                     headers={"Content-Length": str(len(body))})


# -- 10 -----------------------------------------------------------------------------

@exercise("10_asgi_websocket", "ASGI WebSocket: echo, and a chat that broadcasts", LESSON_WS,
          hints=[
    "A websocket scope starts with receive() -> {'type': 'websocket.connect'}; answer "
    "await send({'type': 'websocket.accept'}), then loop on receive(): 'websocket.receive' "
    "carries 'text' or 'bytes', 'websocket.disconnect' means the client is gone: return.",
    "Echo: send back {'type': 'websocket.send', 'text': message['text']} (or 'bytes' for a "
    "binary frame: keep the same kind).",
    "Chat: keep a module-level set of the `send` callables of connected clients; add yours "
    "after accept, send each text to all of them, and remove yours in a `finally:` when "
    "you get websocket.disconnect, so nobody sends to a closed connection.",
])
def check_10(module):
    asgi = _asgi()
    from ..request import Close

    app = _app(module)
    script = ["hello", b"\x00\x01binary", "caf\u00e9", Close(1000)]
    ex = asgi.run_asgi(app, Request.websocket("/echo", script), timeout=_core.RUN_TIMEOUT)
    want = script[:3]
    yield expect("/echo sends every message back, text as text and bytes as bytes", ex,
                 problems=[None if list(ex.messages) == want else
                           f"expected the messages {want!r} back, got {list(ex.messages)!r}"])
    yield _broadcast(app)


async def _connect(app, path: str, name: str):
    """Open one WebSocket to `app` as a server would; returns (inbox, outbox, task)."""
    import asyncio

    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    scope = {"type": "websocket", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "scheme": "ws", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost")],
             "client": ("127.0.0.1", 50000 + len(name)), "server": ("localhost", 80),
             "subprotocols": [], "state": {}}
    await inbox.put({"type": "websocket.connect"})
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    first = await _next(outbox, task)
    if not (isinstance(first, dict) and first.get("type") == "websocket.accept"):
        raise LearnerError(f"client {name} connected to {path}: expected websocket.accept, "
                           f"got {first!r}")
    return inbox, outbox, task


async def _next(outbox, task, wait: float = 1.0):
    import asyncio

    getter = asyncio.ensure_future(outbox.get())
    done, _ = await asyncio.wait({getter, task}, timeout=wait,
                                 return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    if task in done and task.exception() is not None:
        raise LearnerError(f"the app raised {task.exception()!r}")
    return None


def _broadcast(app):
    """Two clients on /chat, played by the checker as the server: a message from one
    reaches both; after one leaves, nobody sends to it."""
    import asyncio

    from .core import call_async

    async def scenario():
        a_in, a_out, a_task = await _connect(app, "/chat", "A")
        b_in, b_out, b_task = await _connect(app, "/chat", "B")
        problems = []
        await a_in.put({"type": "websocket.receive", "text": "hi from A"})
        for who, out, task in (("A", a_out, a_task), ("B", b_out, b_task)):
            got = await _next(out, task)
            if not (got and got.get("type") == "websocket.send"
                    and got.get("text") == "hi from A"):
                problems.append(f"expected client {who} to get 'hi from A', it got {got!r}")
        await b_in.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(asyncio.shield(b_task), 1.0)
        except asyncio.TimeoutError:
            problems.append("expected the app to return when client B disconnected; it "
                            "kept running")
        await a_in.put({"type": "websocket.receive", "text": "still there?"})
        got = await _next(a_out, a_task)
        if not (got and got.get("text") == "still there?"):
            problems.append(f"after B left, expected A to get 'still there?', got {got!r}")
        late = [] if b_out.empty() else [b_out.get_nowait()]
        if late:
            problems.append(f"expected nothing sent to B after it disconnected, got {late[0]!r}"
                            ": remove a client from the room when it leaves")
        await a_in.put({"type": "websocket.disconnect", "code": 1000})
        for task in (a_task, b_task):
            try:
                await asyncio.wait_for(task, 1.0)
            except asyncio.TimeoutError:
                task.cancel()
        return problems

    try:
        problems = call_async(scenario, what="your /chat")
    except LearnerError as error:
        problems = [str(error)]
    return fact("/chat broadcasts to every connected client, and forgets one that left",
                not problems, "\n".join(problems),
                sent="A and B connect to /chat; A sends 'hi from A'; B leaves; A sends "
                     "'still there?'")


# -- 09 -----------------------------------------------------------------------------

@exercise("09_asgi_lifespan", "ASGI lifespan, with state shared by every request", LESSON_ASGI,
          hints=[
    "For scope['type'] == 'lifespan', loop: message = await receive(); on "
    "'lifespan.startup' reply {'type': 'lifespan.startup.complete'}; on 'lifespan.shutdown' "
    "reply {'type': 'lifespan.shutdown.complete'} and return.",
    "At startup put the pool into scope['state']['pool']: the server copies that dict into "
    "every request's scope['state'], so requests find the *same* Pool object there.",
    "In the http branch, use scope['state']['pool'] (do not make a new Pool per request) and "
    "add 1 to pool.visits before answering f'visit {pool.visits}'. Close the pool at "
    "shutdown.",
])
def check_09(module):
    asgi = _asgi()
    from .core import call_async

    app = _app(module)
    pool_class = need(module, "Pool", "the Pool class (it is in the stub)")
    made_before = getattr(pool_class, "made", 0)
    life = getattr(asgi, "lifespan", None)
    if life is not None:
        result = life(app)
        findings = list(getattr(result, "findings", []))
        state = getattr(result, "state", None) or {}
        problems = [] if "pool" in state else [
            f"expected scope['state']['pool'] to be set at startup; the state is {state!r}"]
        if findings:
            problems.append(f"the spec coach found {len(findings)} broken rule(s), listed below")
        yield _core.CheckResult("startup and shutdown complete; startup puts a pool in the state",
                                not problems, "\n".join(problems), "lifespan.startup, then "
                                "lifespan.shutdown", f"state: {state!r}", findings)
    try:
        bodies, pools, closed_at_end = call_async(lambda: _serve(app, 3), what="your app",
                                                  timeout=_core.RUN_TIMEOUT * 2)
    except LearnerError as error:
        yield fact("a server's life: startup, 3 requests sharing the pool, shutdown", False,
                   str(error), sent="lifespan.startup, GET / x 3, lifespan.shutdown")
        return
    made = getattr(pool_class, "made", 0) - made_before
    want = [b"visit 1", b"visit 2", b"visit 3"]
    yield fact("3 requests share the pool made at startup: visit 1, visit 2, visit 3",
               bodies == want, "" if bodies == want else
               f"expected the bodies {want!r}, got {bodies!r}",
               sent="lifespan.startup, then GET / three times",
               got=f"bodies {bodies!r}")
    problems = []
    if pools != 1:
        problems.append(f"expected exactly one Pool in the lifespan state, there were {pools}")
    if made > (2 if life is not None else 1):  # one per lifespan run, never per request
        problems.append(f"expected one Pool per server start, {made} were made: make it at "
                        "startup, not per request")
    if not closed_at_end:
        problems.append("expected the pool to be closed after lifespan.shutdown")
    yield fact("one pool for the server's life, closed at shutdown", not problems,
               "\n".join(problems), sent="lifespan.shutdown",
               got=f"pools in the state: {pools}, closed: {closed_at_end}")


async def _serve(app, n: int):
    """Play an ASGI server's life: lifespan startup, n HTTP requests, lifespan shutdown."""
    import asyncio

    state: dict = {}
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
             "state": state}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    reply = await _next(from_app, task)
    if not (reply and reply.get("type") == "lifespan.startup.complete"):
        raise LearnerError("after lifespan.startup expected lifespan.startup.complete, got "
                           + _said(reply))
    pool = state.get("pool")
    bodies = []
    for _ in range(n):
        bodies.append(await _http(app, dict(state)))  # a shallow copy, as the spec says
    await to_app.put({"type": "lifespan.shutdown"})
    reply = await _next(from_app, task)
    if not (reply and reply.get("type") == "lifespan.shutdown.complete"):
        raise LearnerError("after lifespan.shutdown expected lifespan.shutdown.complete, got "
                           + _said(reply))
    return bodies, 0 if pool is None else 1, bool(getattr(pool, "closed", False))


def _said(reply) -> str:
    if reply is None:
        return "nothing (the app returned, or did not answer within 1 s)"
    return repr(reply)


async def _http(app, state: dict) -> bytes:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "method": "GET", "scheme": "http", "path": "/",
             "raw_path": b"/", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 50000),
             "server": ("localhost", 80), "state": state}
    try:
        await app(scope, receive, send)
    except Exception as error:
        from .core import describe

        raise LearnerError(f"GET / raised {describe(error)}") from None
    return b"".join(m.get("body", b"") for m in sent if m.get("type") == "http.response.body")


# -- 11 -----------------------------------------------------------------------------

@exercise("11_asgi_blocking", "unblock an ASGI app: 20 requests in about the time of one",
          LESSON_LOOP, hints=[
    "time.sleep (and every blocking client) holds the event loop: while one request "
    "waits, no other request can even start. Under an event loop the 20 requests run one "
    "after another.",
    "`await` something instead: the stub already has `async def fetch_price()`; awaiting it "
    "lets the loop run the other requests while this one waits.",
    "If you only had the blocking client, `await asyncio.to_thread(fetch_price_blocking)` "
    "would move the wait to a thread (the default pool has a few threads, so it helps less).",
])
def check_11(module):
    import time

    asgi = _asgi()
    try:
        from .. import concurrency
    except ImportError as error:
        raise LearnerError("the lab's concurrency lab (gateway_lab.concurrency) is not "
                           f"available in this install: {error}") from None
    app = _app(module)
    delay = float(getattr(module, "SERVICE_DELAY", 0.2))
    ex = asgi.run_asgi(app, Request("GET", "/price"), timeout=_core.RUN_TIMEOUT)
    yield expect("one request: 200 'price: 42'", ex, status=200, body="price: 42")
    n, limit = 20, 5 * delay  # one request takes `delay`; in series 20 take 20 * delay
    requests = [Request("GET", f"/price?client={i}") for i in range(n)]
    start = time.perf_counter()
    timeline = concurrency.run_many(app, requests, model=concurrency.EventLoop())
    makespan = _makespan(timeline, time.perf_counter() - start)
    ok = makespan <= limit
    yield fact(f"{n} requests at once on one event loop finish in about the time of one",
               ok, "" if ok else
               f"expected the {n} requests to finish within {limit:.1f} s (one takes "
               f"{delay:.1f} s), they took {makespan:.2f} s: something blocks the event loop, "
               "so they ran one after another",
               sent=f"{n} x GET /price at once, gl.run_many(app, requests, "
                    "model=gl.EventLoop())",
               got=f"all done after {makespan:.2f} s (in series: {n * delay:.1f} s)")


def _makespan(timeline, measured: float) -> float:
    """The timeline's own makespan when it reports one, else the wall-clock time."""
    summary = getattr(timeline, "summary", None)
    try:
        data = summary() if callable(summary) else None
    except Exception:
        data = None
    value = None
    if isinstance(data, dict):
        value = data.get("makespan")
    elif data is not None:
        value = getattr(data, "makespan", None)
    if value is None:
        value = getattr(timeline, "makespan", None)
    try:
        return float(value) if value is not None else measured
    except (TypeError, ValueError):
        return measured
