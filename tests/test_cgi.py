"""The CGI gateway (RFC 3875) with real child processes: meta-variables, stdin,
the response kinds of §6.2, HEAD, raw bytes, timeouts that leave nothing behind."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
from processes import alive, gone_within

import gateway_lab as gl
from gateway_lab import demo
from gateway_lab.cgi import run_cgi
from gateway_lab.demo import guestbook

HERE = Path(__file__).parent / "cgi_scripts"
ENV_JSON = HERE / "env_json.py"
ECHO = HERE / "echo.py"
REDIRECT = HERE / "redirect.py"
POSIX = os.name == "posix"

# RFC 3875 §4.1: the meta-variables a server may set (REMOTE_IDENT needs an ident
# lookup the lab does not do), HTTPS for https.
RFC_NAMES = {"AUTH_TYPE", "REMOTE_USER", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE",
             "PATH_INFO",
             "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REQUEST_METHOD",
             "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
             "HTTPS"}
# What the operating system or Python itself adds to a child's environment.
SYSTEM_NAMES = {"PATH", "SYSTEMROOT", "LC_CTYPE", "__CF_USER_TEXT_ENCODING"}


def report(ex) -> dict:
    assert ex.response.status == 200, (ex.response.status, ex.findings, str(ex.trace))
    return json.loads(ex.response.body)


def kinds(ex) -> list[str]:
    return [e.kind for e in ex.trace.events if e.kind != "finding"]


def rules(ex) -> list[str]:
    return [f.rule for f in ex.findings]


def wait_gone(pids, within: float = 3.0) -> list[int]:
    """The pids still running after `within` seconds."""
    return gone_within(alive, pids, within)


def spawned_pids(ex) -> list[int]:
    return [e.data["pid"] for e in ex.trace.events if e.kind == "spawn"]


# -- meta-variables (§4.1) ---------------------------------------------------------

def test_meta_variables_follow_rfc_3875(monkeypatch):
    monkeypatch.setenv("GATEWAY_LAB_SECRET_MARKER", "must-not-leak")
    request = gl.Request(
        "GET", "/cgi-bin/env_json.py/extra/J%C3%BCrgen?x=1&y=%20z",
        headers=[("Host", "example.org:8080"), ("Accept", "text/html"),
                 ("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "a=1"), ("Cookie", "b=2"),
                 ("Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
                 ("Proxy", "http://attacker.example:3128")],
        client=("192.0.2.7", 41000))
    ex = run_cgi(ENV_JSON, request)
    env = report(ex)["environ"]
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/cgi-bin/env_json.py"
    assert env["PATH_INFO"] == "/extra/Jürgen"          # decoded, §4.1.5
    assert env["PATH_TRANSLATED"] == os.path.join(str(HERE), "extra", "Jürgen")
    assert env["QUERY_STRING"] == "x=1&y=%20z"          # still encoded, §4.1.7
    assert env["SERVER_NAME"] == "example.org"
    assert env["SERVER_PORT"] == "8080"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_SOFTWARE"].startswith("gateway-lab/")
    assert env["REMOTE_ADDR"] == env["REMOTE_HOST"] == "192.0.2.7"
    # §4.1.1 with §4.1.11: the scheme, and then the user-ID it supplied (never the password).
    assert (env["AUTH_TYPE"], env["REMOTE_USER"]) == ("Basic", "Aladdin")
    assert "open sesame" not in json.dumps(env)
    assert env["HTTP_HOST"] == "example.org:8080"
    assert env["HTTP_ACCEPT"] == "text/html"
    assert env["HTTP_X_MULTI"] == "a, b"                # one value, same meaning (§4.1.18)
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    # Not passed: credentials (§9.2), the httpoxy header, and no body means no
    # CONTENT_LENGTH (§4.1.2).
    for name in ("HTTP_AUTHORIZATION", "HTTP_PROXY", "CONTENT_LENGTH", "CONTENT_TYPE"):
        assert name not in env, name
    # A clean environment: nothing of the caller's.
    assert "GATEWAY_LAB_SECRET_MARKER" not in env
    for name in env:
        assert name in RFC_NAMES or name in SYSTEM_NAMES or name.startswith("HTTP_"), name
    # The trace shows exactly what the script was given, and why Proxy is gone.
    [event] = [e for e in ex.trace.events if e.kind == "meta-variables"]
    assert event.data == {k: v for k, v in env.items() if k not in SYSTEM_NAMES}
    # Dropping Proxy is the server doing right (httpoxy): a note on the server's lane,
    # never a finding drawn as the app's fault.
    assert rules(ex) == []
    [note] = [e for e in ex.trace.events if e.kind == "note"]
    assert note.actor == "server" and "HTTP_PROXY" in note.detail
    assert note.data["rule"] == "cgi.request.proxy_header_dropped"
    # §7.2: the script runs in its own directory.
    assert Path(report(ex)["cwd"]).resolve() == HERE.resolve()


def test_script_not_named_in_the_url_serves_the_whole_site():
    env = report(run_cgi(ENV_JSON, gl.Request("GET", "/")))["environ"]
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/"
    env = report(run_cgi(ENV_JSON, gl.Request("GET", "/app/x"), script_name="/app/"))["environ"]
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/x")


def test_a_path_outside_script_name_is_404_and_nothing_runs():
    ex = run_cgi(ENV_JSON, gl.Request("GET", "/other/x"), script_name="/app")
    assert ex.response.status == 404
    assert rules(ex) == ["cgi.request.not_mapped"]
    assert "spawn" not in kinds(ex)


def test_dot_segments_are_resolved_before_the_split():
    # §9.8: "/a/../env_json.py/x/./y" is the script with PATH_INFO "/x/y".
    env = report(run_cgi(ENV_JSON, gl.Request("GET", "/a/../env_json.py/x/./y")))["environ"]
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/env_json.py", "/x/y")


def test_https_and_header_names_with_underscores():
    request = gl.Request("GET", "/", headers={"X_Forwarded_User": "admin", "X-Ok": "1"},
                         scheme="https")
    ex = run_cgi(ENV_JSON, request)
    env = report(ex)["environ"]
    assert env["HTTPS"] == "on"
    assert env["HTTP_X_OK"] == "1"
    assert "HTTP_X_FORWARDED_USER" not in env
    assert rules(ex) == []  # the server did right: a note, not a finding
    assert [e.data["rule"] for e in ex.trace.events if e.kind == "note"] == \
        ["http.header.underscore_dropped"]


def test_nul_in_the_decoded_path_is_refused_with_400():
    ex = run_cgi(ENV_JSON, gl.Request("GET", "/env_json.py/a%00b"))
    assert ex.response.status == 400
    assert rules(ex) == ["cgi.request.bad_path"]
    assert "spawn" not in kinds(ex)


def test_indexed_query_becomes_command_line_words():
    # §4.4: a GET query without "=" is a list of search words.
    assert report(run_cgi(ENV_JSON, gl.Request("GET", "/?hello+w%C3%B6rld")))["argv"] == [
        "hello", "wörld"]
    assert report(run_cgi(ENV_JSON, gl.Request("GET", "/?q=hello+world")))["argv"] == []


# -- the request body on stdin (§4.2) ----------------------------------------------

def test_post_body_arrives_on_stdin_with_content_length_and_type():
    body = bytes(range(256)) * 4
    ex = run_cgi(ENV_JSON, gl.Request("POST", "/", {"Content-Type": "application/octet-stream"},
                                      body))
    got = report(ex)
    assert got["body"].encode("latin-1") == body
    assert got["environ"]["CONTENT_LENGTH"] == str(len(body))
    assert got["environ"]["CONTENT_TYPE"] == "application/octet-stream"
    assert ex.ok, ex.findings
    assert any(e.kind == "stdin" and f"{len(body)} bytes" in e.detail for e in ex.trace.events)


def test_chunked_body_is_de_chunked_for_the_script():
    request = gl.Request("POST", "/", {"Transfer-Encoding": "chunked"},
                         chunks=[b"hello ", b"chunked ", b"world"])
    got = report(run_cgi(ENV_JSON, request))
    assert got["body"] == "hello chunked world"
    assert got["environ"]["CONTENT_LENGTH"] == "19"     # §4.1.2: after de-chunking
    # The coding is gone, so the field is too: a script (or werkzeug) that saw
    # "chunked" would ignore CONTENT_LENGTH and read nothing.
    assert "HTTP_TRANSFER_ENCODING" not in got["environ"]


def test_big_body_and_big_output_do_not_deadlock():
    # The script prints 300 KB before it reads a 1 MB body: both pipes fill up
    # unless the server reads and writes at the same time.
    body = os.urandom(1 << 20)
    ex = run_cgi(ECHO, gl.Request("POST", "/?first=300000", {"Content-Type": "x/y"}, body),
                 timeout=20)
    assert ex.response.status == 200, ex.findings
    assert ex.response.body == b"." * 300000 + body
    assert ex.response.header("Content-Type") == "x/y"
    # Output came before the input was all read; the trace still runs forward in time.
    times = [e.t for e in ex.trace.events]
    assert times == sorted(times)


# -- the response (§6) -------------------------------------------------------------

def test_status_header_sets_the_status_and_is_not_sent_on():
    ex = run_cgi(HERE / "status.py", gl.Request("GET", "/"))
    assert (ex.response.status, ex.response.reason) == (404, "Not Found")
    assert ex.response.headers == [("Content-Type", "text/plain; charset=utf-8"),
                                   ("X-Reason", "no such page")]
    assert ex.response.body == b"nothing here\n"
    assert ex.ok


def test_local_redirect_is_followed_inside_the_server():
    ex = run_cgi(REDIRECT, gl.Request("POST", "/redirect.py/old", {"Content-Type": "a/b"},
                                      b"payload"))
    assert ex.response.status == 200
    # §6.2.2 and Apache: the server re-runs the script for the new URL, as a GET.
    assert ex.response.body == b"GET /new from=old"
    assert ex.ok, ex.findings
    assert kinds(ex).count("spawn") == 2
    assert "local redirect" in kinds(ex)
    assert wait_gone(spawned_pids(ex)) == []


def test_client_redirects():
    ex = run_cgi(REDIRECT, gl.Request("GET", "/redirect.py/away"))
    assert (ex.response.status, ex.response.reason) == (302, "Found")   # §6.2.3
    assert ex.response.header("Location") == "https://example.org/elsewhere"
    assert ex.response.body == b""
    assert ex.ok
    ex = run_cgi(REDIRECT, gl.Request("GET", "/redirect.py/moved"))     # §6.2.4
    assert ex.response.status == 301
    assert ex.response.header("Location") == "https://example.org/new-home"
    assert ex.response.body == b"moved to https://example.org/new-home\n"
    assert ex.ok


def test_head_gets_the_headers_but_no_body():
    ex = run_cgi(ECHO, gl.Request("HEAD", "/"))
    assert ex.response.status == 200
    assert ex.response.header("X-Method") == "HEAD"   # the script saw HEAD
    assert ex.response.body == b""
    assert "discard body" not in kinds(ex)            # echo.py printed no body
    ex = run_cgi(HERE / "status.py", gl.Request("HEAD", "/"))
    assert ex.response.status == 404 and ex.response.body == b""
    assert "discard body" in kinds(ex)                # §4.3.3: the server drops it
    assert ex.ok


def test_raw_bytes_request():
    ex = run_cgi(ENV_JSON, b"POST /env_json.py?a=1 HTTP/1.1\r\nHost: raw.example\r\n"
                           b"Content-Length: 5\r\n\r\nhello")
    got = report(ex)
    assert got["body"] == "hello"
    assert got["environ"]["SERVER_NAME"] == "raw.example"
    assert got["environ"]["QUERY_STRING"] == "a=1"
    bad = run_cgi(ENV_JSON, b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n")
    assert bad.response.status == 400
    assert "spawn" not in kinds(bad)


def test_websocket_is_refused():
    ex = run_cgi(ENV_JSON, gl.Request.websocket("/ws", ["hi"]))
    assert ex.response.status == 501
    assert rules(ex) == ["cgi.request.websocket"]
    assert "spawn" not in kinds(ex)


def test_the_trace_tells_the_story_in_order():
    ex = run_cgi(ECHO, gl.Request("POST", "/", {"Content-Type": "text/plain"}, b"hi"))
    assert kinds(ex) == ["request", "meta-variables", "spawn", "stdin", "stdout", "stdout",
                         "stdout", "exit", "response"]
    spawn = next(e for e in ex.trace.events if e.kind == "spawn")
    assert spawn.data["argv"] == (sys.executable, str(ECHO.resolve()))
    assert spawn.detail.startswith("python echo.py")
    exit_event = next(e for e in ex.trace.events if e.kind == "exit")
    assert exit_event.data["code"] == 0
    times = [e.t for e in ex.trace.events]
    assert times == sorted(times)
    assert all(e.spec for e in ex.trace.events)


def test_a_header_block_past_the_servers_buffer_is_502_within_the_time_limit(tmp_path):
    # 200,000 header lines and never an empty line in reach: a server reads the head
    # into a fixed buffer and gives up (nginx: "upstream sent too big header", 502);
    # the lab answers as fast, and within the script's time limit.
    script = tmp_path / "headers.py"
    script.write_text("import sys\nw = sys.stdout.write\n"
                      "for i in range(200000):\n    w('X-H%d: v\\n' % i)\n"
                      "w('Content-Type: text/plain\\n\\nhi')\n")
    start = time.monotonic()
    ex = run_cgi(script, timeout=1)
    assert time.monotonic() - start < 1
    assert ex.response.status == 502
    assert rules(ex) == ["cgi.response.header_too_large"]
    assert f"first {gl.cgi.MAX_HEADER_BLOCK} bytes" in ex.findings[0].message
    assert len(ex.trace.events) < 20


def test_many_header_lines_within_the_buffer_are_served_with_a_bounded_trace(tmp_path):
    lines = gl.cgi.MAX_HEADER_EVENTS * 20
    script = tmp_path / "headers.py"
    script.write_text(f"for i in range({lines}):\n    print('X-H%d: v' % i)\n"
                      "print('Content-Type: text/plain')\nprint()\nprint('hi')\n")
    ex = run_cgi(script)
    assert ex.response.status == 200 and ex.response.header(f"X-H{lines - 1}") == "v"
    shown = [e.detail for e in ex.trace.events if e.kind == "stdout"]
    assert len(shown) == gl.cgi.MAX_HEADER_EVENTS + 2
    assert shown[-2] == f"... {lines + 1 - gl.cgi.MAX_HEADER_EVENTS} more header lines"


def test_demo_guestbook_through_run_cgi():
    ex = run_cgi(demo.CGI_SCRIPT, demo.request())
    assert ex.response.status == 200
    assert ex.response.body == guestbook.sign(guestbook.parse_form(demo.FORM))
    assert ex.response.header("Content-Type") == "text/html; charset=utf-8"
    assert ex.ok, ex.findings
    # The same page as the WSGI version of the guestbook.
    from gateway_lab.demo.guestbook_wsgi import app

    assert gl.run_wsgi(app, demo.request()).response.body == ex.response.body
    get = run_cgi(demo.CGI_SCRIPT, gl.Request("GET", "/guestbook"))
    assert get.response.status == 200 and b"<form" in get.response.body and get.ok


def test_run_cgi_is_public_and_takes_str_paths():
    ex = gl.run_cgi(str(HERE / "status.py"))
    assert ex.response.status == 404 and ex.interface == "cgi"
    assert ex.to_dict()["response"]["status"] == 404


@pytest.mark.skipif(not POSIX, reason="running a file by its #! line is POSIX")
def test_an_executable_shell_script_runs_directly(tmp_path):
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello from %s' "
                      "\"$REQUEST_METHOD\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    ex = run_cgi(script, gl.Request("GET", "/"))
    assert (ex.response.status, ex.response.body) == (200, b"hello from GET")
    assert ex.ok


def test_interpreter_runs_any_file(tmp_path):
    script = tmp_path / "hello.cgi"
    script.write_text("print('Content-Type: text/plain')\nprint()\nprint('via interpreter')\n")
    ex = run_cgi(script, gl.Request("GET", "/"), interpreter=[sys.executable])
    assert ex.response.body.strip() == b"via interpreter" and ex.ok


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match="script's path"):
        run_cgi(42)
    with pytest.raises(ValueError, match="timeout"):
        run_cgi(ENV_JSON, timeout=0)
    with pytest.raises(ValueError, match="max_output"):
        run_cgi(ENV_JSON, max_output=-1)


def test_head_keeps_the_content_length_a_get_would_have(tmp_path):
    script = tmp_path / "head.py"
    script.write_text("import os\n"
                      "print('Content-Type: text/plain')\n"
                      "print('Content-Length: 5')\n"
                      "print()\n"
                      "if os.environ['REQUEST_METHOD'] != 'HEAD':\n"
                      "    print('hello', end='')\n")
    ex = run_cgi(script, gl.Request("HEAD", "/"))
    assert ex.response.header("Content-Length") == "5" and ex.response.body == b""
    assert ex.ok, ex.findings


def test_absolute_form_target():
    env = report(run_cgi(ENV_JSON, gl.Request("GET", "http://example.org/env_json.py/x?q=1")))[
        "environ"]
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "/env_json.py", "/x", "q=1")


def test_nph_script_output_goes_to_the_client_unmodified(tmp_path):
    # §5: Apache's convention, a name starting with "nph-".
    script = tmp_path / "nph-hello.py"
    script.write_text("import sys\n"
                      "sys.stdout.buffer.write(b'HTTP/1.1 418 I am a teapot\\r\\n'\n"
                      "    b'Content-Type: text/plain\\r\\nConnection: close\\r\\n'\n"
                      "    b'Transfer-Encoding: chunked\\r\\n\\r\\n'\n"
                      "    b'5\\r\\nhello\\r\\n0\\r\\n\\r\\n')\n")
    ex = run_cgi(script, gl.Request("GET", "/"))
    assert (ex.response.status, ex.response.reason) == (418, "I am a teapot")
    assert ex.response.header("Transfer-Encoding") == "chunked"   # not the server's to drop
    assert ex.response.body == b"hello"                           # as the client reads it
    assert "forward" in kinds(ex)
    assert ex.ok, ex.findings


# -- nothing left behind -------------------------------------------------------------

GRANDCHILD = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open("pids.txt", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
time.sleep(60)
"""


@pytest.mark.skipif(not POSIX, reason="process groups and /proc are POSIX")
def test_timeout_kills_the_whole_process_group(tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text(GRANDCHILD)
    start = time.monotonic()
    ex = run_cgi(script, gl.Request("GET", "/"), timeout=1.5)
    elapsed = time.monotonic() - start
    assert ex.response.status == 504
    assert rules(ex) == ["cgi.script.timeout"]
    assert 1.4 < elapsed < 1.5 + 2
    script_pid, grandchild_pid = map(int, (tmp_path / "pids.txt").read_text().split())
    assert script_pid == spawned_pids(ex)[0]
    assert wait_gone([script_pid, grandchild_pid]) == []
