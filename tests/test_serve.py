"""gl.serve and `gateway-lab serve`: real servers (werkzeug, uvicorn) on 127.0.0.1,
real clients (http.client, a WebSocket client), traces of what was served, clear
messages for a taken port, nothing left running after stop()."""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from served_apps import rude_app, streaming_app, wsgi_app
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute

import gateway_lab as gl
from gateway_lab.listening import ExposedWarning
from gateway_lab.sandbox import lab_threads
from gateway_lab.serving import ServeError, guess_gateway
from gateway_lab.wire import scgi

# The WSGI apps live in served_apps, which a worker process imports fast.


async def hello(request: StarletteRequest):
    return PlainTextResponse(f"Hello, {request.path_params['name']}!")


async def echo(request: StarletteRequest):
    return JSONResponse({"got": (await request.body()).decode(), "q": request.query_params.get(
        "q")})


async def shout(websocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())


asgi_app = Starlette(routes=[Route("/hello/{name}", hello), Route("/echo", echo,
                                                                    methods=["POST"]),
                             WebSocketRoute("/ws", shout)])


def fetch(srv, method="GET", target="/", body=None, headers=None):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def server_threads() -> list[str]:
    """Threads a server left behind: its own, and lab workers still running an app."""
    return [t.name for t in threading.enumerate() if t.is_alive() and (
        t.name.startswith("gateway-lab-serve") or t in lab_threads())]


# -- WSGI under werkzeug ------------------------------------------------------------------

def test_wsgi_app_served_by_werkzeug_answers_like_the_engine(capsys):
    # gateway_lab.serving is imported above; gl.serve must still be the callable of DESIGN.md.
    assert callable(gl.serve) and not isinstance(gl.serve, type(gl))
    with gl.serve(wsgi_app) as srv:
        assert "Serving wsgi app at http://127.0.0.1:" in capsys.readouterr().out
        assert srv.url == f"http://127.0.0.1:{srv.port}/" and srv.running
        for method, target, body in [("GET", "/a/b?x=1&y=%20", None),
                                     ("POST", "/items", b"payload" * 100),
                                     ("GET", "/missing", None)]:
            status, headers, got = fetch(srv, method, target, body)
            want = gl.run_wsgi(wsgi_app, gl.Request(method, target, body=body or b""))
            assert (status, got) == (want.response.status, want.response.body)
            assert headers["Content-Type"] == "text/plain"
            assert headers["Server"].startswith("Werkzeug")  # the real server answered
        assert len(srv.traces) == 3
        environ = next(e.data for e in srv.traces[0].events if e.kind == "environ")
        assert environ["QUERY_STRING"] == "x=1&y=%20" and environ["REMOTE_ADDR"] == "127.0.0.1"
    assert not srv.running
    assert server_threads() == []


def test_served_requests_carry_findings_into_the_notebook():
    with gl.serve(rude_app, quiet=True) as srv:
        assert fetch(srv)[0] == 200
    (trace,) = srv.traces
    assert [f.rule for f in trace.findings] == ["wsgi.headers.content_type_missing"]


def test_trace_false_hands_the_app_to_werkzeug_untouched():
    with gl.serve(streaming_app, trace=False, quiet=True) as srv:
        status, headers, body = fetch(srv)
    assert (status, body) == (200, b"chunk 0\nchunk 1\nchunk 2\n")
    assert headers.get("Transfer-Encoding") == "chunked" and srv.traces == []


def test_a_chunked_request_body_reaches_the_app_de_chunked():
    with gl.serve(wsgi_app, quiet=True) as srv:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        conn.request("POST", "/c", body=iter([b"ab", b"cd"]),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        assert conn.getresponse().read() == b"/c? abcd"
        conn.close()


def test_a_request_the_lab_refuses_gets_400_with_the_reason():
    with gl.serve(wsgi_app, quiet=True) as srv, socket.create_connection(
            (srv.host, srv.port), timeout=10) as sock:
        sock.sendall(b"G@T /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"not a valid HTTP method" in reply and srv.traces == []


def test_a_hanging_app_gets_504_and_the_server_stays_up():
    def slow(environ, start_response):
        for _ in range(200):  # short sleeps: the timeout can stop it between two
            time.sleep(0.05)

    with gl.serve(slow, timeout=0.5, quiet=True) as srv:
        started = time.monotonic()
        assert fetch(srv)[0] == 504
        assert time.monotonic() - started < 5
        assert fetch(srv)[0] == 504


# -- ASGI under uvicorn ---------------------------------------------------------------

def test_asgi_app_served_by_uvicorn_http_and_websocket(capsys):
    from websockets.sync.client import connect

    with gl.serve(asgi_app) as srv:
        assert "Serving asgi app at" in capsys.readouterr().out
        assert fetch(srv, "GET", "/hello/Ada")[::2] == (200, b"Hello, Ada!")
        status, headers, body = fetch(srv, "POST", "/echo?q=7", b"hi")
        assert (status, json.loads(body)) == (200, {"got": "hi", "q": "7"})
        assert headers["server"] == "uvicorn"
        with connect(f"ws://127.0.0.1:{srv.port}/ws", open_timeout=10) as ws:
            ws.send("quiet please")
            assert ws.recv(timeout=10) == "QUIET PLEASE"
        deadline = time.monotonic() + 5  # the server records the disconnect just after
        while srv.traces[-1].events[-1].kind != "return" and time.monotonic() < deadline:
            time.sleep(0.02)
    http_trace, post_trace, ws_trace = srv.traces
    assert http_trace.events[1].data["type"] == "http"
    # A served request reads like an in-process one: same actors, details, spec sections.
    in_process = gl.run_asgi(asgi_app, gl.Request("POST", "/echo?q=7", body=b"hi")).trace
    sent = [(e.actor, e.detail, e.spec) for e in post_trace.events if e.kind == "send"]
    assert sent == [(e.actor, e.detail, e.spec) for e in in_process.events if e.kind == "send"]
    assert [d for _, d, _ in sent] == ["http.response.start, status 200",
                                       f"http.response.body, {len(body)} bytes, more_body=False"]
    kinds = [e.data["type"] for e in ws_trace.events if e.kind in ("receive", "send")]
    assert kinds == ["websocket.connect", "websocket.accept", "websocket.receive",
                     "websocket.send", "websocket.disconnect"]
    assert "websocket.send 'QUIET PLEASE'" in [e.detail for e in ws_trace.events]
    assert server_threads() == []


def test_an_asgi_app_that_raises_is_logged_with_file_and_line():
    async def broken(scope, receive, send):
        if scope["type"] == "http":
            raise ZeroDivisionError("division by zero")

    with gl.serve(broken, quiet=True) as srv:
        assert fetch(srv)[0] == 500
    (trace,) = srv.traces
    (log,) = [e.detail for e in trace.events if e.kind == "log"]
    line = broken.__code__.co_firstlineno + 2  # the raise
    assert log.endswith("ZeroDivisionError: division by zero")
    assert f'test_serve.py", line {line}, in broken' in log
    # The app ran in a worker process, and the trace is the one run_asgi gives in-process.
    in_process = gl.run_asgi(broken, gl.Request("GET", "/"))
    assert [(e.actor, e.kind) for e in trace.events] == [
        (e.actor, e.kind) for e in in_process.trace.events]
    assert [(f.rule, f.message) for f in trace.findings] == [
        (f.rule, f.message) for f in in_process.findings]


def test_plain_async_function_is_guessed_as_asgi():
    async def app(scope, receive, send):
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"made"})

    assert guess_gateway(app) == "asgi" and guess_gateway(asgi_app) == "asgi"
    assert guess_gateway(wsgi_app) == "wsgi" and guess_gateway("cgi-bin/") == "cgi"
    with gl.serve(app, quiet=True) as srv:
        assert srv.gateway == "asgi" and fetch(srv)[::2] == (201, b"made")


# -- CGI through a WSGI adapter --------------------------------------------------------

CGI_SCRIPT = """\
import os, sys
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n")
sys.stdout.write("cgi " + os.environ["REQUEST_METHOD"] + " " + os.environ["QUERY_STRING"]
                 + " " + os.environ["SCRIPT_NAME"] + "|" + os.environ["PATH_INFO"])
"""


def test_cgi_script_and_directory_served_through_run_cgi(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text(CGI_SCRIPT)
    with gl.serve(str(script), quiet=True) as srv:
        assert srv.gateway == "cgi"
        assert fetch(srv, "GET", "/?who=me")[::2] == (200, b"cgi GET who=me |/")
        assert srv.traces and srv.traces[0].interface == "cgi"
    with gl.serve(tmp_path, gateway="cgi", quiet=True) as srv:
        assert fetch(srv, "GET", "/hello.py/extra?x=1")[::2] == (
            200, b"cgi GET x=1 /hello.py|/extra")
        status, _, body = fetch(srv, "GET", "/nope.py")
        assert status == 404 and b"hello.py" in body
        assert fetch(srv, "GET", "/..%2Fsecret.py")[0] == 404
    assert server_threads() == []


def test_missing_cgi_path_is_a_clear_error(tmp_path):
    with pytest.raises(ServeError, match="not a CGI script"):
        gl.serve(str(tmp_path / "absent.py"), quiet=True)


# -- ports and stopping ---------------------------------------------------------------

@pytest.mark.parametrize("second", [wsgi_app, asgi_app], ids=["wsgi", "asgi"])
def test_a_taken_port_is_refused_with_a_clear_message(second, capfd):
    with gl.serve(wsgi_app, quiet=True) as srv:
        with pytest.raises(ServeError) as caught:
            gl.serve(second, port=srv.port, quiet=True)
        assert str(caught.value).startswith(
            f"port {srv.port} is already in use on 127.0.0.1; pick another with --port")
        assert fetch(srv)[0] == 200  # the first server is unharmed
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("app", [wsgi_app, asgi_app], ids=["wsgi", "asgi"])
def test_an_address_not_on_this_machine_is_not_called_a_taken_port(app):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine has it, so binding it fails.
    with pytest.raises(ServeError) as caught, pytest.warns(ExposedWarning):
        gl.serve(app, host="192.0.2.1", quiet=True)
    message = str(caught.value)
    assert message.startswith("cannot listen on 192.0.2.1:0: ") and "in use" not in message


def test_stop_is_idempotent_and_frees_the_port():
    srv = gl.serve(wsgi_app, quiet=True)
    port = srv.port
    srv.stop()
    srv.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with gl.serve(wsgi_app, port=port, quiet=True) as again:  # the port is free again
        assert again.port == port
    assert "stopped" in repr(srv)


def _reply_to(srv, data: bytes, timeout: float = 10) -> tuple[bytes, float]:
    """Send raw bytes, read until the server closes; (reply, seconds it took)."""
    start = time.perf_counter()
    with socket.create_connection((srv.host, srv.port), timeout=timeout) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply, time.perf_counter() - start


def test_a_bad_chunk_size_gets_400_and_a_finding_not_a_traceback(capfd):
    with gl.serve(wsgi_app, quiet=True) as srv:
        reply, _ = _reply_to(srv, b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                                  b"\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert [f.rule for f in srv.traces[-1].findings] == ["http.chunked.malformed"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_that_never_comes_gets_408_at_the_read_timeout():
    with gl.serve(wsgi_app, quiet=True, read_timeout=0.5) as srv:
        reply, took = _reply_to(srv, b"POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 100"
                                     b"\r\n\r\nabc")
        assert reply.startswith(b"HTTP/1.1 408 ") and took < 0.5 + 1.0
        assert [f.rule for f in srv.traces[-1].findings] == ["http.request.too_slow"]
        assert fetch(srv)[0] == 200  # the next request is served


def test_a_refusal_says_connection_close_once():
    # werkzeug closes every connection and says so itself; a second header line of the
    # lab's would be a duplicate field (RFC 9110 §5.3 allows it, but it is noise).
    with gl.serve(wsgi_app, quiet=True, read_timeout=0.5, max_body=10) as srv:
        slow, _ = _reply_to(srv, b"POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 5"
                                 b"\r\n\r\nab")
        big, _ = _reply_to(srv, b"POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 11"
                                b"\r\n\r\n" + b"x" * 11)
    for reply, status in ((slow, b"408"), (big, b"413")):
        head = reply.partition(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 " + status)
        assert head.count(b"\r\nconnection: close") == 1, head


def test_a_client_that_stops_mid_head_is_cut_at_the_read_timeout():
    with gl.serve(wsgi_app, quiet=True, read_timeout=0.5) as srv:
        reply, took = _reply_to(srv, b"GET / HTTP/1.1\r\nHost: a\r\n")
    assert reply == b"" and took < 0.5 + 1.0


def test_stop_cuts_a_connection_that_is_still_sending():
    srv = gl.serve(wsgi_app, quiet=True)
    sock = socket.create_connection((srv.host, srv.port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")  # and nothing more
    time.sleep(0.2)
    before = {t.ident for t in threading.enumerate()}
    start = time.perf_counter()
    srv.stop()
    assert time.perf_counter() - start < 3
    assert sock.recv(100) == b""  # the server closed its end
    sock.close()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(
            t.ident in before and t.name.startswith("Thread-") and "process_request" in t.name
            for t in threading.enumerate()):
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if "process_request" in t.name]


def test_not_an_app_is_a_clear_error():
    with pytest.raises(ServeError, match="must be callable"):
        gl.serve(42, gateway="wsgi", quiet=True)
    with pytest.raises(ServeError, match="unknown gateway"):
        gl.serve(wsgi_app, gateway="fcgi", quiet=True)


# -- the command line -----------------------------------------------------------------

APP_MODULE = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"cli " + environ["PATH_INFO"].encode()]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asgi " + scope["path"].encode()})
"""


class Cli:
    """`python -m gateway_lab serve ...` in a child process, its stdout read by a thread."""

    def __init__(self, cwd, *args):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway_lab", "serve", *args], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            if text in line:
                return line
        self.stop()
        pytest.fail(f"no {text!r} from the CLI; stderr:\n{self.stderr}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.reader.join(15)  # the last lines ("stopped") may still be in the pipe
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code


def _port_of(line: str) -> int:
    return int(line.split("127.0.0.1:")[1].split("/")[0].split()[0])


@pytest.mark.parametrize("gateway,target,want", [("wsgi", "labapp:app", b"cli /x"),
                                                 ("asgi", "labapp:asgi", b"asgi /x")])
def test_cli_serves_until_terminated(tmp_path, gateway, target, want):
    (tmp_path / "labapp.py").write_text(APP_MODULE)
    cli = Cli(tmp_path, "--gateway", gateway, target, "--port", "0")
    try:
        port = _port_of(cli.wait_for(f"Serving {gateway} app at http://127.0.0.1:"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/x")
        assert conn.getresponse().read() == want
        conn.close()
    finally:
        code = cli.stop()
    if os.name == "posix":  # SIGTERM is turned into a clean stop
        said = list(cli.lines.queue)
        assert code == 0, (said, cli.stderr)
        assert any("stopped" in (x or "") for x in said), (said, cli.stderr)


def test_cli_serves_a_wsgi_app_over_scgi(tmp_path):
    (tmp_path / "labapp.py").write_text(APP_MODULE)
    cli = Cli(tmp_path, "--protocol", "scgi", "labapp:app", "--port", "0")
    try:
        port = _port_of(cli.wait_for("over scgi at 127.0.0.1:"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(scgi.encode_request(gl.Request("GET", "/over-scgi")))
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        response = scgi.decode_response(reply)
        assert (response.status, response.body) == (200, b"cli /over-scgi")
    finally:
        cli.stop()


def test_cli_errors_are_messages_not_tracebacks(tmp_path):
    (tmp_path / "labapp.py").write_text(APP_MODULE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for args, code, words in [
            (["--gateway", "wsgi", "labapp:app", "--port", port], 1, "already in use"),
            (["--protocol", "uwsgi", "labapp:app", "--port", port], 1, "already in use"),
            (["labapp:nothing"], 2, "has no attribute"),
            (["no_such_module:app"], 2, "cannot import"),
        ]:
            done = subprocess.run([sys.executable, "-m", "gateway_lab", "serve", *args],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=30,
                                  check=False)
            assert done.returncode == code, done.stderr
            assert words in done.stderr and "Traceback" not in done.stderr


def test_serve_help_names_both_modes():
    done = subprocess.run([sys.executable, "-m", "gateway_lab", "serve", "--help"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0
    out = textwrap.dedent(done.stdout)
    assert "--gateway" in out and "--protocol" in out and "--reload" in out


def test_cli_reload_restarts_a_wsgi_app_when_its_file_changes(tmp_path):
    module = tmp_path / "labapp.py"
    module.write_text(APP_MODULE)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Cli(tmp_path, "--gateway", "wsgi", "labapp:app", "--port", str(port), "--reload")
    try:
        cli.wait_for("with --reload")

        def body() -> bytes | None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/r")
                return conn.getresponse().read()
            except OSError:
                return None

        deadline = time.monotonic() + 20
        while body() != b"cli /r" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert body() == b"cli /r"
        time.sleep(1.5)  # werkzeug's stat reloader compares modification times each second
        module.write_text(APP_MODULE.replace('b"cli "', 'b"reloaded "'))
        while body() != b"reloaded /r" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert body() == b"reloaded /r"
    finally:
        cli.stop()
