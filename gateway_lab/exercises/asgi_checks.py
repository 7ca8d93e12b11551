"""Checks for the ASGI exercises: 07 hello, 08 a body in many chunks, 09 lifespan,
10 WebSocket echo and broadcast, 11 an event loop that is never blocked.

Each check sends requests through the lab's ASGI server (`run_asgi`,
`lifespan`, the concurrency lab's `run_many`); the coach's findings come with
it.  Where the lab's server cannot yet play a case (a client that leaves half
way, a peer whose connection dropped), the check plays the server itself with
a scope built by the lab (freedoms.play_http, _connect below) and says so.
"""

from __future__ import annotations

from ..request import Request
from . import core as _core
from . import freedoms
from .core import (
    LearnerError,
    asgi,
    call_async,
    describe,
    doing,
    exercise,
    expect,
    fact,
    failed,
    need,
)

LESSON_ASGI = "04 ASGI (notebooks/04_*.ipynb)"
LESSON_WS = "05 Long-lived connections (notebooks/05_*.ipynb)"
LESSON_LOOP = "06 The concurrency showdown (notebooks/06_*.ipynb)"
TEXT = "text/plain; charset=utf-8"
QUERY_HINT = "parse_qs(scope['query_string'].decode('latin-1')) decodes %XX and '+'"


def _asgi_module():
    try:
        from .. import asgi as module
    except ImportError as error:
        raise LearnerError("the lab's ASGI gateway (gateway_lab.asgi) is not available in this "
                           f"install: {error}") from None
    return module


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
    "parse_qs(scope['query_string'].decode('latin-1')) decodes it (with bytes, parse_qs "
    "gives bytes keys, and .get('name') finds nothing).",
    "Header names and values in ASGI are bytes; the status is an int, not '200 OK'. "
    "Check scope['type'] == 'http' first: the server may also send a 'lifespan' scope.",
])
def check_07(module):
    app = _app(module)
    ex = asgi(app, Request("GET", "/"))
    yield expect("GET / says hello to the world", ex, status=200, body="Hello, world!",
                 headers={"Content-Type": TEXT},
                 rule="ASGI HTTP spec §Response Start: status is an int, headers are "
                      "(bytes, bytes) pairs with lower-case names",
                 hint="await send({'type': 'http.response.start', 'status': 200, 'headers': "
                      "[(b'content-type', b'text/plain; charset=utf-8')]})")
    ex = asgi(app, Request("GET", "/?name=Ada"))
    yield expect("GET /?name=Ada greets Ada", ex, status=200, body="Hello, Ada!",
                 rule="ASGI HTTP spec §HTTP Connection Scope: query_string is a byte string, "
                      "not url-decoded", hint=QUERY_HINT)
    ex = asgi(app, Request("GET", "/?x=1&name=J%C3%BCrgen"))
    yield expect("?x=1&name=J%C3%BCrgen: the name comes second and is percent-encoded UTF-8",
                 ex, status=200, body="Hello, Jürgen!".encode(), hint=QUERY_HINT)
    ex = asgi(app, Request("GET", "/?name=Ada+Lovelace"))
    yield expect("?name=Ada+Lovelace: a '+' in a query is a space", ex, status=200,
                 body="Hello, Ada Lovelace!",
                 rule="HTML's application/x-www-form-urlencoded sends a space as '+'",
                 hint=QUERY_HINT)


# -- 08 -----------------------------------------------------------------------------

BODY_RULE = (f"{freedoms.ASGI_REQUEST}: `body` is optional (default b\"\") and `more_body` is "
             "optional (default False); keep receiving while more_body is True")
BODY_HINT = "message.get('body', b'') and message.get('more_body', False), never message[...]"


@exercise("08_asgi_body", "ASGI: a request body that arrives in many chunks", LESSON_ASGI,
          hints=[
    "One `await receive()` gives one http.request message: its 'body' may be only part "
    "of the request. Keep calling receive() while message.get('more_body', False) is True.",
    "Both keys are optional: a server may leave out 'more_body' on the last message and "
    "'body' when it is empty. Use message.get(...) with the defaults b'' and False.",
    "A client may leave half way: receive() then gives {'type': 'http.disconnect'}. Check "
    "message['type'] and return without answering. Collect the pieces in a list and "
    "b''.join() them at the end.",
])
def check_08(module):
    app = _app(module)
    cases = [
        ("a body in 3 chunks is echoed whole", [b"ab", b"cd", b"ef"]),
        ("a body in one chunk", [b"hello"]),
        ("an empty body", []),
        ("100 chunks of 1000 bytes", [bytes([65 + i % 26]) * 1000 for i in range(100)]),
        ("a body that comes one byte per message", [bytes([c]) for c in b"hello, world"]),
    ]
    for title, chunks in cases:
        body = b"".join(chunks)
        request = Request("POST", "/echo", {"Content-Type": "application/octet-stream"},
                          chunks=chunks)
        ex = asgi(app, request)
        yield expect(title, ex, status=200, body=body,
                     headers={"Content-Length": str(len(body))}, rule=BODY_RULE,
                     hint="loop: message = await receive(); parts.append(...); stop when "
                          "message.get('more_body', False) is False")
    # HTTP/1.1 chunked upload (RFC 9112 §7.1): the client does not know the length, so there
    # is no Content-Length header; only more_body says when the body is over.
    chunks = [b"ab", b"cd", b"ef"]
    request = Request("POST", "/echo", {"Content-Type": "application/octet-stream",
                                        "Transfer-Encoding": "chunked"}, chunks=chunks)
    ex = asgi(app, request)
    yield expect("a chunked upload: no content-length header, the body in 3 messages", ex,
                 status=200, body=b"".join(chunks), headers={"Content-Length": "6"},
                 note="(Transfer-Encoding: chunked, so scope['headers'] has no content-length)",
                 rule=f"RFC 9112 §7.1: a chunked body has no Content-Length; {BODY_RULE}",
                 hint="read until more_body is False; never count on a content-length header")
    for title, chunks in (("a server that leaves out optional keys: more_body on the last "
                           "message", [b"ab", b"cd"]),
                          ("a server that leaves out optional keys: body and more_body of an "
                           "empty request", [])):
        body = b"".join(chunks)
        request = Request("POST", "/echo", {"Content-Type": "application/octet-stream"},
                          chunks=chunks)
        ex = asgi(freedoms.bare_messages(app), request)
        yield expect(title, ex, status=200, body=body,
                     note="(this server sends {'type': 'http.request'} without 'body' when it "
                          "is b'' and without 'more_body' when it is False)",
                     rule=BODY_RULE, hint=BODY_HINT)
    yield _leaves_mid_body(app)


def _leaves_mid_body(app):
    title = "a client that leaves half way through the body: the app stops and answers nothing"
    request = Request("POST", "/echo", {"Content-Type": "application/octet-stream"},
                      chunks=[b"ab", b"cd", b"ef"])
    sent = ("POST /echo, body in 3 chunks; after the first one the client disconnects: the "
            "next receive() is {'type': 'http.disconnect'}")
    try:
        played = call_async(lambda: freedoms.play_http(app, request, leave_after_chunks=1),
                            what="POST /echo to your app (the client leaves half way)")
    except LearnerError as error:
        return failed(title, error, sent=sent)
    problems = []
    if played.still_running:
        problems.append("the app was still running 0.5 s after the client left: it waits for "
                        "a body that will never come")
    if played.after_leaving:
        kinds = [m.get("type") for m in played.after_leaving]
        problems.append(f"the app answered a client that had gone: it sent {kinds} after "
                        "http.disconnect")
    if played.error is not None and not isinstance(played.error, OSError):
        problems.append(f"the app raised {describe(played.error)} on http.disconnect")
    return fact(title, not problems, "\n".join(problems), sent=sent,
                got=f"sent before leaving {[m.get('type') for m in played.sent]}, after "
                    f"{[m.get('type') for m in played.after_leaving]}; raised "
                    f"{type(played.error).__name__ if played.error else 'nothing'}",
                rule=f"{freedoms.ASGI_DISCONNECT}: “Sent to the application ... after the "
                     "HTTP connection has been closed”: the rest of the body will not come",
                hint="if message['type'] == 'http.disconnect': return")


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
    module_asgi = _asgi_module()
    app = _app(module)
    pool_class = need(module, "Pool", "the Pool class (it is in the stub)")
    made_before = getattr(pool_class, "made", 0)
    life = getattr(module_asgi, "lifespan", None)
    if life is not None:
        doing("lifespan.startup, then lifespan.shutdown, through gl.lifespan",
              _core.RUN_TIMEOUT * 2)
        result = life(app, timeout=_core.RUN_TIMEOUT)
        findings = list(getattr(result, "findings", []))
        state = getattr(result, "state", None) or {}
        problems = [] if "pool" in state else [
            f"expected scope['state']['pool'] to be set at startup; the state is {state!r}"]
        if findings:
            problems.append(f"the spec coach found {len(findings)} broken rule(s), listed below")
        yield _core.CheckResult(
            "startup and shutdown complete; startup puts a pool in the state",
            not problems, "\n".join(problems), "lifespan.startup, then lifespan.shutdown",
            f"state: {state!r}", findings,
            rule="ASGI lifespan spec: reply lifespan.startup.complete and "
                 "lifespan.shutdown.complete; state is shared with every request",
            hint="scope['state']['pool'] = Pool() before lifespan.startup.complete")
    try:
        bodies, pools, closed_at_end = call_async(lambda: _serve(app, 3), what="your app",
                                                  timeout=_core.RUN_TIMEOUT * 2)
    except LearnerError as error:
        yield failed("a server's life: startup, 3 requests sharing the pool, shutdown", error,
                     sent="lifespan.startup, GET / x 3, lifespan.shutdown")
        return
    made = getattr(pool_class, "made", 0) - made_before
    want = [b"visit 1", b"visit 2", b"visit 3"]
    yield fact("3 requests share the pool made at startup: visit 1, visit 2, visit 3",
               bodies == want, f"expected the bodies {want!r}, got {bodies!r}",
               sent="lifespan.startup, then GET / three times", got=f"bodies {bodies!r}",
               rule="ASGI lifespan spec §Lifespan State: each request gets a shallow copy of "
                    "the state dict, so the objects in it are shared",
               hint="pool = scope['state']['pool']; pool.visits += 1")
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
               got=f"pools in the state: {pools}, closed: {closed_at_end}",
               rule="ASGI lifespan spec: startup and shutdown happen once per server",
               hint="make the Pool at lifespan.startup, pool.close() at lifespan.shutdown")
    yield _startup_that_fails(module, app, pool_class)


STARTUP_FAILED_RULE = (
    "ASGI lifespan spec §Scope: if the app raises during lifespan, the server “must "
    "continue but not send any lifespan events” (it takes the app for one without "
    "lifespan, and serves requests with no pool); to stop it, send lifespan.startup.failed")


def _startup_that_fails(module, app, pool_class):
    """Startup whose Pool() raises: the app must say lifespan.startup.failed (with a
    message for the server's log), not let the error out."""
    def failing_pool(*args, **kwargs):
        raise ConnectionError("the database at db:5432 is unreachable")

    module.Pool = failing_pool  # the app looks Pool up in its module when it runs
    try:
        reply = call_async(lambda: _startup_reply(app), what="your app",
                           timeout=_core.RUN_TIMEOUT * 2)
    except LearnerError as error:
        reply = f"an error: {error}"
    finally:
        module.Pool = pool_class
    ok = isinstance(reply, dict) and reply.get("type") == "lifespan.startup.failed" and \
        isinstance(reply.get("message"), str) and bool(reply["message"])
    return fact("when Pool() fails at startup: lifespan.startup.failed with a message", ok,
                "expected {'type': 'lifespan.startup.failed', 'message': '...'}, got "
                f"{reply if isinstance(reply, str) else _said(reply)}",
                sent="lifespan.startup (Pool() raises ConnectionError)", got=str(reply),
                rule=STARTUP_FAILED_RULE,
                hint="try: pool = Pool() / except Exception as error: await send({'type': "
                     "'lifespan.startup.failed', 'message': str(error)}); return")


async def _startup_reply(app):
    """The app's answer to lifespan.startup, or a LearnerError if it raised."""
    import asyncio

    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
             "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    try:
        return await _next(from_app, task)
    finally:
        if not task.done():
            await to_app.put({"type": "lifespan.shutdown"})
        await _finish(task)


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
        return "nothing (the app returned, or did not answer within 0.5 s)"
    return repr(reply)


async def _http(app, state: dict) -> bytes:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = _asgi_module().connection_scope(Request("GET", "/"), state=state)
    try:
        await app(scope, receive, send)
    except Exception as error:
        raise LearnerError(f"GET / raised {describe(error)}") from None
    return b"".join(m.get("body", b"") for m in sent if m.get("type") == "http.response.body")


# -- 10 -----------------------------------------------------------------------------

@exercise("10_asgi_websocket", "ASGI WebSocket: echo, and a chat that broadcasts", LESSON_WS,
          hints=[
    "A websocket scope starts with receive() -> {'type': 'websocket.connect'}; answer "
    "await send({'type': 'websocket.accept'}), then loop on receive(): 'websocket.receive' "
    "carries 'text' or 'bytes', 'websocket.disconnect' means the client is gone: return.",
    "Echo: send back {'type': 'websocket.send', 'text': message['text']} (or 'bytes' for a "
    "binary frame: keep the same kind). A server may put both keys in the message, the unused "
    "one None: test message.get('text') is not None, not 'text' in message.",
    "Chat: keep a module-level set of the `send` callables of connected clients; add yours "
    "after accept, send each text to all of them, and remove yours in a `finally:`. A peer "
    "whose connection dropped makes its send() raise (an OSError): catch that around each "
    "send, drop that peer, and go on with the others.",
])
def check_10(module):
    from ..request import Close

    app = _app(module)
    script = ["hello", b"\x00\x01binary", "caf\u00e9", Close(1000)]
    want = script[:3]
    ex = asgi(app, Request.websocket("/echo", script))
    yield expect("/echo sends every message back, text as text and bytes as bytes", ex,
                 problems=[None if list(ex.messages) == want else
                           f"expected the messages {want!r} back, got {list(ex.messages)!r}"],
                 rule="ASGI WebSocket spec §Receive/§Send: exactly one of bytes and text is "
                      "not None", hint="answer with the same key the message came with")
    ex = asgi(freedoms.both_keys(app), Request.websocket("/echo", script))
    yield expect("/echo on a server that puts both 'text' and 'bytes' in every message", ex,
                 problems=[None if list(ex.messages) == want else
                           f"expected the messages {want!r} back, got {list(ex.messages)!r}"],
                 note="(this server sends {'type': 'websocket.receive', 'text': 'hello', "
                      "'bytes': None})",
                 rule="ASGI WebSocket spec §Receive: “Exactly one of bytes or text must be "
                      "non-None. One or both keys may be present, however.”",
                 hint="if message.get('text') is not None: ... else: ... (not: if 'text' in "
                      "message)")
    yield _broadcast(app)
    yield _peer_gone(app)


async def _connect(app, path: str, name: str, send=None):
    """Open one WebSocket to `app` as a server would; returns (inbox, outbox, task).
    `send`, if given, is what the app gets as send() (a connection that can drop)."""
    import asyncio

    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    request = Request.websocket(path, client=("127.0.0.1", 50000 + ord(name[0])))
    scope = _asgi_module().connection_scope(request)
    await inbox.put({"type": "websocket.connect"})
    task = asyncio.create_task(app(scope, inbox.get, send or outbox.put))
    first = await _next(outbox, task) if send is None else None
    if send is None and not (isinstance(first, dict)
                             and first.get("type") == "websocket.accept"):
        raise LearnerError(f"client {name} connected to {path}: expected websocket.accept, "
                           f"got {first!r}")
    return inbox, outbox, task


async def _next(outbox, task, wait: float = 0.5):
    import asyncio

    getter = asyncio.ensure_future(outbox.get())
    done, _ = await asyncio.wait({getter, task}, timeout=wait,
                                 return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    if task in done and task.exception() is not None:
        raise LearnerError(f"the app raised {describe(task.exception())}")
    return None


async def _finish(*tasks) -> None:
    import asyncio

    for task in tasks:
        try:
            await asyncio.wait_for(task, 1.0)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - reported by the caller
            task.cancel()


BROADCAST_RULE = ("RFC 6455 §7: once a connection is closed no more frames go over it; ASGI "
                  "WebSocket spec §Disconnect: websocket.disconnect ends the connection")


def _broadcast(app):
    """Two clients on /chat, played by the checker as the server: a message from one
    reaches both; after one leaves, nobody sends to it."""
    import asyncio

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
        await _finish(a_task, b_task)
        return problems

    sent = "A and B connect to /chat; A sends 'hi from A'; B leaves; A sends 'still there?'"
    title = "/chat broadcasts to every connected client, and forgets one that left"
    try:
        problems = call_async(scenario, what="two clients on your /chat")
    except LearnerError as error:
        return failed(title, error, sent=sent)
    return fact(title, not problems, "\n".join(problems), sent=sent, rule=BROADCAST_RULE,
                hint="ROOM.add(send) after accept; ROOM.discard(send) in a finally:")


def _peer_gone(app):
    """Three clients on /chat; C's connection drops (its send() raises, as a server's does
    once the socket is gone, before the app has received websocket.disconnect)."""
    import asyncio

    disconnected = _asgi_module().Disconnected

    async def dropped_send(message):
        if message.get("type") == "websocket.accept":
            return
        raise disconnected("the connection to client C dropped")

    async def scenario():
        a_in, a_out, a_task = await _connect(app, "/chat", "A")
        b_in, b_out, b_task = await _connect(app, "/chat", "B")
        c_in, _, c_task = await _connect(app, "/chat", "C", send=dropped_send)
        await asyncio.sleep(0.05)  # C's accept goes through
        problems = []
        for text in ("anyone there?", "still there?"):
            await a_in.put({"type": "websocket.receive", "text": text})
            for who, out, task in (("A", a_out, a_task), ("B", b_out, b_task)):
                got = await _next(out, task)
                if not (got and got.get("text") == text):
                    problems.append(f"A sent {text!r}: expected client {who} to get it, got "
                                    f"{got!r}")
            if a_task.done():
                error = a_task.exception() if not a_task.cancelled() else None
                problems.append("A's connection ended when the app sent to C, whose connection "
                                "had dropped" + (f": it raised {describe(error)}" if error
                                                 else ""))
                break
        await c_in.put({"type": "websocket.disconnect", "code": 1006})
        for inbox in (a_in, b_in):
            await inbox.put({"type": "websocket.disconnect", "code": 1000})
        await _finish(a_task, b_task, c_task)
        return problems

    sent = ("A, B and C connect to /chat; C's connection drops (its send() raises an "
            "OSError); A sends 'anyone there?', then 'still there?'")
    title = "a peer whose connection dropped does not take the chat down"
    try:
        problems = call_async(scenario, what="three clients on your /chat, one of them gone")
    except LearnerError as error:
        return failed(title, error, sent=sent)
    return fact(title, not problems, "\n".join(problems), sent=sent,
                rule="ASGI WebSocket spec (2.4): send() on a closed connection raises an "
                     "OSError subclass; a broadcast must survive one peer's failure",
                hint="try: await member(message) except OSError: ROOM.discard(member), "
                     "around each send")


# -- 11 -----------------------------------------------------------------------------

SERVICE_DELAY = 0.2  # what the stub's price service takes; the checks hold it to that


@exercise("11_asgi_blocking", "unblock an ASGI app: 20 requests in about the time of one",
          LESSON_LOOP, timed=True,
          needs_threads="gl.run_many races the 20 requests on an event loop in a thread",
          hints=[
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

    try:
        from .. import concurrency
    except ImportError as error:
        raise LearnerError("the lab's concurrency lab (gateway_lab.concurrency) is not "
                           f"available in this install: {error}") from None
    app = _app(module)
    module.SERVICE_DELAY = SERVICE_DELAY  # the service really takes this long
    start = time.perf_counter()
    ex = asgi(app, Request("GET", "/price"))
    took = time.perf_counter() - start
    yield expect("one request: 200 'price: 42'", ex, status=200, body="price: 42",
                 hint="await fetch_price() and answer f'price: {price}'")
    yield fact(f"one request still waits for the price service ({SERVICE_DELAY:g} s)",
               took >= SERVICE_DELAY * 0.9,
               f"one request took {took:.3f} s, but the service takes {SERVICE_DELAY:g} s: "
               "ask the service (fetch_price) instead of skipping or shortening the wait",
               sent="GET /price", got=f"answered after {took:.3f} s",
               rule="the task: the same answer from the same service; only the waiting "
                    "changes", hint="price = await fetch_price()")
    delay = SERVICE_DELAY
    n, limit = 20, 5 * delay  # one request takes `delay`; in series 20 take 20 * delay
    requests = [Request("GET", f"/price?client={i}") for i in range(n)]
    doing(f"{n} x GET /price at once, gl.run_many(app, requests, model=gl.EventLoop())",
          n * delay + _core.RUN_TIMEOUT + 5)
    start = time.perf_counter()
    timeline = concurrency.run_many(app, requests, model=concurrency.EventLoop(),
                                    timeout=_core.RUN_TIMEOUT, deadline=n * delay + 2)
    makespan = _makespan(timeline, time.perf_counter() - start)
    ok = makespan <= limit
    yield fact(f"{n} requests at once on one event loop finish in about the time of one",
               ok, f"expected the {n} requests to finish within {limit:.1f} s (one takes "
               f"{delay:.1f} s), they took {makespan:.2f} s: something blocks the event loop, "
               "so they ran one after another",
               sent=f"{n} x GET /price at once, gl.run_many(app, requests, "
                    "model=gl.EventLoop())",
               got=f"all done after {makespan:.2f} s (in series: {n * delay:.1f} s)",
               rule="ASGI apps share one event loop: a blocking call stops every request",
               hint="await the async client instead of calling the blocking one")


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
