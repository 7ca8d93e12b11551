"""The browser's code paths (gateway_lab/browser.py), run on the desktop by choosing them
the way the lab chooses them in Pyodide: the same functions, put in place with the flag's
value forced.  tests/test_lite.py runs them for real, in chromium; these run everywhere.
"""

import asyncio
import os
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest

import gateway_lab as gl
from gateway_lab import browser, cgi, sandbox
from gateway_lab.asgi import loops

MONITORING = hasattr(sys, "monitoring")


@pytest.fixture
def in_browser(monkeypatch):
    """Every switch the lab makes at import when sys.platform == "emscripten"."""
    from gateway_lab import exercises, isolate, serving
    from gateway_lab.concurrency import real
    from gateway_lab.exercises import core
    from gateway_lab.servers import broker, catalog, loadgen
    from gateway_lab.wire import server as wire_server

    monkeypatch.setattr(sandbox, "call", sandbox._call_inline)
    monkeypatch.setattr(sandbox, "_call_on_worker", sandbox._call_inline)
    monkeypatch.setattr(loops.OwnLoop, "loop_class", loops._BrowserLoop)
    monkeypatch.setattr(loops, "_main_loop", None)
    monkeypatch.setattr(cgi, "_execute", cgi._simulate)
    monkeypatch.setattr(cgi, "_command", cgi._command_in_browser)
    for module in (real, serving, wire_server, catalog, broker, loadgen, exercises, core,
                   isolate):
        monkeypatch.setattr(module, "IN_BROWSER", True)
    main = sys.modules["__main__"]
    yield
    # A simulated CGI script runs as __main__ (runpy): a stopped one must put it back,
    # or worker processes, which re-import __main__, no longer start.
    assert sys.modules["__main__"] is main
    loops._main_loop = None
    # Nothing a run stopped is left half done: a loop left "running" here made every later
    # asyncio.run() fail (the stop was once raised inside asyncio's own clean-up).
    assert asyncio._get_running_loop() is None


def _spin():
    i = 0
    while True:  # a body: Python 3.10/3.11's settrace sees no line in `while True: pass`
        i += 1


def _threads() -> set:
    return {t for t in threading.enumerate() if t.name.startswith("gateway-lab")}


# -- the deadline without a thread --------------------------------------------------------

def test_a_loop_is_stopped_at_its_deadline_without_a_thread(in_browser):
    before = set(threading.enumerate())
    started = time.perf_counter()
    out = sandbox.call(_spin, 0.3)
    took = time.perf_counter() - started
    assert out.timed_out and out.error is None
    assert 0.29 < took < 2.0
    # no watchdog, no worker (an idle one of an earlier test may have exited meanwhile)
    assert set(threading.enumerate()) <= before
    assert sys.gettrace() is None                  # nothing left tracing


def test_an_inner_deadline_is_the_inner_runs_and_an_outer_one_reaches_the_outer_run(in_browser):
    inner = sandbox.call(lambda: sandbox.call(_spin, 0.2).timed_out, 5)
    assert inner.value is True and not inner.timed_out
    started = time.perf_counter()
    outer = sandbox.call(lambda: sandbox.call(_spin, 5), 0.3)
    assert outer.timed_out and time.perf_counter() - started < 2.0


def test_errors_and_values_come_back_as_on_the_desktop(in_browser):
    assert sandbox.call(lambda: 6 * 7, 1).value == 42
    assert isinstance(sandbox.call(lambda: 1 / 0, 1).error, ZeroDivisionError)


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is Python 3.12+: before it the "
                    "trace function is switched off by the first Stopped it raises")
def test_a_bare_except_does_not_keep_code_alive_past_its_deadline(in_browser):
    def stubborn():
        while True:
            try:
                _spin()
            except BaseException:  # noqa: BLE001 - exactly what a careless app does
                pass

    started = time.perf_counter()
    assert sandbox.call(stubborn, 0.3).timed_out
    assert time.perf_counter() - started < 2.0


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is Python 3.12+")
def test_an_app_that_swallows_the_stop_runs_here_and_is_stopped_all_the_same(in_browser):
    # On the desktop such an app runs in a process of its own (isolate.py); a page has none.
    def app(environ, start_response):
        while True:
            try:
                _spin()
            except:  # noqa: E722 - the bare except beginners write
                pass

    started = time.perf_counter()
    ex = gl.run_wsgi(app, gl.Request("GET", "/"), timeout=0.3)
    assert time.perf_counter() - started < 3.0
    assert ex.response.status == 504
    said = " ".join(str(f) for f in ex.trace.findings)
    assert "cannot start processes" in said and "ran in this one" in said
    with pytest.raises(Exception, match="cannot start processes"):
        gl.run_wsgi(app, gl.Request("GET", "/"), timeout=0.3, isolate=True)


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is Python 3.12+")
def test_a_sleep_that_is_python_code_is_the_plain_one_during_a_run(in_browser, monkeypatch):
    # Pyodide's time.sleep awaits on the kernel's loop; a stop raised inside it left the
    # next sleep stuck (lesson 03 hung in chromium).  During a run it is the C function.
    plain = time.sleep
    used = []

    def pyodide_like_sleep(seconds):
        used.append(seconds)
        plain(seconds)

    pyodide_like_sleep.__wrapped__ = plain
    monkeypatch.setattr(time, "sleep", pyodide_like_sleep)
    monkeypatch.setattr(sandbox, "_PLAIN_SLEEP", plain)

    def stubborn(environ, start_response):
        while True:
            try:
                time.sleep(0.01)
            except:  # noqa: E722
                pass

    ex = gl.run_wsgi(stubborn, gl.Request("GET", "/"), timeout=0.3)
    assert ex.response.status == 504
    assert used == []                       # the plain sleep ran, not the wrapper
    assert time.sleep is pyodide_like_sleep  # and the kernel's is back afterwards


def test_a_watchdog_that_cannot_start_leaves_nothing_behind(monkeypatch):
    if not sandbox._HAS_ALARM or threading.current_thread() is not threading.main_thread():
        pytest.skip("the watchdog runs on POSIX main threads only")

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(sandbox._Watchdog, "running", False)
    monkeypatch.setattr(sandbox._Watchdog, "start", no_thread)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        sandbox.call(lambda: 1, 1.0)
    assert sandbox._Watchdog.running is False and sandbox._run.busy is False
    monkeypatch.undo()
    started = time.perf_counter()
    assert sandbox.call(lambda: 2, 1.0).value == 2   # at once, on this thread, no TypeError
    assert time.perf_counter() - started < 1.0


# -- ASGI on the lab's loop without a selector --------------------------------------------

async def _hello(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


async def _sleepy(scope, receive, send):
    import asyncio

    await asyncio.sleep(0.1)
    await _hello(scope, receive, send)


async def _busy(scope, receive, send):
    _spin()


async def _lifespan_app(scope, receive, send):
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


def test_asgi_apps_run_and_await_timers_on_the_browser_loop(in_browser):
    before = _threads()
    assert gl.run_asgi(_hello, gl.Request("GET", "/")).response.body == b"hi"
    started = time.perf_counter()
    ex = gl.run_asgi(_sleepy, gl.Request("GET", "/"))
    assert ex.response.status == 200 and time.perf_counter() - started >= 0.09
    assert isinstance(loops._main_loop.loop, loops._BrowserLoop)
    result = gl.lifespan(_lifespan_app)
    assert result.started and result.stopped and result.ok
    assert _threads() <= before


def test_an_app_that_holds_the_loop_gets_a_504_and_a_finding(in_browser):
    ex = gl.run_asgi(_busy, gl.Request("GET", "/"), timeout=0.3)
    assert ex.response.status == 504
    assert "asgi.app.timeout" in [f.rule for f in ex.findings]
    assert gl.run_asgi(_hello, gl.Request("GET", "/")).response.status == 200  # usable again


def test_waiting_for_what_only_the_notebooks_loop_could_deliver_says_what_to_do(in_browser):
    import asyncio

    async def forever():
        await asyncio.get_running_loop().create_future()   # nothing will ever set it

    outcome = loops.run_sync(forever, 1.0)
    assert isinstance(outcome.error, browser.BrowserLimit)
    assert "await gl.run_asgi_async(app, request)" in str(outcome.error)


# -- CGI as a labelled simulation ---------------------------------------------------------

SCRIPT = """\
import os, sys
body = sys.stdin.read()
print("Content-Type: text/plain")
print()
print(os.environ["QUERY_STRING"], body, os.path.basename(os.getcwd()), sys.argv[1:])
"""


def test_a_python_cgi_script_runs_in_process_with_its_meta_variables(in_browser, tmp_path):
    (tmp_path / "echo.py").write_text(SCRIPT)
    environ, cwd, stdout = dict(os.environ), os.getcwd(), sys.stdout
    ex = gl.run_cgi(tmp_path / "echo.py", gl.Request("POST", "/echo.py?x=1", body=b"plum"))
    assert ex.response.status == 200 and ex.findings == []
    assert ex.response.body == f"x=1 plum {tmp_path.name} []\n".encode()
    spawn = next(e for e in ex.trace if e.kind == "spawn")
    assert "SIMULATED" in spawn.detail
    assert (dict(os.environ), os.getcwd(), sys.stdout) == (environ, cwd, stdout)  # put back


def test_a_simulated_script_is_stopped_and_its_exit_status_read(in_browser, tmp_path):
    (tmp_path / "loop.py").write_text("i = 0\nwhile True:\n    i += 1\n")
    (tmp_path / "fails.py").write_text("import sys\nsys.exit(3)\n")
    ex = gl.run_cgi(tmp_path / "loop.py", gl.Request("GET", "/"), timeout=0.3)
    assert ex.response.status == 504 and [f.rule for f in ex.findings] == ["cgi.script.timeout"]
    ex = gl.run_cgi(tmp_path / "fails.py", gl.Request("GET", "/"))
    assert ex.response.status == 502
    assert any("3" in e.detail for e in ex.trace if e.kind == "exit")


def test_a_script_that_is_not_python_is_refused_with_the_browsers_reason(in_browser, tmp_path):
    (tmp_path / "hello.sh").write_text("#!/bin/sh\necho hi\n")
    ex = gl.run_cgi(tmp_path / "hello.sh", gl.Request("GET", "/"))
    assert ex.response.status == 500
    assert [f.rule for f in ex.findings] == ["cgi.browser.no_process"]
    assert "cannot start a process" in ex.findings[0].message


def test_wsgirefs_cgi_handler_runs_in_the_simulation(in_browser, tmp_path):
    (tmp_path / "app.py").write_text(
        "from wsgiref.handlers import CGIHandler\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [environ['QUERY_STRING'].encode()]\n"
        "CGIHandler().run(app)\n")
    ex = gl.run_cgi(tmp_path / "app.py", gl.Request("GET", "/app.py?q=7"))
    assert (ex.response.status, ex.response.body) == (200, b"q=7")


# -- what a page cannot do: simulated or refused ------------------------------------------

def test_run_many_with_threads_is_the_same_workload_in_virtual_time(in_browser):
    from gateway_lab.concurrency import apps

    before = _threads()
    requests = [gl.Request("GET", f"/?io=0.05&n={i}") for i in range(8)]
    tl = gl.run_many(apps.wsgi_app, requests, model=gl.Threads(4))
    assert tl.source == "simulated" and len(tl) == 8
    assert any("virtual time" in note for note in tl.notes)
    assert abs(tl.makespan - 0.1) < 0.02          # 8 waits of 50 ms on 4 threads
    assert _threads() <= before
    real = gl.run_many(apps.wsgi_app, requests[:2], model=gl.Sequential())
    assert real.source != "simulated"              # one at a time still runs for real


def test_run_many_refuses_an_app_whose_costs_it_cannot_know(in_browser):
    def mine(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    with pytest.raises(browser.BrowserLimit, match="cannot start threads"):
        gl.run_many(mine, 4, model=gl.Threads(2))


def test_servers_refuse_with_the_reason(in_browser):
    from gateway_lab.servers import catalog
    from gateway_lab.wire.server import WireServer

    with pytest.raises(browser.BrowserLimit, match="cannot listen on a socket"):
        gl.serve(lambda e, s: [])
    with pytest.raises(browser.BrowserLimit, match="SCGI server cannot run"):
        WireServer("scgi", lambda e, s: []).start()
    ready, missing = gl.servers.available([catalog.Setup("uvicorn")])
    assert ready == [] and "cannot start processes" in next(iter(missing.values()))
    with pytest.raises(catalog.NotInstalled, match="wrk cannot run"):
        gl.servers.loadtest("http://127.0.0.1:1/")


def test_a_check_runs_in_this_process(in_browser, monkeypatch):
    from gateway_lab.exercises import child

    def no_child(*args, **kwargs):
        raise AssertionError("no child process in a browser")

    monkeypatch.setattr(child, "run_isolated", no_child)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    report = gl.check("03_wsgi_hello", os.path.join(root, "solutions", "03_wsgi_hello.py"))
    assert report.passed and len(report.results) >= 5


# -- the SVG Gantt chart ------------------------------------------------------------------

def test_the_svg_chart_draws_every_phase_in_chart_pys_colours():
    from gateway_lab.concurrency import chart, svgchart

    tl = gl.simulate(gl.Threads(2), gl.Workload(requests=6, io=0.05, cpu=0.01))
    svg = str(svgchart.gantt(tl))
    root = ET.fromstring(svg)                       # well-formed XML
    assert root.tag.endswith("svg")
    for kind in (chart.CPU, chart.IO, chart.WAITING):
        assert chart.COLOURS[kind] in svg and chart.LABELS[kind] in svg
    assert "thread 0" in svg and "thread 1" in svg and "Threads(2), simulated" in svg
    bars = [r for r in root.iter() if r.tag.endswith("rect") and r.get("fill") == chart.COLOURS[
        chart.IO]]
    assert len(bars) >= 6                           # one I/O wait per request (and the legend)
    both = str(svgchart.compare([tl, gl.simulate(gl.EventLoop(), gl.Workload(requests=6))]))
    assert "EventLoop(), simulated" in both


def test_plot_draws_svg_where_matplotlib_cannot_be_imported(monkeypatch):
    from gateway_lab.concurrency import svgchart, timeline

    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    monkeypatch.setattr(timeline, "_gantt", None)
    picture = gl.simulate(gl.Sequential(), gl.Workload(requests=3)).plot()
    assert isinstance(picture, svgchart.SVGChart) and picture._repr_svg_().startswith("<svg")
    monkeypatch.setattr(timeline, "_gantt", None)


# -- the site's own server and configuration ----------------------------------------------

def test_the_site_server_sends_the_types_and_isolation_only_when_asked(tmp_path):
    import urllib.request

    from gateway_lab.lite.serve import make_server, serve_in_thread

    (tmp_path / "index.html").write_text("<p>lab</p>")
    (tmp_path / "python.wasm").write_bytes(b"\0asm")
    for isolate in (False, True):
        server, url = serve_in_thread(tmp_path, isolate=isolate)
        try:
            with urllib.request.urlopen(url + "python.wasm", timeout=10) as answer:
                assert answer.headers["Content-Type"] == "application/wasm"
                assert answer.headers["Cache-Control"] == "no-cache"
                coop = answer.headers.get("Cross-Origin-Opener-Policy")
                coep = answer.headers.get("Cross-Origin-Embedder-Policy")
        finally:
            server.shutdown()
            server.server_close()
        assert (coop, coep) == (("same-origin", "require-corp") if isolate else (None, None))
        assert url.startswith("http://127.0.0.1:")
    with pytest.raises(FileNotFoundError, match="build it first"):
        make_server(tmp_path / "nothing")


def test_the_site_keeps_every_install_local_and_loads_the_lab_at_start():
    from gateway_lab.lite.build import KERNEL_PLUGIN, lite_config, norm

    settings = lite_config({})["jupyter-config-data"]["litePluginSettings"][KERNEL_PLUGIN]
    assert settings["disablePyPIFallback"] is True
    assert settings["loadPyodideOptions"]["packages"] == ["gateway-lab", "ipywidgets"]
    assert norm("jupyterlab_widgets") == "jupyterlab-widgets" == norm("JupyterLab.Widgets")


def test_gateway_lab_lite_without_an_action_prints_its_usage(capsys):
    from gateway_lab.lite import main

    assert main([]) == 2
    assert "--build" in capsys.readouterr().out


# -- exercise checks in the browser ---------------------------------------------------------

def test_every_reference_solution_passes_in_the_browser_or_is_not_checked_there(in_browser):
    # A check that needs threads cannot run in a page; a red mark there would blame the
    # learner for the browser.  It says so instead, and every other check runs and passes.
    from pathlib import Path

    from gateway_lab.exercises import EXERCISES, exercise_names

    root = Path(__file__).resolve().parents[1]
    not_here = set()
    for name in exercise_names():
        report = gl.check(name, root / "solutions" / f"{name}.py")
        if report.status == "not checked here":
            not_here.add(name)
            assert not report.passed and report.results == []
            assert "cannot start threads" in report.summary()
            assert f"gateway-lab check {name}` on your computer" in report.summary()
            assert report.to_dict()["status"] == "not checked here"
            assert "cannot start threads" in report._repr_html_()  # as a notebook shows it
        else:
            assert report.passed, str(report)
    assert not_here == {n for n, ex in EXERCISES.items() if ex.needs_threads}
    assert not_here == {"11_asgi_blocking", "12_wsgi_to_asgi", "18_thread_safe"}


def test_every_stub_and_wrong_solution_fails_in_the_browser_on_behaviour(in_browser):
    # In-process CGI included: the server that sends no end-of-file (exercise 02) is
    # simulated too, and a script that reads past the body ends with a message, not with
    # the kernel (its wrapper exits the process on a desktop).
    from pathlib import Path

    from gateway_lab.exercises import EXERCISES, exercise_names

    root = Path(__file__).resolve().parents[1]
    files = [(name, root / "exercises" / f"{name}.py") for name in exercise_names()]
    files += [(p.parent.name, p) for p in sorted((root / "tests" / "wrong_solutions").glob(
        "*/*.py"))]
    checked = 0
    for name, path in files:
        if EXERCISES[name].needs_threads:
            continue
        report = gl.check(name, path)
        assert not report.passed, f"{path.name} passed in the browser:\n{report}"
        assert not report.results[0].title.startswith("load "), str(report)
        assert not any("checker itself failed" in r.message for r in report.failed), \
            str(report)
        checked += 1
    assert checked > 80


def test_the_frozen_standard_library_is_not_learner_code():
    # runpy, os, codecs... are frozen in 3.11+: their code says "<frozen runpy>".  The
    # deadline must not cut their clean-up short (it once left a script as __main__).
    from gateway_lab.origin import is_library

    assert is_library("<frozen runpy>") and is_library(os.__file__)
    assert not is_library("<ipython-input-3-5f2e>") and not is_library("<string>")
