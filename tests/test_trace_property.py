"""Property (issue 13): a trace read at the end says what a trace read step by step said,
and what a run with every memo off says, whatever the app reuses and mutates.

Random apps are built from a vocabulary of steps: start_response / send with header
lists and message dicts that are reused across steps and runs and changed in place
before and after they are passed; environ, scope and received messages changed by the
app; the Request changed between runs.  Each program runs as a session of several runs
three times: with its trace read after every step (each event's text made the moment it
happened), read only at the end, and with Request.memo switched off.
"""

import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gateway_lab as gl
from gateway_lab import trace as trace_module


def render(trace) -> list[tuple]:
    return [(e.actor, e.target, e.kind, e.detail, e.spec, repr(e.data),
             e.finding.rule if e.finding else None) for e in trace.events]


class Observer:
    """Keeps every Trace made, and reads the newest one when asked (eager mode)."""

    def __init__(self, eager: bool):
        self.eager = eager
        self.made = []

    def look(self):
        if self.eager and self.made:
            render(self.made[-1])


@pytest.fixture
def observe(monkeypatch):
    def install(eager: bool, memo: bool) -> Observer:
        observer = Observer(eager)
        init = trace_module.Trace.__init__

        def recording_init(self, *args, **kwargs):
            init(self, *args, **kwargs)
            observer.made.append(self)

        monkeypatch.setattr(trace_module.Trace, "__init__", recording_init)
        if not memo:
            monkeypatch.setattr(gl.Request, "memo", lambda self, key, make, *a: make(*a))
        return observer
    return install


REQUEST_CHANGES = st.sampled_from(["none", "target", "header", "body", "headers_dict",
                                   "method"])


def change_request(req, how: str, n: int) -> None:
    if how == "target":
        req.target = f"/changed/{n}?x={n}"
    elif how == "header":
        req.headers = req.headers + (("X-Run", str(n)),)
    elif how == "body":
        req.body = b"b" * (n + 1)
    elif how == "headers_dict":
        req.headers = {"X-Dict": str(n), "Content-Type": "text/plain"}
    elif how == "method":
        req.method = "PUT" if req.method == "POST" else "POST"


# -- WSGI ----------------------------------------------------------------------------

WSGI_OPS = st.lists(st.sampled_from([
    "start", "start_shared", "append_header", "clear_headers", "replace_header",
    "environ_path", "environ_del_query", "environ_add", "write", "yield", "yield_shared",
    "mutate_shared_chunk", "restart", "read_input",
]), min_size=1, max_size=10)


def make_wsgi_app(ops, observer):
    shared_headers = [("Content-Type", "text/plain")]
    shared_chunk = bytearray(b"abc")

    def app(environ, start_response):
        chunks = []
        write = None
        for op in ops:
            observer.look()
            try:
                if op == "start":
                    write = start_response("200 OK", [("Content-Type", "text/plain")])
                elif op == "start_shared":
                    write = start_response("200 OK", shared_headers)
                elif op == "append_header":
                    shared_headers.append((f"X-{len(shared_headers)}", "v"))
                elif op == "clear_headers":
                    shared_headers[:] = [("Content-Type", "text/html")]
                elif op == "replace_header":
                    shared_headers[0] = ("Content-Type", f"text/x{len(shared_headers)}")
                elif op == "environ_path":
                    environ["PATH_INFO"] = "/app-changed"
                elif op == "environ_del_query":
                    environ.pop("QUERY_STRING", None)
                elif op == "environ_add":
                    environ["app.key"] = [1, 2]
                elif op == "write" and write is not None:
                    write(b"written")
                elif op == "yield":
                    chunks.append(b"chunk")
                elif op == "yield_shared":
                    chunks.append(shared_chunk)
                elif op == "mutate_shared_chunk":
                    shared_chunk.extend(b"+")
                elif op == "restart":
                    start_response("500 Internal Server Error",
                                   [("Content-Type", "text/plain")], sys.exc_info())
                elif op == "read_input":
                    environ["wsgi.input"].read(2)
            except Exception:  # noqa: BLE001 - a rule the gateway enforces by raising
                pass
        observer.look()

        def body():
            for chunk in chunks:
                yield chunk
                observer.look()
                shared_chunk.extend(b"!")  # changed after it was sent
        return body()
    return app


def wsgi_session(ops, changes, observer):
    app = make_wsgi_app(ops, observer)
    req = gl.Request("POST", "/start?q=1", {"Content-Type": "text/plain"}, b"hello")
    out = []
    for n, how in enumerate(changes):
        ex = gl.run_wsgi(app, req, timeout=5)
        observer.look()
        out.append(render(ex.trace))
        change_request(req, how, n)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops=WSGI_OPS, changes=st.lists(REQUEST_CHANGES, min_size=1, max_size=3))
def test_wsgi_traces_read_late_say_what_they_said_at_the_time(observe, ops, changes):
    eager = wsgi_session(ops, changes, observe(eager=True, memo=True))
    late = wsgi_session(ops, changes, observe(eager=False, memo=True))
    no_memo = wsgi_session(ops, changes, observe(eager=False, memo=False))
    assert late == eager
    assert no_memo == eager


# -- ASGI ----------------------------------------------------------------------------

ASGI_OPS = st.lists(st.sampled_from([
    "receive", "receive_and_clear", "start", "start_shared", "append_header",
    "clear_headers", "body_shared", "body_more_shared", "mutate_body_dict", "body",
    "body_memoryview", "scope_path", "scope_headers", "header_memoryview",
]), min_size=1, max_size=10)


def make_asgi_app(ops, observer):
    shared_headers = [(b"content-type", b"text/plain")]
    shared_message = {"type": "http.response.body", "body": b"aaaa", "more_body": True}

    async def app(scope, receive, send):
        received = 0
        for op in ops:
            observer.look()
            if op.startswith("receive"):
                received += 1
                if received > 2:  # the body is two chunks: a third receive() would wait
                    continue
            try:
                if op == "receive":
                    await receive()
                elif op == "receive_and_clear":
                    (await receive()).clear()
                elif op == "start":
                    await send({"type": "http.response.start", "status": 200,
                                "headers": [(b"content-type", b"text/plain")]})
                elif op == "start_shared":
                    await send({"type": "http.response.start", "status": 200,
                                "headers": shared_headers})
                elif op == "append_header":
                    shared_headers.append((b"x-n", str(len(shared_headers)).encode()))
                elif op == "clear_headers":
                    shared_headers[:] = [(b"content-type", b"text/html")]
                elif op == "header_memoryview":
                    shared_headers.append((b"x-mv", memoryview(b"v")))
                elif op == "body_shared":
                    shared_message["more_body"] = False
                    await send(shared_message)
                elif op == "body_more_shared":
                    shared_message["more_body"] = True
                    await send(shared_message)
                elif op == "mutate_body_dict":
                    shared_message["body"] = shared_message["body"] + b"b"
                elif op == "body":
                    await send({"type": "http.response.body", "body": b"x"})
                elif op == "body_memoryview":
                    await send({"type": "http.response.body", "body": memoryview(b"mv"),
                                "more_body": True})
                elif op == "scope_path":
                    scope["path"] = "/app-changed"
                elif op == "scope_headers":
                    scope["headers"].append((b"x-app", b"1"))
            except Exception:  # noqa: BLE001 - send() raises for a broken rule
                pass
        observer.look()
    return app


def asgi_session(ops, changes, observer):
    app = make_asgi_app(ops, observer)
    req = gl.Request("POST", "/start?q=1", {"Content-Type": "text/plain"},
                     chunks=[b"ab", b"cd"])
    out = []
    for n, how in enumerate(changes):
        ex = gl.run_asgi(app, req, timeout=2)
        observer.look()
        out.append(render(ex.trace))
        change_request(req, how, n)
    return out


def _timeless(sessions):
    # A finding about time (a blocked loop, a timeout) states seconds: equal up to them.
    return [[row for row in run if row[6] not in ("asgi.loop.blocked", "asgi.app.timeout")]
            for run in sessions]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops=ASGI_OPS, changes=st.lists(REQUEST_CHANGES, min_size=1, max_size=3))
def test_asgi_traces_read_late_say_what_they_said_at_the_time(observe, ops, changes):
    eager = asgi_session(ops, changes, observe(eager=True, memo=True))
    late = asgi_session(ops, changes, observe(eager=False, memo=True))
    no_memo = asgi_session(ops, changes, observe(eager=False, memo=False))
    assert _timeless(late) == _timeless(eager)
    assert _timeless(no_memo) == _timeless(eager)
