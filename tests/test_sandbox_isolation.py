"""The engine's defences, one by one (issue 14); tests/test_faults.py runs the whole
catalog in a script and in a kernel.

* stoppable.py finds the code that would swallow the stop, and nothing else;
* isolate.py runs an app in a child process (fork, or spawn by module:attr);
* sandbox.py stops what got past the look, and leaves nothing pending;
* limits.py bounds a response body and what a trace keeps of it.
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import gateway_lab as gl
from gateway_lab import isolate, limits, sandbox, stoppable

ROOT = Path(__file__).resolve().parents[1]
POSIX = os.name == "posix"
HAS_FORK = hasattr(os, "fork")


def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


# -- stoppable: what is found --------------------------------------------------------------

LEARNER = '''
import signal, sys, time, json
from signal import setitimer
Base = BaseException

def bare(environ, start_response):
    while True:
        try:
            time.sleep(0.01)
        except:
            pass

def base_exception(environ, start_response):
    while True:
        try:
            time.sleep(0.01)
        except BaseException as error:
            print(error)

def cleans_up_and_reraises(environ, start_response):
    try:
        return [b"x"]
    except:
        print("cleaning up")
        raise

def reraises_only_sometimes(environ, start_response):
    try:
        return [b"x"]
    except BaseException as error:
        if isinstance(error, ValueError):
            return [b"v"]
        raise

def typed(environ, start_response):
    try:
        return [json.dumps({}).encode()]
    except (ValueError, KeyError):
        return [b"no"]
    except Exception:
        return [b"no"]
    finally:
        print("done")

def alias(environ, start_response):
    while True:
        try:
            pass
        except Base:
            pass

def own_alarm(environ, start_response):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)

def imported_itimer(environ, start_response):
    setitimer(signal.ITIMER_REAL, 0)

def local_import(environ, start_response):
    import signal as s
    s.pthread_sigmask(s.SIG_BLOCK, {14})

def recursion_limit(environ, start_response):
    sys.setrecursionlimit(10 ** 6)

def helper():
    try:
        time.sleep(0.01)
    except:
        return None

def via_helper(environ, start_response):
    while True:
        helper()

def body():
    while True:
        try:
            yield b"x"
        except BaseException:
            pass

def via_generator(environ, start_response):
    start_response("200 OK", [])
    return body()

class App:
    def __call__(self, environ, start_response):
        return self.run()

    def run(self):
        try:
            pass
        except:
            pass

async def asgi_swallows(scope, receive, send):
    while True:
        try:
            await receive()
        except BaseException:
            continue

async def asgi_fine(scope, receive, send):
    try:
        await send({})
    except OSError:
        return

def generator_fine(environ, start_response):
    start_response("200 OK", [])
    yield b"a"
    yield from [b"b"]

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello"]
'''

# name -> what the finding calls it, and a piece of the line it must point at.
FOUND = {"bare": ("a bare `except:`", "except:"),
         "base_exception": ("`except BaseException`", "except BaseException as error"),
         "reraises_only_sometimes": ("`except BaseException`", "except BaseException"),
         "alias": ("`except Base`", "except Base:"),
         "own_alarm": ("a call to signal.signal() (the stop is a SIGALRM)", "signal.signal("),
         "imported_itimer": ("a call to signal.setitimer() (the stop is a SIGALRM)", "setitimer("),
         "local_import": ("a call to signal.pthread_sigmask() (the stop is a SIGALRM)",
                          "s.pthread_sigmask("),
         "recursion_limit": ("a call to sys.setrecursionlimit()", "setrecursionlimit("),
         "via_helper": ("a bare `except:`", "except:"),
         "via_generator": ("`except BaseException`", "except BaseException:"),
         "asgi_swallows": ("`except BaseException`", "except BaseException:")}
WHERE = {"via_helper": "helper", "via_generator": "body"}  # found in what they call


def _line(name: str) -> int:
    """The line of LEARNER the finding for `name` must name."""
    lines = LEARNER.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(f"def {WHERE.get(name, name)}(")
                 or line.startswith(f"async def {name}("))
    return next(i for i in range(start, len(lines)) if FOUND[name][1] in lines[i]) + 1


CLEAN = ["cleans_up_and_reraises", "typed", "asgi_fine", "generator_fine", "hello"]


@pytest.fixture(scope="module")
def learner():
    space = {"__name__": "learner"}
    exec(compile(LEARNER, "/somewhere/learner.py", "exec"), space)
    return space


@pytest.mark.parametrize("name", list(FOUND))
def test_handlers_that_swallow_the_stop_are_found_with_their_line(learner, name):
    found = stoppable.swallowers(learner[name])
    want = f"{FOUND[name][0]} at learner.py line {_line(name)}"
    assert any(str(f) == want for f in found), (want, found)


@pytest.mark.parametrize("name", CLEAN)
def test_handlers_that_let_the_stop_through_are_not(learner, name):
    assert stoppable.swallowers(learner[name]) == []


def test_a_class_a_partial_and_a_bound_method_are_looked_into(learner):
    app = learner["App"]()
    assert stoppable.swallowers(app)
    assert stoppable.swallowers(app.run)
    assert stoppable.swallowers(functools.partial(learner["bare"], {}))


def test_frameworks_and_the_labs_own_apps_are_not_flagged():
    from gateway_lab.concurrency import apps
    from gateway_lab.demo import guestbook_asgi, guestbook_wsgi

    flask = importlib.import_module("flask").Flask("t")
    starlette = importlib.import_module("starlette.applications").Starlette()
    fastapi = importlib.import_module("fastapi").FastAPI()
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"])
    from django.core.handlers.wsgi import WSGIHandler

    for app in (flask, starlette, fastapi, WSGIHandler(), apps.wsgi_app, apps.asgi_app,
                guestbook_wsgi.app, guestbook_asgi.app):
        assert stoppable.swallowers(app) == [], app
    for path in sorted((ROOT / "solutions").glob("*.py")):
        space = {"__name__": path.stem}
        exec(compile(path.read_text(), str(path), "exec"), space)
        for value in list(space.values()):
            if callable(value) and getattr(value, "__module__", None) == path.stem:
                assert stoppable.swallowers(value) == [], (path.name, value)


urlpatterns: list = []  # Django's ROOT_URLCONF above


def test_a_function_whose_code_is_replaced_is_looked_at_again():
    """The cache of the last plain function is dropped when any __code__ is assigned
    (the audit hook counts it): the answer is always what reading the code gives."""
    def app(environ, start_response):
        return [b"plain"]

    def swallowing(environ, start_response):
        while True:
            try:
                pass
            except:  # noqa: E722
                pass

    assert stoppable.swallowers(app) == [] and stoppable.swallowers(app) == []
    app.__code__ = swallowing.__code__
    assert stoppable.swallowers(app)


def test_what_a_name_means_is_looked_up_at_every_call(learner):
    """The cache holds what a code object says (immutable), never what its names mean:
    a helper redefined by a later cell is seen at the next run."""
    space = {"__name__": "cells"}
    exec("def helper():\n    return 1\n\ndef app(environ, start_response):\n    helper()\n",
         space)
    assert stoppable.swallowers(space["app"]) == []
    exec("def helper():\n    while True:\n        try:\n            pass\n"
         "        except:\n            pass\n", space)
    assert stoppable.swallowers(space["app"])
    code = space["app"].__code__
    assert stoppable.facts(code) is stoppable.facts(code)  # read once


def _other_pythons() -> list[str]:
    found = []
    for version in ("3.10", "3.12", "3.13", "3.14"):
        candidates = [shutil.which(f"python{version}")] + [
            str(p) for p in sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python"))]
        for exe in candidates:
            if exe and subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:
                found.append(exe)
                break
    return found


@pytest.mark.skipif(not _other_pythons(), reason="no other Python 3.10+ on this machine")
@pytest.mark.parametrize("exe", _other_pythons())
def test_the_bytecode_reading_holds_on_other_pythons(tmp_path, exe):
    """The bytecode of handlers differs from 3.10 (SETUP_FINALLY) to 3.11+ (exception
    tables); stoppable.py reads both.  It needs nothing but the standard library, so it
    runs on its own (with leftovers.py and origin.py) in any Python found on this machine."""
    package = tmp_path / "glcopy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("stoppable.py", "leftovers.py", "origin.py"):
        shutil.copy(ROOT / "gateway_lab" / name, package / name)
    (package / "sandbox.py").write_text("class Stopped(BaseException):\n    pass\n")
    script = textwrap.dedent(f"""
        import json, sys
        from glcopy.stoppable import swallowers
        space = {{"__name__": "learner"}}
        exec(compile({LEARNER!r}, "/somewhere/learner.py", "exec"), space)
        names = {list(FOUND) + CLEAN!r}
        print(json.dumps({{n: [str(f) for f in swallowers(space[n])] for n in names}}))
    """)
    out = subprocess.run([exe, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    result = json.loads(out.stdout)
    for name, (what, _) in FOUND.items():
        want = f"{what} at learner.py line {_line(name)}"
        assert want in result[name], (exe, name, result[name])
    for name in CLEAN:
        assert result[name] == [], (exe, name, result[name])


# -- isolate: a run in a child process -------------------------------------------------------

@pytest.mark.skipif(not HAS_FORK, reason="no fork() here")
def test_isolate_true_gives_the_same_exchange_from_a_child_process():
    here = gl.run_wsgi(_hello, gl.Request("GET", "/x?y=1"))
    there = gl.run_wsgi(_hello, gl.Request("GET", "/x?y=1"), isolate=True)
    assert (there.response.status, there.response.headers, there.response.body) == \
        (here.response.status, here.response.headers, here.response.body)
    kinds = [e.kind for e in there.trace]
    assert kinds[0] == "request" and kinds[1] == "note" and kinds[2:] == [e.kind for e in
                                                                          here.trace][1:]
    assert "separate process" in there.trace[1].detail
    assert there.findings == [] and here.findings == []


@pytest.mark.skipif(not HAS_FORK, reason="no fork() here")
def test_what_an_isolated_app_prints_reaches_the_caller(capsys):
    def talks(environ, start_response):
        print("hello from the child")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    assert gl.run_wsgi(talks, isolate=True).response.status == 200
    assert "hello from the child" in capsys.readouterr().out


def test_spawn_imports_the_app_by_name_and_kills_it_at_the_deadline(tmp_path, monkeypatch):
    (tmp_path / "faulty_apps.py").write_text(textwrap.dedent("""
        def hello(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"spawned"]

        def spins(environ, start_response):
            import signal
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            while True:
                try:
                    sum(range(100))
                except:  # noqa: E722
                    pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module("faulty_apps")
    assert isolate.reference(module.hello) == "faulty_apps:hello"
    ex = gl.run_wsgi(module.hello, isolate="spawn")
    assert ex.response.body == b"spawned"
    assert "by spawn" in ex.trace[1].detail
    start = time.perf_counter()
    ex = gl.run_wsgi(module.spins, timeout=0.5, isolate="spawn")
    # The child's own start (a fresh Python) is not charged to the app's time.
    assert ex.response.status == 504
    assert time.perf_counter() - start < 0.5 + isolate.KILL_GRACE + isolate.START_TIMEOUT
    assert {"sandbox.swallows_stop", "wsgi.app.timeout"} <= {f.rule for f in ex.findings}


def test_an_app_only_a_notebook_has_cannot_be_spawned():
    def local(environ, start_response):
        return []

    assert isolate.reference(local) is None
    with pytest.raises(isolate.IsolationError, match="Put the app in a .py file"):
        gl.run_wsgi(local, isolate="spawn")


@pytest.mark.skipif(not HAS_FORK, reason="no fork() here")
def test_a_child_that_dies_gets_a_502_and_a_finding():
    def exits(environ, start_response):
        os._exit(3)

    ex = gl.run_wsgi(exits, isolate=True)
    assert ex.response.status == 502
    assert [f.rule for f in ex.findings] == ["sandbox.worker_died"]
    assert "exit status 3" in ex.findings[0].message


def test_run_cgi_is_always_isolated():
    script = ROOT / "gateway_lab" / "demo" / "guestbook_cgi.py"
    assert gl.run_cgi(script, isolate=True).response.status == 200
    with pytest.raises(ValueError, match="always runs in a process of its own"):
        gl.run_cgi(script, isolate=False)


def test_the_magics_take_isolate():
    pytest.importorskip("IPython")
    from gateway_lab.magics import parse_line
    from gateway_lab.views.requests import run_through

    args, request = parse_line("wsgi", "GET /x --isolate")
    assert args.isolate is True
    assert parse_line("wsgi", "GET /x")[0].isolate is None  # the lab decides
    if HAS_FORK:
        ex = run_through("wsgi", _hello, request, isolate=args.isolate)
        assert "separate process" in ex.trace[1].detail


# -- sandbox: what got past the look ----------------------------------------------------------

def test_an_unseen_swallower_on_the_main_thread_is_stopped_and_the_tracer_put_back():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("the escalation is the main thread's")
    spin = "def spin():\n    while True:\n        try:\n            sum(range(100))\n" \
           "        except:\n            pass\n"

    def app(environ, start_response):
        space = {}
        exec(spin, space)  # the lab cannot see this before the run
        space["spin"]()

    calls = []

    def tracer(frame, event, arg):  # a debugger's, say
        calls.append(event)

    before = sys.gettrace()
    sys.settrace(tracer)
    try:
        start = time.perf_counter()
        ex = gl.run_wsgi(app, timeout=0.3)
        took = time.perf_counter() - start
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(before)
    assert ex.response.status == 504 and took < 1.3
    assert gl.run_wsgi(_hello).response.status == 200


def test_cancelling_an_async_exception_leaves_no_flag_behind():
    """PyThreadState_SetAsyncExc(thread, NULL) leaves CPython's "pending" flag set
    (3.11, 3.12); on 3.11 the next call under a trace function then loops forever.
    Run in a child: if it hangs, the timeout says so."""
    code = textwrap.dedent("""
        import sys, threading
        from gateway_lab import sandbox
        sandbox.cancel_pending(threading.get_ident())
        sys.settrace(lambda *args: None)
        def f():
            return 42
        print(f())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "42", out.stderr


def test_a_worker_that_spins_is_not_said_to_be_blocked_in_c():
    spin = ("import builtins\ndef spin():\n    try:\n"
            "        while not getattr(builtins, 'isolation_stop', False):\n"
            "            sum(range(1000))\n    except:\n        pass\n"
            "    if not getattr(builtins, 'isolation_stop', False):\n        spin()\n")

    def app(environ, start_response):
        space = {}
        exec(spin, space)
        space["spin"]()

    def blocked(environ, start_response):
        time.sleep(1)

    import builtins

    box = {}
    caller = threading.Thread(target=lambda: box.update(
        spins=gl.run_wsgi(app, timeout=0.3), blocks=gl.run_wsgi(blocked, timeout=0.3)))
    caller.start()
    caller.join(20)
    builtins.isolation_stop = True
    # The spinner is never said to be blocked in C.  Whether the server's repeated stop
    # got out of its handlers before the grace ran out depends on where each one landed
    # (Python 3.13 checks at other points than 3.11): either it was stopped, or it is
    # said to keep running on the CPU, both true.
    said = box["spins"].findings[-1].message
    assert sandbox.BLOCKED_IN_C not in said, said
    assert sandbox.SPINNING in said or "it was stopped" in said, said
    assert box["spins"].response.status == 504
    assert sandbox.BLOCKED_IN_C in box["blocks"].findings[-1].message
    # Both abandoned workers end by themselves (the sleep returns, the flag is set).
    deadline = time.monotonic() + 10
    while sandbox.lab_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.lab_threads() == []


# -- limits: the body a server takes, and what a trace keeps ------------------------------------

def _streams(chunks: int, size: int = 65536):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        for _ in range(chunks):
            yield b"x" * size
    return app


def _astreams(chunks: int, size: int = 65536):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        for i in range(chunks):
            await send({"type": "http.response.body", "body": b"x" * size,
                        "more_body": i < chunks - 1})
    return app


def _kept(ex) -> int:
    total = 0
    for event in ex.trace:
        data = event.data
        if isinstance(data, dict) and data.get("type") == "http.response.body":
            data = data["body"]
        if event.kind in ("send body", "send") and isinstance(data, bytes):
            total += len(data)
    return total


@pytest.mark.parametrize("run, make", [(gl.run_wsgi, _streams), (gl.run_asgi, _astreams)],
                         ids=["wsgi", "asgi"])
def test_a_trace_keeps_the_first_64_kib_of_a_body_and_says_so(run, make):
    ex = run(make(16))  # 1 MiB in 16 chunks
    assert len(ex.response.body) == 16 * 65536 and ex.response.complete  # the result, whole
    assert _kept(ex) == limits.TRACE_CLIP
    details = [e.detail for e in ex.trace if "bytes" in e.detail and e.actor == "app"
               or e.kind == "send body"]
    assert any("65536 bytes, not kept (a trace keeps the first 64 KiB of a body)" in d
               for d in details), details
    small = run(make(2, 100))
    assert _kept(small) == 200  # below the clip, all of it


@pytest.mark.parametrize("run, make, rule", [
    (gl.run_wsgi, _streams, "wsgi.body.too_large"),
    (gl.run_asgi, _astreams, "asgi.http.body_too_large")], ids=["wsgi", "asgi"])
def test_max_body_is_a_setting_and_a_finding_names_it(run, make, rule):
    ex = run(make(4, 1000), max_body=2500)
    assert ex.response.status == 200 and not ex.response.complete  # cut: headers were out
    assert len(ex.response.body) == 2000
    assert [f.rule for f in ex.findings] == [rule]
    assert "2500 bytes" in ex.findings[0].message
    with pytest.raises(ValueError, match="max_body"):
        run(make(1), max_body=0)


def test_a_first_chunk_past_the_limit_gets_a_500():
    ex = gl.run_wsgi(_streams(1, 3000), max_body=2500)
    assert ex.response.status == 500
    assert "the client got a 500" in ex.findings[0].message


@pytest.mark.skipif(not POSIX, reason="resource limits (POSIX)")
def test_a_body_that_never_ends_under_a_memory_limit_is_a_cut_not_a_memoryerror():
    code = textwrap.dedent("""
        import resource, time
        import gateway_lab as gl
        def endless(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            while True:
                yield b"x" * 65536
        gl.run_wsgi(endless, timeout=1)  # everything imported and warm
        with open("/proc/self/status") as f:
            size = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (size + 256 * 2 ** 20, resource.RLIM_INFINITY))
        start = time.perf_counter()
        ex = gl.run_wsgi(endless, timeout=2)
        print(ex.response.status, ex.response.complete, time.perf_counter() - start,
              [f.rule for f in ex.findings])
    """)
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    status, complete, took, rules = out.stdout.split(" ", 3)
    assert (status, complete) == ("200", "False") and float(took) < 2
    assert "wsgi.body.too_large" in rules


# -- leftovers: what a left process is called -----------------------------------------------

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_a_left_process_is_named_by_its_command_and_a_zombie_is_said_to_have_exited():
    """The finding must say what is true: a running child by its command line, one that
    exited and was never waited for as exited (its state is 'Z'), whatever the timing.
    (CI once caught a fresh 'sleep 1000' inside exec(), before its arguments were in
    place, and the finding called it an exited fork.)"""
    from gateway_lab import leftovers

    running = subprocess.Popen(["sleep", "30"])
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stat = leftovers._proc_stat(exited.pid)
            if stat and stat[2] == "Z":
                break
            time.sleep(0.01)
        by_pid = {p.pid: p.command for p in leftovers.children()}
        assert by_pid[running.pid] == "sleep 30"
        assert by_pid[exited.pid] == "?"  # the finding then says 'had exited'
        # and a command line read in the window inside exec() is read again, not taken
        # for a zombie's: an empty one on a live process falls back to its short name
        assert leftovers._command(running.pid, "S") == "sleep 30"
        assert leftovers._command(exited.pid, "Z") == "?"
    finally:
        running.kill()
        running.wait()
        exited.wait()


# -- process_state: what a request changes of the process is put back -----------------------

def _ok(start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _quiet_tracer(frame, event, arg):
    return None


CHANGES = {  # what an app changes and leaves changed, and how the finding names it
    "sys.stdout": lambda: setattr(sys, "stdout", __import__("io").StringIO()),
    "sys.stderr": lambda: setattr(sys, "stderr", __import__("io").StringIO()),
    "sys.stdin": lambda: setattr(sys, "stdin", __import__("io").StringIO("body")),
    "builtins.print": lambda: setattr(__import__("builtins"), "print", lambda *a, **k: None),
    "(sys.settrace)": lambda: sys.settrace(_quiet_tracer),
    "(sys.setprofile)": lambda: sys.setprofile(_quiet_tracer),
    "(threading.settrace)": lambda: threading.settrace(_quiet_tracer),
    "(threading.setprofile)": lambda: threading.setprofile(_quiet_tracer),
    "gc.disable()": lambda: __import__("gc").disable(),
    "sys.setswitchinterval": lambda: sys.setswitchinterval(0.123),
    "sys.excepthook": lambda: setattr(sys, "excepthook", lambda *a: None),
    "threading.excepthook": lambda: setattr(threading, "excepthook", lambda *a: None),
    "sys.unraisablehook": lambda: setattr(sys, "unraisablehook", lambda *a: None),
    "os.chdir": lambda: os.chdir(os.path.dirname(os.getcwd()) or os.sep),
}


def _shared_now():
    import builtins
    import gc

    return (sys.stdin, sys.stdout, sys.stderr, builtins.print, sys.gettrace(),
            sys.getprofile(), threading.gettrace(), threading.getprofile(), gc.isenabled(),
            sys.getswitchinterval(), sys.excepthook, threading.excepthook,
            sys.unraisablehook, os.getcwd())


@pytest.mark.parametrize("name", sorted(CHANGES))
@pytest.mark.parametrize("raises", [False, True], ids=["returns", "raises"])
def test_what_a_request_changes_of_the_process_is_put_back_and_named(name, raises):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("runs on the main thread are the ones looked at")
    before = _shared_now()

    def app(environ, start_response):
        CHANGES[name]()
        if raises:  # between the change and the code that would have undone it
            raise ValueError("boom")
        return _ok(start_response)

    ex = gl.run_wsgi(app, gl.Request("GET", "/"))
    assert _shared_now() == before
    assert ex.response.status == (500 if raises else 200)
    found = [f for f in ex.findings if f.rule == "sandbox.changed_process_state"]
    assert len(found) == 1 and name in found[0].message and "put it back" in found[0].message


def test_an_app_that_undoes_its_own_changes_gets_no_finding(tmp_path):
    import contextlib
    import gc
    import io
    from unittest import mock

    def app(environ, start_response):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            print("captured")
        with mock.patch.dict(os.environ, {"GL_TEMPORARY": "1"}):
            assert os.environ["GL_TEMPORARY"] == "1"
        here = os.getcwd()
        os.chdir(tmp_path)
        try:
            gc.disable()
        finally:
            gc.enable()
            os.chdir(here)
        profiler = __import__("cProfile").Profile()
        profiler.enable()
        profiler.disable()
        return _ok(start_response)

    ex = gl.run_wsgi(app, gl.Request("GET", "/"))
    assert ex.response.status == 200 and ex.findings == []


def test_os_environ_changed_in_a_request_is_put_back_exactly(monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("runs on the main thread are the ones looked at")
    monkeypatch.setenv("GL_KEEP", "kept")
    monkeypatch.setenv("GL_GONE", "was here")
    before = dict(os.environ)

    def app(environ, start_response):  # the CGI habit: the request into os.environ
        os.environ["QUERY_STRING"] = environ["QUERY_STRING"]
        os.environ["GL_KEEP"] = "overwritten"
        del os.environ["GL_GONE"]
        return _ok(start_response)

    ex = gl.run_wsgi(app, gl.Request("GET", "/?name=Ada"))
    assert dict(os.environ) == before
    assert [f.rule for f in ex.findings] == ["sandbox.changed_os_environ"]
    message = ex.findings[0].message
    assert "set 'QUERY_STRING'" in message and "changed 'GL_KEEP'" in message
    assert "removed 'GL_GONE'" in message and "the environ dict" in message
    assert ex.findings[0].spec == "PEP 3333 §Specification Details"


def test_os_environ_replaced_by_a_dict_is_put_back():
    environ_object = os.environ

    def app(environ, start_response):
        os.environ = dict(environ)  # noqa: B003 - the mistake under test
        return _ok(start_response)

    ex = gl.run_wsgi(app, gl.Request("GET", "/"))
    assert os.environ is environ_object
    assert [f.rule for f in ex.findings] == ["sandbox.changed_os_environ"]
    assert "(replaced by {" in ex.findings[0].message  # what the app put there, said once


def test_changes_made_outside_a_run_are_the_learners_and_stay(monkeypatch, tmp_path):
    """An app module that sets os.environ when it is imported, or a notebook cell that
    changes directory between two runs: not the request's doing."""
    monkeypatch.chdir(os.getcwd())
    gl.run_wsgi(_hello, gl.Request("GET", "/"))
    monkeypatch.setenv("GL_SETTINGS", "at import")
    os.chdir(tmp_path)
    ex = gl.run_wsgi(_hello, gl.Request("GET", "/"))
    assert ex.findings == []
    assert os.environ["GL_SETTINGS"] == "at import" and os.getcwd() == str(tmp_path)


def test_a_stdout_left_replaced_by_an_app_stopped_at_its_deadline_is_put_back():
    import io

    stdout = sys.stdout

    def app(environ, start_response):
        sys.stdout = io.StringIO()
        while True:
            sum(range(100))

    ex = gl.run_wsgi(app, gl.Request("GET", "/"), timeout=0.3)
    assert sys.stdout is stdout and ex.response.status == 504
    assert "sandbox.changed_process_state" in [f.rule for f in ex.findings]


def test_a_debugger_started_in_the_app_is_left_running():
    import bdb

    class Debugger(bdb.Bdb):
        def user_line(self, frame):
            pass

    debugger = Debugger()
    debugger.reset()
    before = sys.gettrace()

    def app(environ, start_response):
        sys.settrace(debugger.trace_dispatch)  # as breakpoint() leaves it with breakpoints set
        return _ok(start_response)

    try:
        ex = gl.run_wsgi(app, gl.Request("GET", "/"))
        assert sys.gettrace() == debugger.trace_dispatch
    finally:
        sys.settrace(before)
    assert ex.findings == []


def test_asgi_requests_are_looked_at_too_and_lifespan_is_put_back_with_a_note():
    import gc
    import io

    stdout, before = sys.stdout, dict(os.environ)

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    os.environ["GL_STARTED"] = "1"  # setting the process up: startup's job
                    gc.disable()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        sys.stdout = io.StringIO()
        raise RuntimeError("before the stream was put back")

    ex = gl.run_asgi(app, gl.Request("GET", "/"))
    assert sys.stdout is stdout and ex.response.status == 500
    assert "sandbox.changed_process_state" in [f.rule for f in ex.findings]
    life = gl.lifespan(app)
    assert life.started and life.stopped and life.ok  # a note, not a finding
    assert dict(os.environ) == before and gc.isenabled()
    assert any("put it back" in e.detail for e in life.trace if e.kind == "note")


def test_an_awaited_run_alone_on_the_loop_is_looked_at():
    import asyncio
    import io

    stdout = sys.stdout

    async def app(scope, receive, send):
        sys.stdout = io.StringIO()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    ex = asyncio.run(gl.run_asgi_async(app, gl.Request("GET", "/")))
    assert sys.stdout is stdout
    assert [f.rule for f in ex.findings] == ["sandbox.changed_process_state"]


@pytest.mark.skipif(not POSIX, reason="SIGALRM: a program that uses it sends runs to a worker")
def test_a_run_on_a_worker_is_looked_at_from_the_main_thread():
    """Where the main thread cannot take the run (Windows; a program with its own SIGALRM
    handler) it goes to a worker thread: process-wide changes are seen from the caller,
    a trace function, which is the worker thread's own, on the worker."""
    import io
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("runs on the main thread are the ones looked at")
    stdout = sys.stdout

    def app(environ, start_response):
        sys.settrace(_quiet_tracer)
        sys.stdout = io.StringIO()
        return _ok(start_response)

    previous = signal.signal(signal.SIGALRM, lambda *args: None)
    try:
        ex = gl.run_wsgi(app, gl.Request("GET", "/"))
        seen = []
        probe = gl.run_wsgi(lambda environ, start_response: seen.append(sys.gettrace())
                            or _ok(start_response), gl.Request("GET", "/"))
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert sys.stdout is stdout and seen == [None] and probe.findings == []
    message = " ".join(f.message for f in ex.findings)
    assert "sys.stdout" in message and "(sys.settrace)" in message


def test_in_a_browser_the_inline_run_is_looked_at_too():
    """Pyodide runs learner code inline (sandbox._call_inline, no threads): the same
    look, taken outside the lab's own tracing of the run."""
    import io

    stdout, tracer = sys.stdout, sys.gettrace()

    def run():
        sys.stdout = io.StringIO()

    try:
        out = sandbox._call_inline(run, 1.0, watch=True)
        assert sys.stdout is stdout and sys.gettrace() is tracer
        assert [change.name for change in out.changed] == ["sys.stdout"]
        assert sandbox._call_inline(run, 1.0).changed == ()  # not asked: an import, say
    finally:
        sys.stdout = stdout


def test_a_thread_started_while_another_ended_is_still_found():
    """The run's threads are told by the Thread objects, not by their number or ident:
    here one thread ends and one starts during the run (the count is the same), and the
    new one may get the old one's ident (a stack address the system hands on)."""
    release, stop = threading.Event(), threading.Event()
    old = threading.Thread(target=release.wait, name="old-helper")
    old.start()

    def spin():
        while not stop.is_set():
            time.sleep(0.001)

    def app(environ, start_response):
        release.set()
        old.join()
        threading.Thread(target=spin, name="learner-spinner", daemon=True).start()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    try:
        ex = gl.run_wsgi(app, gl.Request("GET", "/"))
        rules = {f.rule: f for f in ex.findings}
        assert "sandbox.left_threads" in rules, [str(f) for f in ex.findings]
        assert "'learner-spinner'" in rules["sandbox.left_threads"].message
        # and it is reported once: the next run did not start it
        ex = gl.run_wsgi(_hello, gl.Request("GET", "/"))
        assert ex.findings == []
    finally:
        stop.set()
