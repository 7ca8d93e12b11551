"""The `gateway-lab` command as a developer in a terminal uses it."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def gateway_lab(*args, cwd=ROOT, timeout=60):
    return subprocess.run([sys.executable, "-m", "gateway_lab", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "myapp.py").write_text(textwrap.dedent("""
        def app(environ, start_response):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("200 OK", [("Content-Type", "text/plain"),
                                      ("X-Seen", environ.get("HTTP_X_TOKEN", "-"))])
            return [b"got " + body]

        def broken(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return "not a list"

        async def asgi_app(scope, receive, send):
            await send({"type": "http.response.start", "status": 201,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": scope["path"].encode()})
    """))
    (tmp_path / "hello.py").write_text(textwrap.dedent("""
        import os
        print("Content-Type: text/plain")
        print()
        print("hello " + os.environ["QUERY_STRING"])
    """))
    return tmp_path


def test_run_prints_response_trace_and_no_findings(app_dir):
    out = gateway_lab("run", "myapp:app", "POST", "/items", "-H", "X-Token: t1", "-d", "hi",
                      cwd=app_dir)
    assert out.returncode == 0, out.stderr
    assert "HTTP/1.1 200 OK" in out.stdout and "X-Seen: t1" in out.stdout
    assert "got hi" in out.stdout
    assert "start_response" in out.stdout and "PEP 3333" in out.stdout
    assert "No findings" in out.stdout


def test_run_reads_the_body_from_a_file_with_at(app_dir):
    (app_dir / "body.txt").write_text("from a file")
    out = gateway_lab("run", "myapp:app", "POST", "/", "-d", "@body.txt", cwd=app_dir)
    assert out.returncode == 0, out.stderr
    assert "got from a file" in out.stdout


def test_run_json_is_the_exchange(app_dir):
    out = gateway_lab("run", "--gateway", "wsgi", "myapp:app", "GET", "/", "--json", cwd=app_dir)
    data = json.loads(out.stdout)
    assert data["response"]["status"] == 200 and data["findings"] == []
    assert [e["actor"] for e in data["trace"]][0] == "client"


def test_run_reports_findings_with_exit_status_1(app_dir):
    out = gateway_lab("run", "myapp:broken", cwd=app_dir)
    assert out.returncode == 1
    assert "wsgi.body.str_or_bytes" in out.stdout and "hint:" in out.stdout
    assert "500" in out.stdout


def test_run_guesses_asgi_and_cgi(app_dir):
    out = gateway_lab("run", "myapp:asgi_app", "GET", "/where", cwd=app_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "201" in out.stdout and "/where" in out.stdout
    out = gateway_lab("run", "hello.py", "GET", "/?name=Ada", cwd=app_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hello name=Ada" in out.stdout


def test_usage_errors_are_one_clear_line(app_dir):
    for args in (["run", "nosuchmodule:app"], ["run", "myapp:nothing"],
                 ["run", "myapp:app", "GET", "/", "-H", "no colon"],
                 ["run", "myapp:app", "GET", "/", "-H", "Host : x"],  # as %%wsgi says too
                 ["run", "myapp:app", "GET", "/", "--timeout", "0"],
                 ["run", "myapp:app", "POST", "/", "-d", "@no-such-file"],
                 ["run", "--gateway", "cgi", "myapp:app"],
                 ["run", "myapp:app", "GET", "no-slash"]):
        out = gateway_lab(*args, cwd=app_dir)
        assert out.returncode == 2
        assert "Traceback" not in out.stderr and out.stderr.startswith("gateway-lab run:")
    out = gateway_lab("frobnicate")
    assert out.returncode == 2 and "unknown command" in out.stderr


def test_demo_runs_the_guestbook_three_ways():
    out = gateway_lab("demo", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for title in ("== CGI", "== WSGI", "== ASGI"):
        assert title in out.stdout
    assert out.stdout.count("Thank you, Ada!") == 3
    assert "The three bodies are identical." in out.stdout
    assert "RFC 3875" in out.stdout and "PEP 3333" in out.stdout and "ASGI" in out.stdout
