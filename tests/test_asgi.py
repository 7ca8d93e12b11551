"""The ASGI gateway: real Starlette, FastAPI and Django apps give the same responses
as starlette's TestClient; the scope, the body events, WebSockets and lifespan
follow the ASGI spec; and run_asgi works inside a running event loop."""

import asyncio
import json
import sys
import threading
import time

import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

import gateway_lab as gl
from gateway_lab import sandbox

# -- real framework apps --------------------------------------------------------------

def make_starlette():
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def life(app):
        yield {"greeting": "Hello"}

    async def hello(request):
        name = request.query_params.get("name", "world")
        return PlainTextResponse(f"{request.state.greeting}, {name}!")

    async def echo_json(request):
        data = await request.json()
        return JSONResponse({"received": data, "length": len(await request.body())})

    async def form(request):
        return JSONResponse(dict(await request.form()))

    async def stream(request):
        async def parts():
            for i in range(3):
                yield f"part {i}\n"
        return StreamingResponse(parts(), media_type="text/plain")

    async def go(request):
        return RedirectResponse("/hello?name=redirected")

    async def cookie(request):
        response = JSONResponse({"seen": request.cookies.get("flavour")})
        response.set_cookie("flavour", "oatmeal", httponly=True)
        return response

    async def boom(request):
        raise RuntimeError("boom")

    async def ws(websocket):
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"echo {text}")

    return Starlette(routes=[
        Route("/hello", hello), Route("/json", echo_json, methods=["POST"]),
        Route("/form", form, methods=["POST"]), Route("/stream", stream), Route("/go", go),
        Route("/cookie", cookie), Route("/boom", boom), WebSocketRoute("/ws", ws),
    ], lifespan=life)


def make_fastapi():
    app = FastAPI()

    class Item(BaseModel):
        name: str
        price: float

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: str | None = None):  # a sync route: run in a thread pool
        return {"item_id": item_id, "q": q}

    @app.post("/items")
    async def create_item(item: Item):
        return {"name": item.name, "price_with_tax": round(item.price * 1.2, 2)}

    return app


STARLETTE_CASES = [
    gl.Request("GET", "/hello?name=Ada"),
    gl.Request("POST", "/json", {"Content-Type": "application/json"}, b'{"a": [1, 2]}'),
    gl.Request("POST", "/form", {"Content-Type": "application/x-www-form-urlencoded"},
               b"name=Ada&lang=en"),
    gl.Request("GET", "/stream"),
    gl.Request("GET", "/go"),
    gl.Request("GET", "/cookie", {"Cookie": "flavour=chocolate"}),
    gl.Request("GET", "/nowhere"),
    gl.Request("HEAD", "/hello"),
]
FASTAPI_CASES = [
    gl.Request("GET", "/items/42?q=x"),
    gl.Request("POST", "/items", {"Content-Type": "application/json"},
               b'{"name": "pen", "price": 2.5}'),
    gl.Request("POST", "/items", {"Content-Type": "application/json"}, b'{"name": "pen"}'),
    gl.Request("GET", "/items/not-a-number"),
]


def reference(client: TestClient, req: gl.Request):
    headers = {k: v for k, v in req.headers if k.lower() not in ("host", "content-length")}
    return client.request(req.method, req.target, headers=headers, content=req.body or None,
                          follow_redirects=False)


def header_set(headers):
    # The app's own headers; the transport may add its framing.
    return sorted((k.lower(), v) for k, v in headers if k.lower() not in ("content-length",))


@pytest.fixture(scope="module")
def starlette_app():
    return make_starlette()


@pytest.mark.parametrize("req", STARLETTE_CASES, ids=lambda r: f"{r.method} {r.target}")
def test_starlette_parity(starlette_app, req):
    life = gl.lifespan(starlette_app)
    assert life.started and life.stopped and life.ok, life.findings
    ex = gl.run_asgi(starlette_app, req, state=life.state)
    with TestClient(starlette_app) as client:
        want = reference(client, req)
    assert ex.response.status == want.status_code
    assert ex.response.body == want.content
    assert header_set(ex.response.headers) == header_set(want.headers.multi_items())
    assert ex.findings == [], [str(f) for f in ex.findings]


@pytest.mark.parametrize("req", FASTAPI_CASES, ids=lambda r: f"{r.method} {r.target}")
def test_fastapi_parity(req):
    app = make_fastapi()
    ex = gl.run_asgi(app, req)
    want = reference(TestClient(app), req)
    assert ex.response.status == want.status_code
    assert ex.response.json() == want.json()
    assert header_set(ex.response.headers) == header_set(want.headers.multi_items())
    assert ex.findings == []


def test_starlette_websocket_parity(starlette_app):
    ex = gl.run_asgi(starlette_app, gl.Request.websocket("/ws", ["a", "b", gl.Close(1000)]))
    with TestClient(starlette_app) as client, client.websocket_connect("/ws") as socket:
        socket.send_text("a")
        first = socket.receive_text()
        socket.send_text("b")
        want = [first, socket.receive_text()]
    assert ex.response.status == 101
    assert ex.messages == want == ["echo a", "echo b"]
    assert ex.findings == []


def test_starlette_exception_is_a_500_with_a_finding(starlette_app):
    # Starlette sends its own 500 page, then re-raises so the server logs the error.
    ex = gl.run_asgi(starlette_app, gl.Request("GET", "/boom"))
    assert ex.response.status == 500 and ex.response.complete
    assert [f.rule for f in ex.findings] == ["asgi.app.raised_after_response"]
    assert "RuntimeError: boom" in ex.findings[0].message


def test_django_without_lifespan_still_serves_http(tmp_path, monkeypatch):
    django = pytest.importorskip("django")
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
                           SECRET_KEY="lab", MIDDLEWARE=[], INSTALLED_APPS=[])
    django.setup()
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
    life = gl.lifespan(app)
    assert not life.supported and life.ok  # not a mistake: a server carries on without it
    ex = gl.run_asgi(app, gl.Request("GET", "/django/?name=Ada"))
    assert ex.response.status == 200
    assert ex.response.body == b"Django says hi to Ada"
    assert ex.findings == []


def django_view(request):
    from django.http import HttpResponse

    return HttpResponse(f"Django says hi to {request.GET['name']}")


try:
    from django.urls import path as _path

    urlpatterns = [_path("django/", django_view)]
except ImportError:  # pragma: no cover
    urlpatterns = []


# -- the scope and the events, to the letter of the spec -------------------------------

def recorder():
    seen = {"messages": []}

    async def app(scope, receive, send):
        seen["scope"] = scope
        while True:
            message = await receive()
            seen["messages"].append(message)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        seen["after"] = await receive()  # the response is over: the client is gone

    return app, seen


def test_http_scope_keys():
    app, seen = recorder()
    req = gl.Request("GET", "/caf%C3%A9/a%20b?x=1&y=%20", {"X-Token": "t", "Accept": "a"},
                     client=("10.0.0.5", 4242), server=("example.org", 8080))
    ex = gl.run_asgi(app, req, root_path="/api")
    scope = seen["scope"]
    assert ex.response.status == 200 and ex.ok
    assert scope["type"] == "http" and scope["asgi"]["version"] == "3.0"
    assert scope["path"] == "/café/a b"                     # decoded text
    assert scope["raw_path"] == b"/caf%C3%A9/a%20b"          # bytes as sent
    assert scope["query_string"] == b"x=1&y=%20"             # bytes, still encoded
    assert scope["root_path"] == "/api"
    assert scope["method"] == "GET" and scope["http_version"] == "1.1"
    assert (b"x-token", b"t") in [tuple(h) for h in scope["headers"]]
    assert all(name == name.lower() and isinstance(name, bytes) for name, _ in scope["headers"])
    assert tuple(scope["client"]) == ("10.0.0.5", 4242)
    assert seen["after"] == {"type": "http.disconnect"}


def test_body_arrives_in_chunks_with_more_body():
    app, seen = recorder()
    gl.run_asgi(app, gl.Request("POST", "/", chunks=[b"ab", b"cd", b"e"]))
    bodies = [(m["body"], m["more_body"]) for m in seen["messages"]]
    assert bodies == [(b"ab", True), (b"cd", True), (b"e", False)]


def test_raw_bytes_are_parsed_and_bad_ones_refused():
    app, seen = recorder()
    ex = gl.run_asgi(app, b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
    assert ex.response.status == 200 and seen["messages"][0]["body"] == b"abc"
    bad = gl.run_asgi(app, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
    assert bad.response.status == 400
    assert [f.rule for f in bad.findings] == ["http.smuggling.cl_te"]


def test_lifespan_state_reaches_requests():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["pool"] = "the pool"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["state"]["pool"].encode()})

    life = gl.lifespan(app)
    assert life.started and life.stopped and life.state == {"pool": "the pool"}
    assert gl.run_asgi(app, gl.Request(), state=life.state).response.body == b"the pool"


def test_lifespan_failed_is_a_finding():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    life = gl.lifespan(app)
    assert not life.started
    assert [f.rule for f in life.findings] == ["asgi.lifespan.startup_failed"]
    assert "no database" in life.findings[0].message


def test_websocket_close_before_accept_is_403():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.close", "code": 1008})

    ex = gl.run_asgi(app, gl.Request.websocket("/ws", ["hi"]))
    assert ex.response.status == 403 and ex.messages == [] and ex.ok


def test_websocket_subprotocol_and_binary_frames():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept", "subprotocol": scope["subprotocols"][-1]})
        message = await receive()
        await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})
        await send({"type": "websocket.close", "code": 4000})

    ex = gl.run_asgi(app, gl.Request.websocket("/ws", [b"\x01\x02"],
                                               subprotocols=["chat.v1", "chat.v2"]))
    assert ex.response.status == 101
    assert ex.response.header("sec-websocket-protocol") == "chat.v2"
    assert ex.messages == [b"\x02\x01"] and ex.close_code == 4000 and ex.ok


# -- where it runs ------------------------------------------------------------------

async def slow_hello(scope, receive, send):
    await asyncio.sleep(0.1)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def test_run_asgi_inside_a_running_loop_like_a_notebook_cell():
    async def cell():
        assert asyncio.get_running_loop() is not None
        return gl.run_asgi(slow_hello, gl.Request())

    ex = asyncio.run(cell())
    assert ex.response.status == 200 and ex.response.body == b"hi" and ex.ok
    # Without patching asyncio (nest_asyncio replaces these): a nested run still refuses.
    assert asyncio.run.__module__ == "asyncio.runners"
    assert asyncio.BaseEventLoop.run_until_complete.__module__ == "asyncio.base_events"

    async def nested():
        coro = asyncio.sleep(0)
        try:
            asyncio.get_running_loop().run_until_complete(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError):
        asyncio.run(nested())


def test_run_asgi_async_interleaves_on_one_loop():
    async def many():
        start = time.perf_counter()
        exchanges = await asyncio.gather(*[gl.run_asgi_async(slow_hello, gl.Request())
                                           for _ in range(20)])
        return exchanges, time.perf_counter() - start

    exchanges, took = asyncio.run(many())
    assert all(ex.response.body == b"hi" for ex in exchanges)
    assert took < 1.0  # 20 x 0.1 s in series would be 2 s


async def shrugs_off_one_cancel(scope, receive, send):
    """A learner's `except asyncio.CancelledError: pass` around an await: the deadline's
    cancel is caught, and the app goes on awaiting."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        pass
    await asyncio.sleep(30)


def test_run_asgi_async_returns_at_its_deadline_when_the_app_swallows_the_cancel():
    async def run():
        start = time.perf_counter()
        ex = await gl.run_asgi_async(shrugs_off_one_cancel, gl.Request(), timeout=0.3)
        took = time.perf_counter() - start
        assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing left running
        return ex, took

    ex, took = asyncio.run(run())
    assert ex.response.status == 504
    assert took < 0.3 + 1.0
    (finding,) = ex.findings
    assert finding.rule == "asgi.app.timeout"
    assert "caught the asyncio.CancelledError" in finding.message


def test_run_asgi_async_lets_the_callers_cancellation_through():
    async def run():
        start = time.perf_counter()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(gl.run_asgi_async(shrugs_off_one_cancel, gl.Request(),
                                                     timeout=5), 0.2)
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return time.perf_counter() - start

    assert asyncio.run(run()) < 0.2 + 1.0


@pytest.mark.skipif(not hasattr(asyncio, "timeout"), reason="asyncio.timeout is 3.11+")
def test_run_asgi_async_deadline_leaves_the_callers_task_uncancelled():
    async def never(scope, receive, send):
        await asyncio.sleep(30)

    async def run():
        ex = await gl.run_asgi_async(never, gl.Request(), timeout=0.1)
        # The app's deadline was the app's: the caller's own timeout still works.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await asyncio.sleep(5)
        return ex, asyncio.current_task().cancelling()

    ex, cancelling = asyncio.run(run())
    assert ex.response.status == 504
    assert cancelling == 0


def test_run_asgi_from_a_thread():
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("ex", gl.run_asgi(
        slow_hello, gl.Request())))
    thread.start()
    thread.join(5)
    assert out["ex"].response.status == 200


def test_nothing_left_running():
    async def cell():
        return gl.run_asgi(slow_hello, gl.Request())

    asyncio.run(cell())
    gl.run_asgi(slow_hello, gl.Request())
    assert sandbox.lab_threads() == []


def test_json_roundtrip_of_an_asgi_exchange():
    ex = gl.run_asgi(slow_hello, gl.Request("GET", "/"))
    data = json.loads(json.dumps(ex.to_dict()))
    assert data["interface"] == "asgi" and data["response"]["status"] == 200
    ws = gl.run_asgi(make_starlette(), gl.Request.websocket("/ws", ["x"]))
    assert ws.to_dict()["messages"] == ["echo x"]


def test_two_scripted_clients_chat_through_one_app():
    room = []

    async def chat(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        room.append(send)
        try:
            while (message := await receive())["type"] == "websocket.receive":
                for peer in list(room):
                    await peer({"type": "websocket.send", "text": message["text"]})
        finally:
            room.remove(send)

    async def both():
        # B waits 50 ms (a number in the script is a pause), so A is in the room first.
        return await asyncio.gather(
            gl.run_asgi_async(chat, gl.Request.websocket("/chat", [0.05, "hi from A", 0.1])),
            gl.run_asgi_async(chat, gl.Request.websocket("/chat", [0.1, "hello from B", 0.1])))

    a, b = asyncio.run(both())
    assert a.messages == ["hi from A", "hello from B"]
    assert b.messages == ["hi from A", "hello from B"]
    assert a.ok and b.ok and room == []


def test_tasks_the_app_leaves_behind_are_cancelled():
    cancelled = []

    async def forever():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def app(scope, receive, send):
        scope["task"] = asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)  # let it start
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    ex = gl.run_asgi(app, gl.Request())
    assert ex.response.status == 204 and cancelled == [True]
    assert any(e.kind == "note" and "cancelled" in e.detail for e in ex.trace)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is Python 3.11+")
def test_an_app_timing_its_own_waits_is_not_taken_for_one_that_swallows_cancellation():
    """asyncio.timeout() (and asyncio.wait_for since 3.12) cancels the task it runs in
    and takes that back when it turns into TimeoutError: an app that times its receive()
    many times over is a right answer (exercise 19 has one), not an app holding off its
    cancellation, and runs to its end."""
    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(8):  # 8 x 0.05 s: well past the lab's grace for a caught cancel
            try:
                async with asyncio.timeout(0.05):
                    await receive()
            except TimeoutError:
                await send({"type": "http.response.body", "body": b"%d" % i,
                            "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})

    ex = gl.run_asgi(app, gl.Request("GET", "/"), timeout=3)
    assert (ex.response.status, ex.response.body) == (200, b"01234567!")
    assert [f.rule for f in ex.findings] == []
