"""%%wsgi, %%asgi and %%cgi, typed into a real IPython shell as an instructor would."""

import time

import pytest

pytest.importorskip("IPython")
pytest.importorskip("ipywidgets")

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from gateway_lab import magics

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "gateway_lab")
    return shell


def run(ip, cell: str):
    """Run a cell; return (success, rich outputs as dicts, captured stdout)."""
    magics.last_exchange = None
    with capture_output() as cap:
        result = ip.run_cell(cell)
    return result.success, [o.data for o in cap.outputs], cap.stdout


def html_of(outputs) -> str:
    return "".join(o.get("text/html", "") for o in outputs)


HELLO = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    body = environ["QUERY_STRING"] + "|" + environ.get("HTTP_X_LANG", "")
    body += "|" + environ["wsgi.input"].read().decode()
    return [body.encode()]
"""


def test_load_ext_registers_three_cell_magics(ip):
    cells = ip.magics_manager.magics["cell"]
    assert {"wsgi", "asgi", "cgi"} <= set(cells)


def test_wsgi_magic_runs_the_cell_app_with_method_target_headers_and_body(ip):
    ok, outputs, _ = run(ip, "%%wsgi POST /x?a=1 -H 'X-Lang: en' -d 'hi there' --out ex\n"
                         + HELLO)
    assert ok
    ex = ip.user_ns["ex"]
    assert ex is magics.last_exchange
    assert ex.request.method == "POST" and ex.response.body == b"a=1|en|hi there"
    assert "a=1|en|hi there" in html_of(outputs)       # the response is shown
    assert "no findings" in html_of(outputs)
    assert any(WIDGET in o for o in outputs)             # and the stepper
    assert callable(ip.user_ns["app"])                   # the cell ran in the user namespace


def test_wsgi_magic_shows_findings_in_red(ip):
    _ok, outputs, _ = run(ip, """%%wsgi /
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return "a str, not a list of bytes"
""")
    shown = html_of(outputs)
    assert magics.last_exchange.response.status == 500
    assert "wsgi.body.str_or_bytes" in shown and "#b00020" in shown


def test_the_app_is_app_or_the_last_callable_or_the_named_one(ip):
    run(ip, """%%wsgi /
def helper(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"helper"]
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app"]
""")
    assert magics.last_exchange.response.body == b"app"
    run(ip, """%%wsgi /
import os
def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
""")
    assert magics.last_exchange.response.body == b"hello"
    run(ip, "%%wsgi / --app helper\nx = 1")
    assert magics.last_exchange.response.body == b"helper"


def test_earlier_cells_are_visible_to_the_app(ip):
    ip.run_cell("GREETING = b'from an earlier cell'")
    run(ip, """%%wsgi /
def greeter(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [GREETING]
""")
    assert magics.last_exchange.response.body == b"from an earlier cell"


@pytest.mark.parametrize("line, message", [
    ("%%wsgi GET /x -H 'no colon'", "is not 'Name: value'"),
    ("%%wsgi GET /x -H 'Host : x'", "before the colon"),    # as `gateway-lab run` says too
    ("%%wsgi GET nowhere", "must start with"),
    ("%%wsgi GET / extra words", "expected [METHOD] TARGET"),
    ("%%wsgi GET / --timeout 0", "positive"),
    ("%%wsgi GET / --bogus", "unrecognized arguments"),
    ("%%wsgi GET '/x", "cannot read the line"),
    ("%%wsgi / --app nothing_here", "nothing called 'nothing_here'"),
])
def test_bad_lines_give_a_clear_message_not_a_traceback(ip, line, message):
    _ok, outputs, stdout = run(ip, line + "\n" + HELLO)
    import html

    assert message in html.unescape(html_of(outputs))
    assert "Traceback" not in stdout and magics.last_exchange is None


def test_a_cell_without_an_app_says_so(ip):
    ip.user_ns.pop("app", None)
    for name in [n for n, v in list(ip.user_ns.items()) if n in ("helper", "hello", "greeter")]:
        ip.user_ns.pop(name)
    _, outputs, _ = run(ip, "%%wsgi /\nx = 41 + 1")
    assert "defines no app" in html_of(outputs)


def test_help_shows_usage(ip):
    _, outputs, _ = run(ip, "%%wsgi -h\npass")
    assert "usage: %%wsgi" in html_of(outputs) and "gl-magic-help" in html_of(outputs)


def test_an_app_that_hangs_is_stopped_and_the_shell_lives_on(ip):
    run(ip, """%%wsgi / --timeout 0.3
def app(environ, start_response):
    while True:
        pass
""")
    assert magics.last_exchange.response.status == 504
    ok, _, _ = run(ip, "%%wsgi /\n" + HELLO)
    assert ok and magics.last_exchange.response.status == 200


def test_the_learners_own_error_is_shown_by_ipython_and_nothing_runs(ip):
    _ok, _outputs, stdout = run(ip, "%%wsgi /\nraise ValueError('oops in the cell')")
    assert "ValueError" in stdout and magics.last_exchange is None


def test_no_stepper_shows_the_static_diagram(ip):
    _, outputs, _ = run(ip, "%%wsgi / --no-stepper\n" + HELLO)
    assert any("image/svg+xml" in o and "text/vnd.mermaid" in o for o in outputs)
    assert not any(WIDGET in o for o in outputs)


def test_asgi_magic(ip):
    ok, outputs, _ = run(ip, """%%asgi GET /hi?x=1 -H 'X-Lang: fr'
async def app(scope, receive, send):
    assert scope["type"] == "http"
    lang = dict(scope["headers"]).get(b"x-lang", b"")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["query_string"] + b"|" + lang})
""")
    assert ok and magics.last_exchange.interface == "asgi"
    assert magics.last_exchange.response.body == b"x=1|fr"
    assert any(WIDGET in o for o in outputs)


def test_cgi_magic_runs_the_cell_as_a_child_process_script(ip):
    ip.run_cell("SECRET_IN_THE_KERNEL = 1")
    _ok, outputs, _ = run(ip, """%%cgi GET /?name=Ada
import os
print("Content-Type: text/plain")
print()
print(os.environ["QUERY_STRING"], os.getpid(), "SECRET_IN_THE_KERNEL" in globals())
""")
    ex = magics.last_exchange
    assert ex.interface == "cgi" and ex.response.status == 200
    query, pid, leaked = ex.response.body.decode().split()
    assert query == "name=Ada" and int(pid) != __import__("os").getpid() and leaked == "False"
    assert "name=Ada" in html_of(outputs)


def test_an_async_app_in_a_wsgi_cell_is_told_to_use_asgi(ip):
    ok, outputs, _ = run(ip, "%%wsgi /\nasync def app(scope, receive, send):\n    pass\n")
    text = html_of(outputs)
    assert "run it with %%asgi instead of %%wsgi" in text
    assert "ASGI app" in text and magics.last_exchange is None


def test_a_wsgi_app_in_an_asgi_cell_is_told_to_use_wsgi(ip):
    ok, outputs, _ = run(ip, "%%asgi /\n" + HELLO)
    text = html_of(outputs)
    assert "WSGI app" in text and "%%wsgi" in text and magics.last_exchange is None


def _plain(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_a_syntax_error_points_at_this_cell_and_its_own_line(ip):
    magics.last_exchange = None
    with capture_output() as cap:
        result = ip.run_cell("%%wsgi /\ndef app(environ, start_response):\n"
                             "    start_response('200 OK', [])\n    return [b'x' +]\n",
                             store_history=True)
    assert "SyntaxError" in _plain(cap.stdout) and magics.last_exchange is None
    # line 4 of the cell as the notebook shows it (the %%wsgi line is line 1)
    assert f"Cell In[{result.execution_count}], line 4" in _plain(cap.stdout)


def test_a_runtime_error_points_at_this_cell_and_its_own_line(ip):
    with capture_output() as cap:
        result = ip.run_cell("%%wsgi /\nx = 1\nraise ValueError('boom')\n",
                             store_history=True)
    out = _plain(cap.stdout)
    assert f"Cell In[{result.execution_count}], line 3" in out and "ValueError" in out


def test_a_cell_that_sets_app_to_none_is_told_so_not_that_it_has_no_app(ip):
    _, outputs, _ = run(ip, "%%wsgi /\napp = None\n")
    text = html_of(outputs)
    assert "sets `app` to a NoneType, not a callable" in text
    assert "defines no app" not in text and magics.last_exchange is None


def test_a_cgi_cell_error_points_at_the_cells_own_line(ip):
    run(ip, "%%cgi /\nprint('Content-Type: text/plain')\nprint()\nraise ValueError('boom')\n")
    ex = magics.last_exchange
    assert ex.response.status == 502
    stderr = " ".join(str(e.detail) for e in ex.trace.events if e.kind == "stderr")
    # line 4 of the cell as the notebook shows it (the %%cgi line is line 1)
    assert "line 4" in stderr and "ValueError: boom" in stderr


def test_a_cgi_cell_that_reads_stdin_for_ever_is_killed_at_its_timeout(ip):
    start = time.perf_counter()
    ok, _, _ = run(ip, "%%cgi / --timeout 0.5\nimport sys\nwhile True:\n    sys.stdin.read()\n")
    assert ok and magics.last_exchange.response.status == 504
    assert time.perf_counter() - start < 0.5 + 1.0
    assert [f.rule for f in magics.last_exchange.findings] == ["cgi.script.timeout"]
