"""`make demo` and the guestbook it runs: a terminal of 80 columns, an app that answers
like a real one (404, 405 with Allow) in all three versions."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gateway_lab as gl
from gateway_lab import demo
from gateway_lab.demo.guestbook_asgi import app as asgi_app
from gateway_lab.demo.guestbook_wsgi import app as wsgi_app

ROOT = Path(__file__).resolve().parents[1]


def _run(gateway: str, request):
    if gateway == "cgi":
        return gl.run_cgi(demo.CGI_SCRIPT, request)
    return (gl.run_wsgi if gateway == "wsgi" else gl.run_asgi)(
        wsgi_app if gateway == "wsgi" else asgi_app, request)


def _demo_command() -> list[str]:
    """The command `make demo` runs (read with make -n, so no .venv is built here)."""
    if shutil.which("make") is None:
        return [sys.executable, "-m", "gateway_lab", "demo"]
    plan = subprocess.run(["make", "-n", "-s", "demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30).stdout.strip().splitlines()
    command = shlex.split(plan[-1])
    assert command[1:] == ["demo"] and command[0].endswith("gateway-lab"), plan
    # the same program, from this interpreter (the .venv may not be built yet)
    return [sys.executable, "-m", "gateway_lab", "demo"]


@pytest.fixture(scope="module")
def demo_text():
    env = dict(os.environ, COLUMNS="80", LINES="24")
    done = subprocess.run(_demo_command(), cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_demo_fits_80_columns(demo_text):
    long = [line for line in demo_text.splitlines() if len(line) > 80]
    assert not long, long


def test_the_demo_says_who_is_who_and_where_the_apps_are(demo_text):
    for role in ("client", "server", "gateway", "app"):
        assert any(line.startswith(f"  {role} ") for line in demo_text.splitlines()), role
    assert "in CGI the server" in demo_text     # why a CGI trace has no gateway lane
    assert str(demo.HERE) in demo_text
    for name in ("guestbook_cgi.py", "guestbook_wsgi.py", "guestbook_asgi.py"):
        assert (demo.HERE / name).is_file()
        assert f"== {name.split('_')[1][:-3].upper()} ({name})" in demo_text


def test_the_demo_keeps_every_spec_section_whole(demo_text):
    for ex in demo.run_all():
        for event in ex.trace.events:
            assert event.spec in demo_text, event.spec


def test_the_demo_ends_with_what_to_open_next(demo_text):
    tail = demo_text.rsplit("What next:", 1)[1]
    assert "gateway-lab lab" in tail and "gateway-lab check" in tail


@pytest.mark.parametrize("gateway", ["cgi", "wsgi", "asgi"])
def test_the_guestbook_answers_404_for_a_path_it_does_not_have(gateway):
    ex = _run(gateway, gl.Request("DELETE", "/nope"))
    assert ex.response.status == 404 and b"/nope" in ex.response.body
    assert ex.ok, ex.findings


@pytest.mark.parametrize("gateway", ["cgi", "wsgi", "asgi"])
def test_the_guestbook_answers_405_with_allow_for_a_method_it_does_not_take(gateway):
    ex = _run(gateway, gl.Request("DELETE", "/guestbook"))
    assert ex.response.status == 405
    assert ex.response.header("Allow") == "GET, HEAD, POST"
    assert ex.ok, ex.findings


@pytest.mark.parametrize("gateway", ["cgi", "wsgi", "asgi"])
def test_the_guestbook_answers_head_with_the_headers_of_get_and_no_body(gateway):
    get = _run(gateway, gl.Request("GET", "/guestbook"))
    head = _run(gateway, gl.Request("HEAD", "/guestbook"))
    assert head.response.status == 200 and head.response.body == b""
    assert head.response.header("Content-Length") == str(len(get.response.body))
