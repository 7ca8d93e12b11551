"""The ASGI half of the spec coach: broken apps get what uvicorn would give (500,
a cut response, 403/500 for a WebSocket handshake) and a finding that names the
rule; a blocked event loop is caught and measured; nothing is left running."""

import asyncio
import threading
import time

import pytest

import gateway_lab as gl
from gateway_lab import sandbox
from gateway_lab.rules import all_rules

START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain")]}


def body(data=b"ok", more=False):
    return {"type": "http.response.body", "body": data, "more_body": more}


# -- HTTP ---------------------------------------------------------------------

async def body_before_start(scope, receive, send):
    await send(body())


async def start_twice(scope, receive, send):
    await send(START)
    await send(START)


async def never_responds(scope, receive, send):
    await receive()


async def incomplete(scope, receive, send):
    await send(START)
    await send(body(b"part", more=True))


async def send_after_complete(scope, receive, send):
    await send(START)
    await send(body())
    await send(body(b"more"))


async def unknown_type(scope, receive, send):
    await send({"type": "http.response.begin", "status": 200})


async def status_str(scope, receive, send):
    await send({"type": "http.response.start", "status": "200 OK", "headers": []})


async def status_out_of_range(scope, receive, send):
    await send({"type": "http.response.start", "status": 999, "headers": []})


async def header_str(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [("content-type", "text/plain")]})


async def headers_dict(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [b"content-type"]})


async def header_splitting(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"x-name", b"a\r\nset-cookie: evil=1")]})
    await send(body())


async def body_str(scope, receive, send):
    await send(START)
    await send({"type": "http.response.body", "body": "hello"})


async def message_not_dict(scope, receive, send):
    await send(["http.response.start", 200])


async def message_bad_value(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [], "extra": {1, 2}})


async def raises_before_start(scope, receive, send):
    raise KeyError("user_id")


async def raises_after_start(scope, receive, send):
    await send(START)
    await send(body(b"first", more=True))
    raise ValueError("halfway")


async def content_length_wrong(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"10")]})
    await send(body(b"short"))


async def body_on_204(scope, receive, send):
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send(body(b"stray"))


async def trailers_unannounced(scope, receive, send):
    await send(START)
    await send(body(more=True))
    await send({"type": "http.response.trailers", "headers": []})


async def returns_value(scope, receive, send):
    await send(START)
    await send(body())
    return "done"


def plain_def(scope, receive, send):  # forgot async
    return None


async def two_params(scope, receive):
    pass


def wsgi_app_given_to_asgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"x"]


async def sleeps_in_async(scope, receive, send):
    time.sleep(0.25)  # blocks the loop: every other request waits
    await send(START)
    await send(body())


async def cpu_loop_forever(scope, receive, send):
    while True:
        pass


async def awaits_forever(scope, receive, send):
    await asyncio.Event().wait()


async def receive_after_body(scope, receive, send):
    await receive()
    await receive()  # waits for http.disconnect, which only comes after the response


async def reads_after_disconnect(scope, receive, send):
    await send(START)
    await send(body())
    for _ in range(3):
        await receive()


async def header_name_with_space(scope, receive, send):
    await send({**START, "headers": [(b"content-type", b"text/plain"), (b"x user", b"1")]})
    await send(body())


async def content_length_not_a_number(scope, receive, send):
    await send({**START, "headers": [(b"content-type", b"text/plain"),
                                      (b"content-length", b"abc")]})
    await send(body())


async def status_101(scope, receive, send):
    await send({**START, "status": 101})
    await send(body(b""))


# -- WebSocket ------------------------------------------------------------------

async def ws_send_before_accept(scope, receive, send):
    await receive()
    await send({"type": "websocket.send", "text": "hi"})


async def ws_no_handshake(scope, receive, send):
    await receive()


async def ws_accept_twice(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.accept"})


async def ws_both_payloads(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "a", "bytes": b"a"})


async def ws_text_is_bytes(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": b"a"})


async def ws_send_after_close(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close"})
    await send({"type": "websocket.send", "text": "late"})


async def ws_unknown(scope, receive, send):
    await receive()
    await send({"type": "websocket.open"})


async def ws_subprotocol_not_offered(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept", "subprotocol": "graphql"})
    await send({"type": "websocket.close"})


async def ws_receive_before_accept(scope, receive, send):
    await receive()
    await receive()


async def ws_close_code_str(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": "1000"})


async def ws_receives_forever(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    while True:  # never looks at the type: after the disconnect it spins
        await receive()


async def ws_raises_after_accept(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    raise RuntimeError("chat room is full")


HTTP = {
    "body_before_start": (body_before_start, "asgi.http.body_before_start", 500),
    "start_twice": (start_twice, "asgi.http.start_twice", 200),
    "never_responds": (never_responds, "asgi.http.no_response", 500),
    "incomplete": (incomplete, "asgi.http.incomplete_response", 200),
    "send_after_complete": (send_after_complete, "asgi.http.after_complete", 200),
    "unknown_type": (unknown_type, "asgi.http.unknown_message", 500),
    "status_str": (status_str, "asgi.http.bad_status", 500),
    "status_out_of_range": (status_out_of_range, "asgi.http.bad_status", 500),
    "header_str": (header_str, "asgi.http.header_not_bytes", 500),
    "headers_not_pairs": (headers_dict, "asgi.http.bad_headers", 500),
    "header_splitting": (header_splitting, "asgi.http.header_control_chars", 200),
    "body_str": (body_str, "asgi.http.body_not_bytes", 200),
    "header_name_with_space": (header_name_with_space, "asgi.http.bad_header_name", 500),
    "content_length_not_a_number": (content_length_not_a_number,
                                    "asgi.http.content_length_invalid", 500),
    "status_101": (status_101, "asgi.http.informational_status", 500),
    "message_not_dict": (message_not_dict, "asgi.message.not_dict", 500),
    "message_bad_value": (message_bad_value, "asgi.message.bad_value", 500),
    "raises_before_start": (raises_before_start, "asgi.app.raised", 500),
    "raises_after_start": (raises_after_start, "asgi.app.raised_after_start", 200),
    "content_length_wrong": (content_length_wrong, "asgi.http.content_length_mismatch", 200),
    "body_on_204": (body_on_204, "asgi.http.body_not_allowed", 204),
    "trailers_unannounced": (trailers_unannounced, "asgi.http.trailers_not_announced", 200),
    "returns_value": (returns_value, "asgi.app.returned_value", 200),
    "plain_def": (plain_def, "asgi.app.not_async", 500),
    "two_params": (two_params, "asgi.app.signature", 500),
    "wsgi_app": (wsgi_app_given_to_asgi, "asgi.app.is_wsgi", 500),
    "not_callable": ("app", "asgi.app.not_callable", 500),
    "sleeps_in_async": (sleeps_in_async, "asgi.loop.blocked", 200),
    "cpu_loop_forever": (cpu_loop_forever, "asgi.loop.blocked", 504),
    "awaits_forever": (awaits_forever, "asgi.app.timeout", 504),
    "receive_after_body": (receive_after_body, "asgi.app.timeout", 504),
    "reads_after_disconnect": (reads_after_disconnect, "asgi.http.receive_after_disconnect",
                               200),
}
WEBSOCKET = {
    "ws_send_before_accept": (ws_send_before_accept, "asgi.ws.send_before_accept", 500),
    "ws_no_handshake": (ws_no_handshake, "asgi.ws.no_handshake", 500),
    "ws_accept_twice": (ws_accept_twice, "asgi.ws.accept_twice", 101),
    "ws_both_payloads": (ws_both_payloads, "asgi.ws.bad_payload", 101),
    "ws_text_is_bytes": (ws_text_is_bytes, "asgi.ws.bad_payload", 101),
    "ws_send_after_close": (ws_send_after_close, "asgi.ws.after_close", 101),
    "ws_unknown": (ws_unknown, "asgi.ws.unknown_message", 500),
    "ws_subprotocol_not_offered": (ws_subprotocol_not_offered,
                                   "asgi.ws.subprotocol_not_offered", 101),
    "ws_receive_before_accept": (ws_receive_before_accept, "asgi.ws.receive_before_accept",
                                 500),
    "ws_raises_after_accept": (ws_raises_after_accept, "asgi.ws.raised", 101),
    "ws_close_code_str": (ws_close_code_str, "asgi.ws.bad_close_code", 101),
    "ws_receives_forever": (ws_receives_forever, "asgi.ws.receive_after_disconnect", 101),
}
TIMEOUT = 0.5


def check(ex, rule, status, elapsed):
    rules = [f.rule for f in ex.findings]
    assert rule in rules, (rules, str(ex))
    assert ex.response.status == status, str(ex)
    assert elapsed < TIMEOUT + 1.0
    assert sandbox.lab_threads() == []
    finding = next(f for f in ex.findings if f.rule == rule)
    assert finding.message and finding.hint and finding.url.startswith("https://")
    assert any(e.finding is finding for e in ex.trace)  # shown where it happened


@pytest.mark.parametrize("name", sorted(HTTP))
def test_broken_http_app(name):
    app, rule, status = HTTP[name]
    start = time.perf_counter()
    ex = gl.run_asgi(app, gl.Request("POST", "/", body=b"tiny"), timeout=TIMEOUT)
    check(ex, rule, status, time.perf_counter() - start)


@pytest.mark.parametrize("name", sorted(WEBSOCKET))
def test_broken_websocket_app(name):
    app, rule, status = WEBSOCKET[name]
    start = time.perf_counter()
    ex = gl.run_asgi(app, gl.Request.websocket("/ws", ["hello"]), timeout=TIMEOUT)
    check(ex, rule, status, time.perf_counter() - start)


def test_the_same_broken_apps_inside_a_running_loop():
    """In a notebook the app runs on the lab's loop thread; the answers are the same."""
    async def cell():
        out = {}
        for name in ("body_before_start", "cpu_loop_forever", "awaits_forever",
                     "sleeps_in_async"):
            app, rule, status = HTTP[name]
            start = time.perf_counter()
            out[name] = (gl.run_asgi(app, gl.Request(), timeout=TIMEOUT),
                         time.perf_counter() - start)
        return out

    for name, (ex, elapsed) in asyncio.run(cell()).items():
        app, rule, status = HTTP[name]
        check(ex, rule, status, elapsed)


def test_blocked_loop_says_how_long():
    ex = gl.run_asgi(sleeps_in_async, gl.Request())
    finding = next(f for f in ex.findings if f.rule == "asgi.loop.blocked")
    seconds = float(finding.message.split("for ")[1].split(" s")[0])
    assert 0.25 <= seconds < 1.0
    assert "asyncio.sleep" in finding.hint


def test_a_cut_response_after_the_start():
    ex = gl.run_asgi(raises_after_start, gl.Request())
    assert ex.response.complete is False and ex.response.body == b"first"
    assert "ValueError: halfway" in ex.findings[0].message


def test_response_splitting_is_never_sent():
    ex = gl.run_asgi(header_splitting, gl.Request())
    assert all("evil" not in v for _, v in ex.response.headers)


def test_websocket_error_closes_with_1011():
    ex = gl.run_asgi(ws_raises_after_accept, gl.Request.websocket("/ws"))
    assert ex.close_code == 1011
    assert "chat room is full" in ex.findings[0].message


def test_lifespan_broken_apps():
    async def wrong_reply(scope, receive, send):
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def raises_in_shutdown(scope, receive, send):
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise OSError("could not close the pool")

    async def never_answers(scope, receive, send):
        await asyncio.Event().wait()

    cases = [(wrong_reply, "asgi.lifespan.bad_transition"),
             (raises_in_shutdown, "asgi.lifespan.raised"),
             (never_answers, "asgi.lifespan.timeout")]
    for app, rule in cases:
        start = time.perf_counter()
        life = gl.lifespan(app, timeout=TIMEOUT)
        assert rule in [f.rule for f in life.findings], (rule, life.findings)
        assert time.perf_counter() - start < 3 * TIMEOUT
    assert sandbox.lab_threads() == []


# Learner mistakes in lifespan: each gets the one finding that names it, and the
# Lifespan says what a server made of it (never "does not support lifespan" for an app
# that speaks it, never the lab's own exception as the app's).

async def answers_startup_twice(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.startup.complete"})
    await receive()
    await send({"type": "lifespan.shutdown.complete"})


async def sends_a_str_at_startup(scope, receive, send):
    await receive()
    await send("lifespan.startup.complete")


async def sends_none_at_shutdown(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.complete"})
    await receive()
    await send(None)


def plain_def_app(scope, receive, send):
    return None


def wsgi_app(environ, start_response):
    start_response("200 OK", [])
    return [b"hi"]


@pytest.mark.parametrize("app, rules, supported, started", [
    (answers_startup_twice, ["asgi.lifespan.answered_twice"], True, True),
    (sends_a_str_at_startup, ["asgi.message.not_dict"], True, False),
    (sends_none_at_shutdown, ["asgi.message.not_dict"], True, True),
    (plain_def_app, ["asgi.app.not_async"], False, False),
    (wsgi_app, ["asgi.app.is_wsgi"], False, False),
    (None, ["asgi.app.not_callable"], False, False),
])
def test_lifespan_mistakes_are_named_once_and_truly(app, rules, supported, started):
    life = gl.lifespan(app, timeout=TIMEOUT)
    assert [f.rule for f in life.findings] == rules
    assert (life.supported, life.started, life.stopped) == (supported, started, False)
    shown = str(life.trace)
    assert "_Handled" not in shown and "_NotAsync" not in shown
    if supported:
        assert "does not support lifespan" not in shown
    assert gl.lifespan(answers_startup_twice, timeout=TIMEOUT).started  # the next run works


def test_lifespan_startup_that_blocks_the_loop_is_stopped_and_not_called_unsupported():
    async def sleeps_at_startup(scope, receive, send):
        await receive()
        time.sleep(30)  # the learner's mistake: a blocking sleep inside async def

    life = gl.lifespan(sleeps_at_startup, timeout=TIMEOUT)
    assert life.supported and not life.started
    rules = [f.rule for f in life.findings]
    assert "asgi.loop.blocked" in rules and "asgi.lifespan.timeout" in rules
    assert "does not support lifespan" not in str(life.trace)


def test_every_asgi_rule_has_a_case_or_a_reason():
    covered = {rule for _, rule, _ in {**HTTP, **WEBSOCKET}.values()}
    covered |= {"asgi.lifespan.bad_transition", "asgi.lifespan.raised", "asgi.lifespan.timeout",
                "asgi.lifespan.answered_twice",       # test_lifespan_mistakes_are_named...
                "asgi.lifespan.startup_failed",       # tests/test_asgi.py
                "asgi.app.raised_after_response",     # tests/test_asgi.py (Starlette's 500)
                "asgi.lifespan.shutdown_failed",      # the same path as startup_failed
                "asgi.ws.protocol_header",            # below
                "asgi.ws.raised",
                "asgi.app.cancelled",                 # tests/test_trace_truth.py
                "asgi.http.body_too_large",           # tests/test_faults.py
                "asgi.app.out_of_memory"}             # needs a process short of memory
    rules = {r for r in all_rules() if r.startswith("asgi.")}
    assert rules - covered == set()


@pytest.mark.parametrize("code", ["1000", 1.5, True, None, 999, 1004, 1005, 1006, 1015,
                                  2000, 5000])
def test_a_close_code_no_frame_can_carry_is_refused(code):
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code})

    ex = gl.run_asgi(app, gl.Request.websocket("/ws"), timeout=TIMEOUT)
    assert [f.rule for f in ex.findings] == ["asgi.ws.bad_close_code"]
    assert repr(code) in ex.findings[0].message
    # send() raised into the app, which let it through: the server closed with 1011.
    assert ex.close_code == 1011


@pytest.mark.parametrize("code", [1000, 1001, 1008, 1011, 1014, 3000, 4000, 4999])
def test_a_close_code_a_frame_can_carry_is_sent(code):
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code})

    ex = gl.run_asgi(app, gl.Request.websocket("/ws"), timeout=TIMEOUT)
    assert (ex.findings, ex.close_code) == ([], code)


@pytest.mark.parametrize("request_", [gl.Request("GET", "/"), gl.Request.websocket("/ws")])
def test_receiving_after_the_disconnect_is_named_not_taken_for_a_blocked_loop(request_):
    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
        else:
            await send(START)
            await send(body())
        while True:  # each receive() returns the disconnect at once; the app does await
            await receive()

    start = time.perf_counter()
    ex = gl.run_asgi(app, request_, timeout=TIMEOUT)
    assert time.perf_counter() - start < TIMEOUT + 1.0
    rules = [f.rule for f in ex.findings]
    assert rules[0].endswith(".receive_after_disconnect") and "asgi.loop.blocked" not in rules
    assert rules.count(rules[0]) == 1
    timeout = next(f for f in ex.findings if f.rule == "asgi.app.timeout")
    assert "receive() again and again after the disconnect" in timeout.message
    assert "answered 504" not in timeout.message  # the response had gone out already
    # The trace shows a few of the repeated disconnects, not one per turn of the loop.
    assert len(ex.trace.events) < 30


def test_protocol_header_in_accept():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept",
                    "headers": [(b"sec-websocket-protocol", b"chat")]})
        await send({"type": "websocket.close"})

    ex = gl.run_asgi(app, gl.Request.websocket("/ws", subprotocols=["chat"]))
    assert [f.rule for f in ex.findings] == ["asgi.ws.protocol_header"]


# -- hostile and odd inputs: a server's answer, never a traceback from the lab -----------

async def type_is_a_list(scope, receive, send):
    await send({"type": ["http.response.start"]})  # a list cannot even be looked up


@pytest.mark.parametrize("request_", [gl.Request("GET", "/"), gl.Request.websocket("/ws")])
def test_a_message_type_that_is_not_a_str_is_an_unknown_message(request_):
    ex = gl.run_asgi(type_is_a_list, request_, timeout=TIMEOUT)
    assert ex.response.status == 500
    rules = [f.rule for f in ex.findings]
    assert rules in (["asgi.http.unknown_message"], ["asgi.ws.unknown_message"]), rules


@pytest.mark.parametrize("length", [b"9" * 5000, "\u00b2".encode("latin-1")])
def test_an_absurd_content_length_is_judged_not_raised(length):
    async def app(scope, receive, send):
        await send({**START, "headers": [(b"content-type", b"text/plain"),
                                          (b"content-length", length)]})
        await send(body(b"x"))

    ex = gl.run_asgi(app, timeout=TIMEOUT)
    if length[:1] != b"9":  # '²' states no number at all: never sent (RFC 9110 §8.6)
        assert ex.response.status == 500
        assert [f.rule for f in ex.findings] == ["asgi.http.content_length_invalid"]
        return
    assert ex.response.status == 200
    mismatch = [f for f in ex.findings if f.rule == "asgi.http.content_length_mismatch"]
    assert mismatch and all(len(f.message) < 300 for f in mismatch)


@pytest.mark.parametrize("lengths", [[b"abc"], [b"-1"], [b"+5"], [b"1,2"], [b""],
                                     [b"1", b"2"]])
def test_a_content_length_that_states_no_one_length_is_never_sent(lengths):
    async def app(scope, receive, send):
        await send({**START, "headers": [(b"content-length", v) for v in lengths]})
        await send(body(b"hello"))

    ex = gl.run_asgi(app, timeout=TIMEOUT)
    assert ex.response.status == 500 and b"hello" not in ex.response.body
    assert [f.rule for f in ex.findings] == ["asgi.http.content_length_invalid"]
    assert repr(lengths[-1].decode()) in ex.findings[0].message


@pytest.mark.parametrize("lengths", [[b"5"], [b"5", b"5"], [b"5, 5"]])
def test_one_length_however_repeated_is_served(lengths):
    async def app(scope, receive, send):
        await send({**START, "headers": [(b"content-length", v) for v in lengths]})
        await send(body(b"hello"))

    ex = gl.run_asgi(app, timeout=TIMEOUT)
    assert (ex.response.status, ex.response.body, ex.findings) == (200, b"hello", [])


@pytest.mark.parametrize("name", [b"", b"x user", b"a:b", b"a@b", b"(x)", b"x\tb"])
def test_a_header_name_that_is_not_a_token_is_refused_as_in_wsgi(name):
    async def app(scope, receive, send):
        await send({**START, "headers": [(name, b"1")]})
        await send(body())

    ex = gl.run_asgi(app, timeout=TIMEOUT)
    assert ex.response.status == 500
    assert [f.rule for f in ex.findings] == ["asgi.http.bad_header_name"]
    # The same name given to WSGI's start_response gets the same answer.
    wsgi = gl.run_wsgi(lambda environ, start_response: (
        start_response("200 OK", [(name.decode("latin-1"), "1")]), [b"ok"])[1])
    assert wsgi.response.status == 500
    assert [f.rule for f in wsgi.findings] == ["wsgi.headers.bad_name"]


def test_trailers_are_checked_like_headers():
    async def app(scope, receive, send):
        await send({**START, "trailers": True})
        await send(body(b"x"))
        await send({"type": "http.response.trailers",
                    "headers": [(b"x-checksum", b"1\r\nset-cookie: evil")]})

    ex = gl.run_asgi(app, timeout=TIMEOUT)
    assert [f.rule for f in ex.findings] == ["asgi.http.header_control_chars"]
    assert ex.response.trailers == [] and ex.response.complete

    async def str_trailers(scope, receive, send):
        await send({**START, "trailers": True})
        await send(body(b"x"))
        await send({"type": "http.response.trailers", "headers": [("x-checksum", "1")]})

    ex = gl.run_asgi(str_trailers, timeout=TIMEOUT)
    assert "asgi.http.header_not_bytes" in [f.rule for f in ex.findings]
    assert not any("http.py" in f.message for f in ex.findings)  # the lab's own line


@pytest.mark.parametrize("headers, rule", [
    ([(b"x-room", b"1\r\nset-cookie: evil")], "asgi.http.header_control_chars"),
    ([("x-room", "1")], "asgi.http.header_not_bytes")])
def test_websocket_accept_headers_are_checked_like_a_responses(headers, rule):
    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept", "headers": headers})
        await send({"type": "websocket.close"})

    ex = gl.run_asgi(app, gl.Request.websocket("/ws"), timeout=TIMEOUT)
    assert rule in [f.rule for f in ex.findings]
    assert not any("evil" in value for _, value in ex.response.headers)
    assert not any("websocket.py" in f.message for f in ex.findings)


def test_what_an_app_changes_of_the_servers_loop_is_put_back():
    async def app(scope, receive, send):
        loop = asyncio.get_running_loop()
        loop.set_task_factory(None)  # its tasks are off the lab's list from now on
        loop.set_exception_handler(lambda loop, context: None)
        loop.set_debug(True)
        asyncio.ensure_future(asyncio.sleep(30))
        await send(START)
        await send(body())

    ex = gl.run_asgi(app, timeout=TIMEOUT)
    assert ex.response.status == 200
    notes = [e.detail for e in ex.trace if e.kind == "note"]
    assert any("task factory and exception handler and debug mode" in n for n in notes), notes
    assert any("1 task(s)" in n for n in notes), notes  # the sleeper was found and cancelled

    async def looks(scope, receive, send):
        loop = asyncio.get_running_loop()
        body_ = f"{len(asyncio.all_tasks(loop))} {loop.get_debug()}".encode()
        await send(START)
        await send(body(body_))

    assert gl.run_asgi(looks, timeout=TIMEOUT).response.body == b"1 False"


def test_an_app_cannot_end_the_servers_executor():
    async def ends_it(scope, receive, send):
        await asyncio.get_running_loop().shutdown_default_executor()

    async def uses_it(scope, receive, send):
        total = await asyncio.to_thread(sum, [1, 2])
        await send(START)
        await send(body(str(total).encode()))

    assert gl.run_asgi(ends_it, timeout=TIMEOUT).response.status == 500
    assert gl.run_asgi(uses_it, timeout=TIMEOUT).response.body == b"3"


def test_a_stopped_app_leaves_no_asyncio_noise_on_stderr(caplog):
    import gc

    async def sleeps_in_finally(scope, receive, send):
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(10)  # cancelled again by the clean-up, and again...

    async def uncancels(scope, receive, send):
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel() if hasattr(asyncio.Task, "uncancel") \
                    else None

    for app in (sleeps_in_finally, uncancels):
        ex = gl.run_asgi(app, timeout=0.2)
        assert ex.response.status == 504
        gc.collect()
    # asyncio logs it (to stderr, in a kernel) when the abandoned task is collected.
    assert not [r for r in caplog.records if "Task was destroyed" in r.getMessage()]


# -- work left running in a thread pool after the response ------------------------------

@pytest.mark.parametrize("how", ["run_in_executor", "to_thread"])
def test_executor_work_left_running_is_reported_with_what_it_runs(how):
    release = threading.Event()

    async def warm(scope, receive, send):  # the loop's pool gets an idle thread first
        await asyncio.to_thread(time.sleep, 0)
        await send(START)
        await send(body())

    async def app(scope, receive, send):
        loop = asyncio.get_running_loop()
        if how == "run_in_executor":
            loop.run_in_executor(None, release.wait, 5)  # library code, the app's work
        else:
            asyncio.ensure_future(asyncio.to_thread(release.wait, 5))
            await asyncio.sleep(0.05)  # the job starts on the idle thread, reused
        await send(START)
        await send(body())

    try:
        assert gl.run_asgi(warm, timeout=TIMEOUT).findings == []
        ex = gl.run_asgi(app, timeout=TIMEOUT)
        assert ex.response.status == 200
        [finding] = [f for f in ex.findings if f.rule == "sandbox.left_threads"]
        assert "running threading.Event.wait" in finding.message
        # The same pool thread, idle again, is not reported by the next run.
        release.set()
        time.sleep(0.05)
        assert gl.run_asgi(warm, timeout=TIMEOUT).findings == []
    finally:
        release.set()
