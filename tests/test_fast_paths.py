"""The shortcuts that make the engine fast must not change what it does.

Each test here breaks one of them on purpose: a Request changed after it was
used, a response that broke a rule sent twice, the coach switched off and on,
an alarm that is not the lab's, a forked child.
"""

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import gateway_lab as gl
from gateway_lab import sandbox

posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGALRM and fork are POSIX only")


def echo_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ.get("HTTP_X_COLOR", "none").encode()]


async def asgi_echo_header(scope, receive, send):
    color = dict(scope["headers"]).get(b"x-color", b"none")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": color})


def hop_by_hop(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
    return [b"ok"]


async def asgi_bad_header(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"x-bad", b"a\r\nb")]})
    await send({"type": "http.response.body", "body": b"ok"})


# -- Request.memo: the environ and scope built once per request -------------------------

def test_a_request_changed_after_a_run_is_seen_as_changed():
    req = gl.Request("GET", "/", headers={"X-Color": "red"})
    assert gl.run_wsgi(echo_header, req).response.body == b"red"
    assert gl.run_asgi(asgi_echo_header, req).response.body == b"red"
    with pytest.raises(TypeError):
        req.headers[-1] = ("X-Color", "blue")  # no change behind the memo's back: immutable
    req.headers = req.headers[:-1] + (("X-Color", "blue"),)
    assert gl.run_wsgi(echo_header, req).response.body == b"blue"
    assert gl.run_asgi(asgi_echo_header, req).response.body == b"blue"
    req.target = "/other"
    assert gl.run_wsgi(lambda e, s: echo_path(e, s), req).response.body == b"/other"


def echo_path(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]


def test_every_run_gets_its_own_environ_and_scope():
    req = gl.Request("GET", "/")
    seen = []

    def grabby(environ, start_response):
        seen.append(environ)
        environ["app.added"] = True  # apps and middleware write into the environ
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    gl.run_wsgi(grabby, req)
    gl.run_wsgi(grabby, req)
    assert seen[0] is not seen[1] and seen[0]["wsgi.input"] is not seen[1]["wsgi.input"]

    scopes = []

    async def scope_writer(scope, receive, send):
        scopes.append(scope)
        scope["headers"].append((b"x-added", b"1"))
        scope["extensions"]["mine"] = {}
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gl.run_asgi(scope_writer, req)
    gl.run_asgi(scope_writer, req)
    assert scopes[1]["headers"].count((b"x-added", b"1")) == 1
    assert scopes[0]["extensions"] is not scopes[1]["extensions"]


def test_a_dropped_underscore_header_is_noted_on_every_run():
    req = gl.Request("GET", "/", headers={"X_Color": "red"})
    for _ in range(2):
        ex = gl.run_wsgi(echo_header, req)
        assert [e.detail for e in ex.trace.events if e.kind == "note"] == \
            [gl.rules.make_finding("http.header.underscore_dropped", name="X_Color").message]


# -- the memo of checked response headers -----------------------------------------------

def test_a_response_that_breaks_a_rule_is_reported_every_time():
    for _ in range(3):
        ex = gl.run_wsgi(hop_by_hop)
        assert [f.rule for f in ex.findings] == ["wsgi.headers.hop_by_hop"]
        assert ex.response.header("connection") is None
        ex = gl.run_asgi(asgi_bad_header)
        assert [f.rule for f in ex.findings] == ["asgi.http.header_control_chars"]
        assert ex.response.header("x-bad") is None


def test_the_coach_switched_off_records_nothing_and_serves_the_same():
    for run, app, rule in ((gl.run_wsgi, hop_by_hop, "wsgi.headers.hop_by_hop"),
                           (gl.run_asgi, asgi_bad_header, "asgi.http.header_control_chars")):
        off = run(app, coach=False)
        on = run(app)  # after a run with the coach off, the finding is still found
        assert off.findings == [] and off.ok
        assert [f.rule for f in on.findings] == [rule]
        assert (off.response.status, off.response.headers, off.response.body) == \
            (on.response.status, on.response.headers, on.response.body)
        assert [e.kind for e in off.trace if e.kind != "finding"] == \
            [e.kind for e in on.trace if e.kind != "finding"]


def test_a_broken_app_with_the_coach_off_still_gets_a_500():
    def bad_status(environ, start_response):
        start_response(200, [])
        return [b""]

    ex = gl.run_wsgi(bad_status, coach=False)
    assert ex.response.status == 500 and ex.findings == []


# -- trace details made when read -------------------------------------------------------

def test_details_are_text_when_the_trace_is_read():
    ex = gl.run_asgi(asgi_echo_header)
    details = {e.kind: e.detail for e in ex.trace}
    assert details["request"] == "GET /"
    assert details["response"] == "200 OK, 4 bytes"
    sends = [e.detail for e in ex.trace if e.kind == "send"]
    assert sends == ["http.response.start, status 200",
                     "http.response.body, 4 bytes, more_body=False"]
    assert all(isinstance(e.detail, str) for e in ex.trace)


def test_a_wsgi_trace_reads_step_by_step_as_the_spec_says():
    ex = gl.run_wsgi(echo_header, gl.Request("GET", "/"))
    rows = [(e.actor, e.target, e.kind, e.detail, e.spec) for e in ex.trace]
    assert rows == [
        ("client", "server", "request", "GET /", "RFC 9112 §3"),
        ("server", "gateway", "environ", rows[1][3], "PEP 3333 §environ Variables"),
        ("gateway", "app", "call", "app(environ, start_response)",
         "PEP 3333 §The Application/Framework Side"),
        ("app", "gateway", "start_response", "200 OK, 1 header",
         "PEP 3333 §The start_response() Callable"),
        ("app", "gateway", "return", "list", "PEP 3333 §The Application/Framework Side"),
        ("server", "client", "send headers", "200 OK", "PEP 3333 §Buffering and Streaming"),
        ("server", "client", "send body", "4 bytes", "PEP 3333 §Buffering and Streaming"),
        ("server", "client", "response", "200 OK, 4 bytes", "RFC 9112 §4"),
    ]
    assert rows[1][3].endswith("PATH_INFO='/'")
    times = [e.t for e in ex.trace]
    assert times == sorted(times) and times[0] == 0.0


def test_the_environ_a_trace_shows_is_a_copy_of_its_own():
    """The environ template is shared by every run of a request: what one trace
    shows may be changed without touching the next run."""
    req = gl.Request("GET", "/", headers={"X-Color": "red"})
    first = gl.run_wsgi(echo_header, req)
    shown = next(e.data for e in first.trace if e.kind == "environ")
    assert shown["HTTP_X_COLOR"] == "red" and shown["wsgi.input"].startswith("<wsgi.input")
    shown["HTTP_X_COLOR"] = "green"
    again = gl.run_wsgi(echo_header, req)
    assert again.response.body == b"red"
    assert next(e.data for e in again.trace if e.kind == "environ")["HTTP_X_COLOR"] == "red"
    head = next(e.data for e in again.trace if e.kind == "send headers")
    assert head == {"status": "200 OK", "headers": (("Content-Type", "text/plain"),)}
    assert again.response.headers == [("Content-Type", "text/plain")]
    again.response.headers.append(("X-Mine", "1"))  # the response's list is its own
    assert gl.run_wsgi(echo_header, req).response.headers == [("Content-Type", "text/plain")]


def test_a_pickled_or_copied_request_leaves_its_memo_behind():
    """A Request sent to a worker process is pickled: the environ built for it here
    must not travel with it, and the copy must build its own."""
    import copy
    import pickle

    req = gl.Request("GET", "/", headers={"X-Color": "red"})
    before = len(pickle.dumps(req))
    gl.run_wsgi(echo_header, req)
    gl.run_asgi(asgi_echo_header, req)
    assert len(pickle.dumps(req)) == before
    for twin in (pickle.loads(pickle.dumps(req)), copy.deepcopy(req)):
        assert (twin.method, twin.target, twin.headers) == (req.method, req.target, req.headers)
        twin.headers = {"X-Color": "blue"}
        assert gl.run_wsgi(echo_header, twin).response.body == b"blue"
    assert gl.run_wsgi(echo_header, req).response.body == b"red"


# -- the loop of the lab's own ----------------------------------------------------------

def test_an_app_that_stops_the_loop_gets_a_500_and_the_next_run_is_clean():
    async def stopper(scope, receive, send):
        await asyncio.sleep(0)
        asyncio.get_running_loop().stop()
        await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"still here"})

    for app in (stopper, first_step_stopper):
        ex = gl.run_asgi(app, timeout=2)
        assert ex.response.status == 500
        assert [f.rule for f in ex.findings] == ["asgi.app.raised"]
        assert "belongs to the server" in ex.findings[0].message
        assert any("loop.stop()" in e.detail for e in ex.trace if e.kind == "note")
        assert gl.run_asgi(asgi_echo_header).response.status == 200  # the next run is clean


async def first_step_stopper(scope, receive, send):
    asyncio.get_running_loop().stop()  # before the app ever waits


def test_tasks_left_running_are_cancelled_and_noted():
    started = []

    async def leaves_a_task(scope, receive, send):
        async def forever():
            await asyncio.sleep(60)

        started.append(asyncio.ensure_future(forever()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    ex = gl.run_asgi(leaves_a_task)
    assert ex.response.status == 204
    assert any("1 task(s)" in e.detail for e in ex.trace if e.kind == "note")
    assert started[0].cancelled()
    ex = gl.run_asgi(asgi_echo_header)
    assert not any(e.kind == "note" for e in ex.trace)


# -- the watchdog and SIGALRM -----------------------------------------------------------

@posix_only
def test_a_late_alarm_from_the_watchdog_is_ignored_between_runs():
    gl.run_wsgi(echo_header)  # the handler is installed now
    sandbox._run.sent += 1    # as if the watchdog fired just as a run ended
    signal.pthread_kill(sandbox._MAIN_IDENT, signal.SIGALRM)
    time.sleep(0.01)          # the handler runs here, and must not stop anything
    assert gl.run_wsgi(echo_header).response.status == 200


@posix_only
def test_the_programs_own_alarm_still_does_what_it_did():
    """After lab runs, a SIGALRM that is not the lab's still ends the process (its
    default action), and a program with its own handler keeps it."""
    script = textwrap.dedent("""
        import signal, sys, time
        sys.path.insert(0, sys.argv[1])
        import gateway_lab as gl

        def hello(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hi"]

        if sys.argv[2] == "default":
            gl.run_wsgi(hello)
            signal.alarm(1)
            time.sleep(5)
            print("survived")
        else:
            got = []
            signal.signal(signal.SIGALRM, lambda *a: got.append(1))
            def sleepy(environ, start_response):
                time.sleep(0.05)
                while True:
                    pass
            ex = gl.run_wsgi(sleepy, timeout=0.3)
            assert ex.response.status == 504, ex.response.status
            assert signal.getsignal(signal.SIGALRM) is not None
            signal.alarm(1)
            time.sleep(1.5)
            print("handled", len(got))
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    died = subprocess.run([sys.executable, "-c", script, root, "default"],
                          capture_output=True, text=True, timeout=30)
    assert died.returncode == -signal.SIGALRM and "survived" not in died.stdout
    kept = subprocess.run([sys.executable, "-c", script, root, "own"],
                          capture_output=True, text=True, timeout=30)
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.strip() == "handled 1"


def _forked_child_times_out(queue):
    def spin(environ, start_response):
        while True:
            pass

    start = time.perf_counter()
    ex = gl.run_wsgi(spin, timeout=0.3)
    queue.put((ex.response.status, time.perf_counter() - start))


@posix_only
@pytest.mark.skipif(sys.platform == "darwin", reason="fork after threads is unsafe on macOS")
def test_a_forked_child_gets_its_own_watchdog():
    gl.run_wsgi(echo_header)  # the parent's watchdog is running now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_forked_child_times_out, args=(queue,))
    child.start()
    try:
        status, took = queue.get(timeout=10)
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
    assert status == 504 and took < 2


# -- nothing for the garbage collector --------------------------------------------------

def post_echo(environ, start_response):
    data = environ["wsgi.input"].read()
    environ["wsgi.errors"].write("read the body\n")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [data]


@pytest.mark.parametrize("run", [
    lambda: gl.run_wsgi(post_echo, gl.Request("POST", "/", body=b"hi")),
    lambda: gl.run_asgi(asgi_echo_header, gl.Request("GET", "/")),
], ids=["wsgi", "asgi"])
def test_a_run_leaves_no_reference_cycles(run):
    """Refcounting frees everything a run made: an exercise check that sends
    thousands of requests does not leave the garbage collector a pile to walk."""
    import gc

    run()
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            ex = run()
            assert ex.response.status == 200
        del ex
        assert gc.collect() == 0
    finally:
        gc.enable()


def spin(environ, start_response):
    while True:
        pass


@posix_only
def test_a_short_deadline_after_a_long_one_is_kept():
    """The watchdog sleeps toward the deadline it knows; a run with a sooner one wakes it."""
    gl.run_wsgi(echo_header, timeout=30)
    start = time.perf_counter()
    ex = gl.run_wsgi(spin, timeout=0.2)
    assert ex.response.status == 504
    assert time.perf_counter() - start < 1.5


@posix_only
def test_the_watchdog_goes_away_when_the_lab_is_idle(monkeypatch):
    import threading

    def watchdogs():
        return [t for t in threading.enumerate() if t.name == "gateway-lab-watchdog"]

    monkeypatch.setattr(sandbox, "IDLE_EXIT", 0.2)
    gl.run_wsgi(echo_header)
    assert len(watchdogs()) == 1
    sandbox._Watchdog.poke.set()  # it may be asleep toward the old, longer idle time
    deadline = time.perf_counter() + 5
    while watchdogs() and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert watchdogs() == []
    assert gl.run_wsgi(spin, timeout=0.2).response.status == 504  # a new one starts
