"""gl.serve runs apps in worker processes: an app that will not stop is killed with its
worker (504, a fresh worker, a trace that says so), and nothing keeps spinning; what a
server keeps is bounded; an address the network can reach gets a warning.

Real servers (werkzeug, uvicorn), real worker processes, real clients; /proc shows
what is left running."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from processes import LINUX, _stat, alive, gone_within
from served_apps import app, asgi_app

import gateway_lab as gl
from gateway_lab.listening import Clipped, ExposedWarning, ServeError, exposure
from gateway_lab.sandbox import lab_threads
from gateway_lab.workers import KILL_GRACE

needs_proc = pytest.mark.skipif(not LINUX, reason="reads /proc for child processes and CPU")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"),
                                reason="this platform cannot fork (Windows): a worker gets "
                                       "the app by name only")
TIMEOUT = 0.5


def fetch(srv, target="/", method="GET", body=None, headers=None):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=20)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def descendants() -> set[int]:
    """Running (not zombie) processes below this one, children of children included."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        fields = _stat(entry) if entry.isdigit() else None
        if fields is not None and fields[0] not in "ZX":
            parents[int(entry)] = int(fields[1])
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cpu_shares(pids, interval: float = 0.6) -> dict[int, float]:
    """The share of one core each process used over `interval` seconds."""
    def ticks(pid):
        fields = _stat(pid)
        return int(fields[11]) + int(fields[12]) if fields else 0

    start = {pid: ticks(pid) for pid in pids}
    time.sleep(interval)
    hz = os.sysconf("SC_CLK_TCK")
    return {pid: (ticks(pid) - start[pid]) / hz / interval for pid in pids if alive(pid)}


def server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.is_alive() and (
        t.name.startswith("gateway-lab") or t in lab_threads())]


def ready_pid(pool, within: float = 20) -> int:
    """The pid of a worker ready to serve (one may be starting after a kill)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        ready = [w for w in pool.workers if w.ready.is_set() and not w.dead]
        if ready:
            return ready[0].pid
        time.sleep(0.02)
    raise AssertionError("no worker became ready")


def notes(trace) -> list[str]:
    return [e.detail for e in trace.events if e.kind == "note"]


# -- killed and replaced ---------------------------------------------------------------

@needs_proc
@pytest.mark.timeout(90)
@pytest.mark.parametrize("gateway,spinners", [("wsgi", ["/spin", "/swallow", "/deaf", "/in_c"]),
                                              ("asgi", ["/spin", "/spin"])])
def test_a_spinning_app_gets_504_its_worker_is_replaced_and_nothing_keeps_spinning(
        gateway, spinners):
    before = descendants()
    served = app if gateway == "wsgi" else asgi_app
    with gl.serve(served, timeout=TIMEOUT, quiet=True) as srv:
        assert srv.pool.how == "name" and srv.pool.ref == f"served_apps:{served.__name__}"
        served_by = []
        for path in spinners:
            served_by.append(ready_pid(srv.pool))
            started = time.monotonic()
            assert fetch(srv, path)[0] == 504
            assert time.monotonic() - started < TIMEOUT + KILL_GRACE + 3
        # The last spinner could only be stopped by killing its worker; the trace says so
        # (WSGI: `while True: pass`, a swallowing loop and one that ignores SIGALRM are
        # stopped inside the worker by the lab's deadline; a loop inside C is not).
        (killed,) = [n for n in notes(srv.traces[-1]) if "killed the worker" in n]
        assert f"(pid {served_by[-1]}) did not answer within 0.5 s" in killed, killed
        assert all(f.rule == f"{gateway}.app.timeout" for t in srv.traces for f in t.findings)
        assert srv.pool.killed >= 1 and not alive(served_by[-1])
        # A fresh worker serves everything that follows.
        answers = [fetch(srv, f"/ok/{i}") for i in range(200)]
        assert [status for status, _ in answers] == [200] * 200
        assert answers[-1][1].startswith(b"/ok/199 pid=")
        # Nothing left spinning: every process below this one is (nearly) idle.
        shares = cpu_shares(descendants() - before)
        assert shares and max(shares.values()) < 0.5, shares
    assert gone_within(alive, descendants() - before) == []
    assert server_threads() == []


@needs_proc
@needs_fork
@pytest.mark.timeout(60)
def test_an_app_with_no_importable_name_is_forked_and_killed_the_same_way():
    greeting = "hello from a closure"  # a forked worker inherits it with the app

    def local_app(environ, start_response):
        if environ["PATH_INFO"] == "/deaf":
            import signal

            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            while True:
                pass
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{greeting} {os.getpid()}".encode()]

    before = descendants()
    with gl.serve(local_app, timeout=TIMEOUT, quiet=True) as srv:
        assert srv.pool.how == "fork"
        status, body = fetch(srv)
        assert status == 200 and body.startswith(greeting.encode())
        assert int(body.split()[-1]) != os.getpid()  # it ran in the worker, not here
        assert fetch(srv, "/deaf")[0] == 504
        assert fetch(srv)[0] == 200
        assert max(cpu_shares(descendants() - before).values()) < 0.5
    assert gone_within(alive, descendants() - before) == []


@needs_fork
def test_an_app_a_fresh_python_cannot_import_by_name_is_forked(tmp_path):
    import importlib.util

    path = tmp_path / "elsewhere.py"  # not on sys.path: only this process has it
    path.write_text("def app(environ, start_response):\n"
                    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                    "    return [b'from elsewhere']\n")
    spec = importlib.util.spec_from_file_location("elsewhere_lab_app", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["elsewhere_lab_app"] = module
    try:
        spec.loader.exec_module(module)
        with gl.serve(module.app, quiet=True) as srv:
            assert srv.pool.how == "fork"
            assert fetch(srv) == (200, b"from elsewhere")
    finally:
        del sys.modules["elsewhere_lab_app"]


@pytest.mark.timeout(60)
def test_a_worker_that_dies_gets_500_and_a_replacement():
    with gl.serve(app, quiet=True) as srv:
        status, _ = fetch(srv, "/exit")
        assert status == 500
        (note,) = notes(srv.traces[-1])
        assert "exited (exit code 3)" in note
        assert fetch(srv, "/after")[0] == 200


def test_the_trace_from_a_worker_is_the_in_process_trace():
    with gl.serve(app, quiet=True) as srv:
        status, body = fetch(srv, "/x?y=1", "POST", b"data")
    assert status == 200 and int(body.split(b"pid=")[1].split()[0]) != os.getpid()
    (served,) = srv.traces
    here = gl.run_wsgi(app, gl.Request("POST", "/x?y=1", body=b"data"), isolate=False).trace
    assert [(e.actor, e.kind, e.spec) for e in served.events] == [
        (e.actor, e.kind, e.spec) for e in here.events]
    environ = next(e.data for e in served.events if e.kind == "environ")
    assert environ["wsgi.multithread"] is False and environ["wsgi.multiprocess"] is False


def test_workers_0_runs_the_app_in_this_process():
    with gl.serve(app, workers=0, quiet=True) as srv:
        status, body = fetch(srv, "/here")
    assert status == 200 and f"pid={os.getpid()}".encode() in body


def test_without_fork_an_unnamed_app_runs_in_threads_with_a_warning(monkeypatch):
    def local_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]

    monkeypatch.delattr(os, "fork")  # as on Windows
    with pytest.warns(RuntimeWarning, match="cannot be stopped there") as caught:
        srv = gl.serve(local_app, quiet=True)
    with srv:
        assert fetch(srv) == (200, str(os.getpid()).encode())
    assert "put the app in a .py module" in str(caught[0].message).lower()


# -- ASGI: the loop is the server's -------------------------------------------------------

@pytest.mark.timeout(60)
def test_an_asgi_app_cannot_stop_or_cancel_its_way_out_of_the_server():
    with gl.serve(asgi_app, timeout=TIMEOUT, quiet=True) as srv:
        status, body = fetch(srv, "/ok")
        assert status == 200
        started_by = int(body.split(b"started_by=")[1])  # lifespan ran in the worker
        assert started_by == ready_pid(srv.pool)
        for path, rule in [("/stop", "asgi.app.raised"), ("/cancel", "asgi.app.raised"),
                           ("/interrupt", "asgi.app.raised")]:
            assert fetch(srv, path)[0] == 500, path
            findings = srv.traces[-1].findings
            assert [f.rule for f in findings] == [rule], path
        assert "loop.stop() refused (served_apps.py line" in srv.traces[-3].findings[0].message
        assert fetch(srv, "/nap")[0] == 504  # awaits past the timeout: stopped inside
        assert fetch(srv, "/after")[0] == 200
        assert srv.pool.killed == 0  # none of it needed a kill
        assert int(fetch(srv, "/pid")[1].split(b"pid=")[1].split()[0]) == started_by


@pytest.mark.timeout(60)
def test_a_websocket_is_relayed_to_the_worker_and_closed_when_it_is_killed():
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with gl.serve(asgi_app, timeout=TIMEOUT, quiet=True) as srv:
        url = f"ws://127.0.0.1:{srv.port}/ws"
        with connect(url, open_timeout=10) as ws:
            ws.send("quiet please")
            assert ws.recv(timeout=10) == "QUIET PLEASE"
        with connect(url, open_timeout=10) as ws:
            ws.send("spin")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=TIMEOUT + KILL_GRACE + 5)
            assert closed.value.rcvd.code == 1011  # RFC 6455 §7.4.1: a server error
        with connect(url, open_timeout=10) as ws:  # a fresh worker
            ws.send("again")
            assert ws.recv(timeout=10) == "AGAIN"
    kinds = [e.data["type"] for e in srv.traces[0].events if e.kind in ("receive", "send")]
    assert kinds == ["websocket.connect", "websocket.accept", "websocket.receive",
                     "websocket.send", "websocket.disconnect"]
    assert any("killed the worker" in n for t in srv.traces for n in notes(t))


# -- bounds -------------------------------------------------------------------------

@pytest.mark.parametrize("served", [app, asgi_app], ids=["wsgi", "asgi"])
def test_a_body_over_max_body_gets_413_and_a_finding_unread(served):
    with gl.serve(served, max_body=1000, quiet=True) as srv:
        assert fetch(srv, "/up", "POST", b"x" * 1000)[0] == 200
        status, body = fetch(srv, "/up", "POST", b"x" * 1001)
        assert status == 413 and b"more than the 1000" in body
        finding = srv.traces[-1].findings[0]
        assert finding.rule == "http.body.too_large" and finding.spec == "RFC 9110 §15.5.14"
        # chunked: no length up front, so the server counts as it reads
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=20)
        conn.request("POST", "/up", body=iter([b"y" * 600, b"y" * 600]),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        assert conn.getresponse().status == 413
        conn.close()
        assert fetch(srv, "/after")[0] == 200


def test_kept_traces_are_bounded_and_bodies_clipped_with_their_size():
    with gl.serve(app, keep_traces=5, keep_body=100, quiet=True) as srv:
        for i in range(8):
            assert fetch(srv, f"/n{i}", "POST", bytes(range(256)) * 40)[0] == 200
    assert len(srv.traces) == 5
    assert srv.traces[0].events[0].detail == "POST /n3"
    request = srv.traces[-1].events[0].data
    assert isinstance(request.body, Clipped) and request.body.size == 10240
    assert bytes(request.body) == bytes(range(100))
    environ = next(e.data for e in srv.traces[-1].events if e.kind == "environ")
    assert environ["CONTENT_LENGTH"] == "10240"


# -- exposed to the network --------------------------------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "", "::"])
def test_listening_on_every_interface_warns_that_code_execution_is_exposed(host):
    if host == "::" and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with pytest.warns(ExposedWarning, match="exposes code execution to the network"):
        try:
            srv = gl.serve(app, host=host, workers=0, quiet=True)
        except ServeError as error:  # e.g. IPv6 configured off
            pytest.skip(f"cannot listen on {host!r} here: {error}")
    srv.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_warning(host):
    assert exposure(host) is None
    assert exposure("192.0.2.1") is not None and exposure("") is not None


def test_the_wire_servers_and_the_cli_warn_too(tmp_path):
    from gateway_lab.wire import WireServer

    with pytest.warns(ExposedWarning):
        WireServer("scgi", app, host="0.0.0.0", workers=0).stop()
    (tmp_path / "labapp.py").write_text(Path(__file__).with_name("served_apps.py").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "gateway_lab", "serve", "labapp:app",
                             "--host", "0.0.0.0", "--port", "0"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("gateway-lab serve: warning: listening on every interface")
        assert "exposes code execution" in line
        assert "Serving wsgi app at http://0.0.0.0:" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_the_cli_takes_workers_and_max_body(tmp_path):
    (tmp_path / "labapp.py").write_text(Path(__file__).with_name("served_apps.py").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "gateway_lab", "serve", "labapp:app",
                             "--port", "0", "--workers", "2", "--max-body", "10"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        srv = type("Address", (), {"host": "127.0.0.1", "port": port})
        assert fetch(srv, "/up", "POST", b"x" * 10)[0] == 200
        assert fetch(srv, "/up", "POST", b"x" * 11)[0] == 413
        pids = {fetch(srv, "/pid")[1].split(b"pid=")[1].split()[0] for _ in range(6)}
        assert str(proc.pid).encode() not in pids  # the app ran in the workers
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert proc.returncode in (0, -15)


def test_no_warning_for_the_default_address():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExposedWarning)
        gl.serve(app, workers=0, quiet=True).stop()


@needs_fork
def test_a_module_that_serves_when_imported_does_not_multiply_servers(tmp_path, monkeypatch):
    (tmp_path / "serves_on_import.py").write_text(
        "import gateway_lab as gl\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'one server']\n"
        "srv = gl.serve(app, quiet=True)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import serves_on_import  # here: one server, whose worker imports this module again

    try:
        # The worker's import cannot start a second server: it fails, so the worker is
        # forked instead (it has the app without importing it).
        assert serves_on_import.srv.pool.how == "fork"
        assert fetch(serves_on_import.srv) == (200, b"one server")
    finally:
        serves_on_import.srv.stop()
        sys.modules.pop("serves_on_import", None)


# -- the body of an ASGI request, the end of a response, the end of a script -------------

def _raw(srv, data: bytes) -> tuple[bytes, float]:
    """Send raw bytes, read until the server closes; (reply, seconds it took)."""
    start = time.perf_counter()
    with socket.create_connection((srv.host, srv.port), timeout=15) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(1 << 20):
            reply += chunk
    return reply, time.perf_counter() - start


@pytest.mark.parametrize("head", [b"Content-Length: 100\r\n\r\nabc",
                                  b"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n"],
                         ids=["stalled body", "100-continue, no body"])
def test_an_asgi_body_that_never_comes_gets_408_at_the_read_timeout(head):
    # uvicorn has no body timeout of its own: the lab bounds each wait for the client.
    with gl.serve(asgi_app, quiet=True, read_timeout=0.5) as srv:
        reply, took = _raw(srv, b"POST /up HTTP/1.1\r\nHost: a\r\n" + head)
        assert took < 0.5 + 1.5
        assert b"HTTP/1.1 408 " in reply and b"within 0.5 s" in reply
        if b"Expect" in head:  # uvicorn said "100 Continue" when the body was asked for
            assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert [f.rule for f in srv.traces[-1].findings] == ["http.request.too_slow"]
        assert fetch(srv, "/after")[0] == 200  # the worker never saw it, and serves on


def test_an_asgi_response_past_max_body_is_cut_and_the_log_says_who_cut_it(capfd):
    with gl.serve(asgi_app, quiet=True) as srv:
        reply, _ = _raw(srv, b"GET /huge HTTP/1.1\r\nHost: a\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200 ")
        assert not reply.endswith(b"\r\n0\r\n\r\n")  # no last chunk: the client sees it cut
        assert 10 << 20 <= len(reply) < 11 << 20
        assert [f.rule for f in srv.traces[-1].findings] == ["asgi.http.body_too_large"]
        time.sleep(0.2)
    err = capfd.readouterr().err
    assert "returned without completing response" not in err  # the app did not return early
    assert "GET /huge: the server cut the app's response short (asgi.http.body_too_large)" in err


@needs_fork
@pytest.mark.parametrize("how", ["gl.serve wsgi", "gl.serve asgi", "scgi"])
def test_a_script_that_ends_without_stop_says_no_worker_died(tmp_path, how):
    script = tmp_path / "forgets_stop.py"
    script.write_text(
        "import urllib.request\n"
        "import gateway_lab as gl\n"
        "from gateway_lab.wire.server import serve_scgi\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'hi']\n"
        "async def asgi_app(scope, receive, send):\n"
        "    if scope['type'] == 'http':\n"
        "        await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "        await send({'type': 'http.response.body', 'body': b'hi'})\n"
        f"how = {how!r}\n"
        "if how == 'scgi':\n"
        "    srv = serve_scgi(app, workers=3)\n"
        "else:\n"
        "    srv = gl.serve(asgi_app if 'asgi' in how else app, workers=3, quiet=True)\n"
        "    assert urllib.request.urlopen(srv.url).read() == b'hi'\n"
        "print('done', flush=True)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(gl.__file__).parent.parent)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0 and done.stdout == "done\n"
    assert "exited" not in done.stderr and "replaces it" not in done.stderr, done.stderr
