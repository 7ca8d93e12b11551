"""The fault catalog (issue 14): learner code that will not stop, eats memory or escapes.

Every case runs twice, the way learners run code:

(a) in a script: one child `sys.executable` process runs all the cases in turn,
    under a hard outer timeout;
(b) in a real kernel: a python3 kernel started through jupyter_client runs each
    case in a cell of its own, then the next cell checks what is left.

For each case: the caller gets control back within timeout + 1 s, the response is
what a server gives (504, 500, a cut connection), the findings say why, the next
run works, and no thread, process or file descriptor is left (or a finding names
it).  The processes run under a memory limit (RLIMIT_AS: what they use at the
start plus 1.5 GiB), so an unbounded body would fail with MemoryError instead of
passing by luck, and their peak memory is checked.

Linux only: the cases use fork, signals, setsid and /proc.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"),
                       reason="the cases use fork, signals, setsid and /proc (Linux)"),
    pytest.mark.timeout(180),
]

ROOT = Path(__file__).resolve().parents[1]
MARGIN = 1.0          # s past a case's timeout within which the caller has control back


@dataclass
class Case:
    name: str
    gateway: str              # "wsgi", "asgi" or "cgi"
    source: str               # defines `app` (a CGI script: the whole file)
    timeout: float = 0.5
    status: tuple = (504,)    # the statuses a server may answer with
    rules: tuple = ()         # findings that must be there
    isolated: bool = False    # the lab must have run it in a separate process
    complete: bool | None = None
    thread: bool = False      # called from a thread that is not the main one
    kwargs: dict = field(default_factory=dict)
    left_thread: str = ""     # a thread is left running, and a finding names it
    growth_mb: int = 150      # peak memory the case may add (a runaway body grew 882 MiB)


SWALLOW_RULES = ("sandbox.swallows_stop", "wsgi.app.timeout")

CASES = [
    Case("bare_except_loop", "wsgi", """
import time
def app(environ, start_response):
    while True:
        try:
            time.sleep(0.01)
        except:
            pass
""", rules=SWALLOW_RULES, isolated=True),
    Case("base_exception_loop", "wsgi", """
import json
def app(environ, start_response):
    while True:
        try:
            json.loads("{}")
        except BaseException as error:
            print("ignored", error)
""", rules=SWALLOW_RULES, isolated=True),
    Case("stopped_by_name_in_a_helper", "wsgi", """
from gateway_lab.sandbox import Stopped
def work():
    while True:
        try:
            sum(range(1000))
        except Stopped:
            continue
def app(environ, start_response):
    work()
""", rules=SWALLOW_RULES, isolated=True),
    Case("own_sigalrm_handler", "wsgi", """
import signal
def app(environ, start_response):
    signal.signal(signal.SIGALRM, lambda *args: None)
    while True:
        pass
""", rules=SWALLOW_RULES, isolated=True),
    Case("sigalrm_blocked", "wsgi", """
import signal
def app(environ, start_response):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    while True:
        try:
            sum(range(1000))
        except:
            pass
""", rules=SWALLOW_RULES, isolated=True),
    # Reached only dynamically: the lab cannot see it before the run, runs it here, and
    # stops it on the main thread at its next line (sandbox.py's escalation).
    Case("swallower_the_lab_cannot_see", "wsgi", """
SPIN = '''
import time
def spin():
    while True:
        try:
            time.sleep(0.01)
        except:
            pass
'''
def app(environ, start_response):
    space = {}
    exec(SPIN, space)
    space["spin"]()
""", rules=("wsgi.app.timeout",)),
    Case("swallower_called_off_the_main_thread", "wsgi", """
def app(environ, start_response):
    while True:
        try:
            sum(range(1000))
        except BaseException:
            pass
""", rules=SWALLOW_RULES, isolated=True, thread=True),
    # Off the main thread and unseen: a thread cannot be stopped from outside, so it
    # runs on; the finding must say it spins, not that it is blocked in C.  (It
    # polls a flag the catalog sets afterwards, so the run does not burn a core.)
    Case("unseen_swallower_off_the_main_thread", "wsgi", """
import builtins
SPIN = '''
import builtins
def spin():
    try:
        while not getattr(builtins, "faults_stop", False):
            sum(range(1000))
    except:
        pass
    if not getattr(builtins, "faults_stop", False):
        spin()  # and try again
'''
def app(environ, start_response):
    space = {}
    exec(SPIN, space)
    space["spin"]()
def cleanup():
    builtins.faults_stop = True
""", rules=("wsgi.app.timeout",), thread=True),
    Case("body_that_never_ends", "wsgi", """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    while True:
        yield b"x" * 65536
""", timeout=2.0, status=(200,), complete=False, rules=("wsgi.body.too_large",)),
    Case("asgi_body_that_never_ends", "asgi", """
async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    while True:
        await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
""", timeout=2.0, status=(200,), complete=False, rules=("asgi.http.body_too_large",)),
    Case("fork_in_the_app", "wsgi", """
import os
def app(environ, start_response):
    os.fork()  # the copy must not return into the caller's code
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"forked"]
""", timeout=2.0, status=(200,), rules=("sandbox.left_processes",)),
    Case("popen_never_waited_for", "wsgi", """
import subprocess
def app(environ, start_response):
    subprocess.Popen(["sleep", "1000"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"started"]
""", timeout=2.0, status=(200,), rules=("sandbox.left_processes",)),
    Case("thread_left_running", "wsgi", """
import threading
stop = threading.Event()
def spin():
    while not stop.is_set():
        sum(range(1000))
def app(environ, start_response):
    threading.Thread(target=spin, name="learner-spinner", daemon=True).start()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"started"]
def cleanup():
    stop.set()
""", timeout=2.0, status=(200,), rules=("sandbox.left_threads",),
         left_thread="learner-spinner"),
    Case("cgi_setsid_double_fork", "cgi", """
import os, sys, time
print("Content-Type: text/plain")
print()
print("daemon started")
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        time.sleep(1000)
    os._exit(0)
os.waitpid(pid, 0)
""", timeout=3.0, status=(200,), rules=("cgi.script.left_processes",)),
    Case("cgi_start_new_session", "cgi", """
import subprocess
subprocess.Popen(["sleep", "1000"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("Content-Type: text/plain")
print()
print("left a sleeper")
""", timeout=3.0, status=(200,), rules=("cgi.script.left_processes",)),
    Case("runaway_recursion", "wsgi", """
import sys
def down(n):
    return down(n + 1) + 1
def app(environ, start_response):
    sys.setrecursionlimit(10 ** 6)
    return down(0)
""", timeout=2.0, isolated=True, rules=("sandbox.recursion_limit",),
         # Before 3.11 each Python call also takes C stack: a million frames overflow it,
         # the isolated child dies of SIGSEGV, and the client gets a 502 (a dead upstream).
         status=(500, 504) if sys.version_info >= (3, 11) else (502,)),
    Case("asgi_cancels_its_own_task", "asgi", """
import asyncio
async def app(scope, receive, send):
    asyncio.current_task().cancel()
    await asyncio.sleep(1)
""", status=(500,), rules=("asgi.app.cancelled",)),
    Case("asgi_raises_keyboardinterrupt", "asgi", """
async def app(scope, receive, send):
    raise KeyboardInterrupt
""", status=(500,), rules=("asgi.app.raised",)),
    Case("asgi_stops_the_loop", "asgi", """
import asyncio
async def app(scope, receive, send):
    asyncio.get_running_loop().stop()
    await asyncio.sleep(0.05)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"still here"})
""", status=(500,), rules=("asgi.app.raised",)),
    Case("asgi_closes_the_loop", "asgi", """
import asyncio
async def app(scope, receive, send):
    asyncio.get_running_loop().close()
""", status=(500,), rules=("asgi.app.raised",)),
    Case("asgi_blocks_past_its_deadline", "asgi", """
import time
async def app(scope, receive, send):
    time.sleep(0.2)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"late"})
""", timeout=0.05, rules=("asgi.loop.blocked", "asgi.app.timeout")),
    Case("asgi_swallows_cancellation", "asgi", """
import asyncio
async def app(scope, receive, send):
    while True:
        try:
            await asyncio.sleep(0.01)
        except BaseException:
            pass
""", rules=("sandbox.swallows_stop", "asgi.app.timeout"), isolated=True),
    # The lab words every error for the learner: str() of it runs the learner's __str__,
    # which may raise anything, SystemExit included (it ended the cell once).
    Case("error_whose_str_raises_systemexit", "asgi", """
class Unreadable(Exception):
    def __str__(self):
        raise SystemExit("from __str__")
async def app(scope, receive, send):
    raise Unreadable()
""", status=(500,), rules=("asgi.app.raised",)),
    # What the whole process shares, changed by a request and left changed: in a kernel
    # the learner's prints vanished (sys.stdout, print), or their files were looked for
    # in another directory.  The lab puts it back, names it, and the next cell prints.
    Case("stdout_replaced_then_raises", "wsgi", """
import io, sys
def app(environ, start_response):
    sys.stdout = io.StringIO()  # to capture what a library prints...
    raise ValueError("...and the line that put it back never ran")
""", status=(500,), rules=("sandbox.changed_process_state", "wsgi.app.raised")),
    Case("print_replaced_then_stopped", "wsgi", """
import builtins
def app(environ, start_response):
    builtins.print = lambda *args, **kwargs: None  # silence a chatty library...
    while True:                                    # ...then run past the deadline
        sum(range(100))
""", rules=("sandbox.changed_process_state", "wsgi.app.timeout")),
    Case("chdir_in_the_app", "wsgi", """
import os, tempfile
def app(environ, start_response):
    os.chdir(tempfile.gettempdir())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"moved"]
""", status=(200,), rules=("sandbox.changed_process_state",)),
    Case("asgi_request_into_os_environ", "asgi", """
import os
async def app(scope, receive, send):
    os.environ["PATH_INFO"] = scope["path"]  # the CGI habit
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": os.environ["PATH_INFO"].encode()})
""", status=(200,), rules=("sandbox.changed_os_environ",)),
    Case("isolate_true_for_an_ordinary_app", "wsgi", """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from a child process"]
""", status=(200,), isolated=True, kwargs={"isolate": True}),
]
BY_NAME = {case.name: case for case in CASES}


# -- the code that runs each case, in the script and in the kernel alike -------------------

RUNNER = r'''
import builtins, gc, json, os, resource, sys, tempfile, threading, time
import gateway_lab as gl
from gateway_lab import leftovers

def _limit_memory(extra=1536 * 2 ** 20):
    with open("/proc/self/status") as f:
        size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, resource.RLIM_INFINITY))

# A kernel's own: IPython stops its history-saving thread before every fork
# (os.register_at_fork) and starts a new one at the next cell, with its database
# and an eventfd of its own.
KERNEL_THREADS = ("IPythonHistorySavingThread",)
KERNEL_FILES = ("history.sqlite", "anon_inode:[eventfd]")

def _fds():
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue  # the one listdir itself used
        if not any(name in target for name in KERNEL_FILES):
            out.add(fd + " -> " + target)
    return out

def _shared():
    """What the whole process shares, as the learner's next cell would meet it."""
    return repr((sys.stdout, sys.stderr, builtins.print, os.getcwd(), sorted(os.environ.items()),
                 gc.isenabled(), sys.getswitchinterval(), sys.gettrace()))

def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]

async def _hello_asgi(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})

def warm_up():
    """What is made once and kept for good, made before the cases count what each
    leaves: the lab's event loop (its fds) and watchdog; and a kernel's reaction to its
    first fork (IPython stops its history thread before every fork, os.register_at_fork,
    and starts it again later, with an eventfd)."""
    gl.run_wsgi(_hello)
    gl.run_asgi(_hello_asgi)
    gl.run_wsgi(_hello, isolate=True)

_case = {}

def start_case(case):
    _case.clear()
    space = {"__name__": "faults_" + case["name"]}
    if case["gateway"] == "cgi":
        folder = tempfile.mkdtemp(prefix="faults-")
        app = os.path.join(folder, "script.py")
        with open(app, "w") as f:
            f.write(case["source"])
    else:
        exec(compile(case["source"], "/faults/%s.py" % case["name"], "exec"), space)
        app = space["app"]
    run = {"wsgi": gl.run_wsgi, "asgi": gl.run_asgi, "cgi": gl.run_cgi}[case["gateway"]]
    gc.collect()
    _case.update(space=space, fds=_fds(), peak=_peak_mb(), shared=_shared(),
                 threads={t.ident for t in threading.enumerate()})
    start = time.perf_counter()
    if case["thread"]:
        box = {}
        caller = threading.Thread(target=lambda: box.update(ex=run(
            app, timeout=case["timeout"], **case["kwargs"])), name="faults-caller")
        caller.start()
        caller.join(case["timeout"] + 10)
        ex = box.get("ex")
    else:
        ex = run(app, timeout=case["timeout"], **case["kwargs"])
    _case.update(elapsed=time.perf_counter() - start, ex=ex)

def finish_case(case):
    ex, space = _case["ex"], _case["space"]
    space.get("cleanup", lambda: None)()
    out = {"name": case["name"], "elapsed": _case["elapsed"], "pid": os.getpid()}
    if ex is not None:
        out.update(status=ex.response.status, complete=ex.response.complete,
                   rules=[f.rule for f in ex.findings],
                   messages=[f.message for f in ex.findings],
                   isolated=any("ran in a separate process" in str(e.detail)
                                for e in ex.trace))
    out["next_wsgi"] = gl.run_wsgi(_hello, timeout=2).response.status
    out["next_asgi"] = gl.run_asgi(_hello_asgi, timeout=2).response.status
    time.sleep(0.1)  # a worker that let go exits; a killed child is gone
    gc.collect()
    out["threads"] = sorted(t.name for t in threading.enumerate()
                            if t.ident not in _case["threads"] and t.is_alive()
                            and not t.name.startswith(("gateway-lab", "faults-caller"))
                            and t.name not in KERNEL_THREADS)
    out["children"] = ["%d %s" % (p.pid, p.command) for p in leftovers.children()]
    out["fds"] = sorted(_fds() - _case["fds"])
    out["growth_mb"] = _peak_mb() - _case["peak"]
    out["shared_kept"] = _shared() == _case["shared"]
    return out
'''

SCRIPT = RUNNER + r'''
_limit_memory()
warm_up()
cases = json.loads(sys.stdin.read())
for case in cases:
    print("@@start " + case["name"], flush=True)
    start_case(case)
    print("@@result " + json.dumps(finish_case(case)), flush=True)
print("@@done", flush=True)
'''


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _budget() -> float:
    return sum(case.timeout + 6 for case in CASES) + 20


@pytest.fixture(scope="module")
def in_a_script(tmp_path_factory):
    """All the cases in one child Python, under a hard outer timeout."""
    cwd = tmp_path_factory.mktemp("faults-script")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            env=_env(), text=True, start_new_session=True)
    try:
        out, err = proc.communicate(json.dumps([asdict(c) for c in CASES]), timeout=_budget())
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        started = re.findall(r"^@@start (\S+)", out, re.M)
        pytest.fail(f"the script hung in case {started[-1] if started else '?'}; "
                    f"stderr: {err[-2000:]}")
    results: dict[str, list] = {}
    for line in out.splitlines():
        if line.startswith("@@result "):
            result = json.loads(line[len("@@result "):])
            results.setdefault(result["name"], []).append(result)
    results["@@done"] = out.count("@@done")
    results["@@stderr"] = err
    return results


@pytest.fixture(scope="module")
def in_a_kernel(tmp_path_factory):
    """Each case in a cell of a real kernel; the next cell checks what is left."""
    from jupyter_client.manager import start_new_kernel

    cwd = tmp_path_factory.mktemp("faults-kernel")
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60, env=_env(),
                              cwd=str(cwd))
    results: dict[str, dict] = {}

    def execute(code: str, timeout: float) -> tuple[list[str], str, float]:
        texts: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                texts.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                texts.append("ERROR " + msg["content"]["ename"] + ": " +
                             msg["content"]["evalue"])

        start = time.perf_counter()
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        return texts, reply["content"]["status"], time.perf_counter() - start

    try:
        texts, status, _ = execute(RUNNER + "\n_limit_memory()\nwarm_up()\n", 60)
        assert status == "ok", texts
        for _ in range(2):  # IPython starts its history thread again (see warm_up)
            execute("pass", 30)
        for case in CASES:
            data = json.dumps(asdict(case))
            try:
                texts, status, wall = execute(
                    f"start_case(json.loads({data!r}))\nprint('@@ran')", case.timeout + 30)
            except TimeoutError:
                results[case.name] = {"hung": True}
                km.interrupt_kernel()
                continue
            after, status_after, _ = execute(
                f"print(json.dumps(finish_case(json.loads({data!r}))))", 60)
            result = next((json.loads(t) for t in "".join(after).splitlines()
                           if t.startswith("{")), {"errors": after})
            # A learner's cell after the case: its print must show.
            printed, _, _ = execute("print('next cell', 6 * 7)", 30)
            result.update(cell_seconds=wall, cell_status=status,
                          ran=sum(t.count("@@ran") for t in texts), cell_output=texts,
                          next_cell="".join(printed).strip())
            results[case.name] = result
        # The kernel is still itself: a plain cell works.
        texts, status, _ = execute("print(6 * 7)", 30)
        results["@@last"] = "".join(texts).strip()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return results


def _check(case: Case, result: dict) -> None:
    """What every case must show, wherever it ran."""
    assert result.get("status") in case.status, result
    assert result["elapsed"] <= case.timeout + MARGIN, result
    missing = set(case.rules) - set(result["rules"])
    assert not missing, (missing, result["messages"])
    assert result["isolated"] == case.isolated, result
    if case.complete is not None:
        assert result["complete"] is case.complete, result
    # The next run works.
    assert result["next_wsgi"] == 200 and result["next_asgi"] == 200, result
    # Nothing is left behind, or a finding names it.
    assert result["children"] == [], result
    assert result["fds"] == [], result
    if case.left_thread:  # named by the finding (and stopped by the catalog's cleanup)
        assert case.left_thread in " ".join(result["messages"]), result
    assert result["threads"] == [], result
    assert result["growth_mb"] < case.growth_mb, result
    # What the process shares is as it was (put back, and named, if the app changed it).
    assert result["shared_kept"], result
    _check_special(case, result)


def _check_special(case: Case, result: dict) -> None:
    messages = " ".join(result["messages"])
    if case.name == "unseen_swallower_off_the_main_thread":
        # Abandoned, and said truthfully: it spins, it is not blocked in a C call.
        assert "keeps running on the CPU" in messages, messages
    if case.name in ("fork_in_the_app", "popen_never_waited_for"):
        pids = [int(p) for p in re.findall(r"pid (\d+)", messages)]
        assert pids and not any(Path(f"/proc/{pid}").exists() for pid in pids), messages
    if case.name == "popen_never_waited_for":
        assert "sleep 1000" in messages
    if case.name.startswith("cgi_"):
        assert "which had left the script's process group" in messages, messages
        pids = [int(p) for p in re.findall(r"pid (\d+)", messages)]
        assert pids and not any(Path(f"/proc/{pid}").exists() for pid in pids), messages
    if case.name == "swallower_the_lab_cannot_see":
        assert "sandbox.swallows_stop" not in result["rules"]  # it could not be seen
    if case.isolated and case.status == (504,):  # the finding names the handler's line
        assert "would swallow the server's stop signal" in messages
        assert re.search(rf"at {case.name}\.py line \d+", messages), messages


@pytest.mark.parametrize("name", list(BY_NAME))
def test_in_a_script(in_a_script, name):
    assert in_a_script["@@done"] == 1, in_a_script["@@stderr"][-2000:]
    runs = in_a_script.get(name)
    assert runs is not None and len(runs) == 1, (name, runs)  # a forked copy reports nothing
    _check(BY_NAME[name], runs[0])


@pytest.mark.parametrize("name", list(BY_NAME))
def test_in_a_kernel(in_a_kernel, name):
    result = in_a_kernel[name]
    assert not result.get("hung"), f"the cell of {name} did not return"
    assert result["cell_status"] == "ok", result["cell_output"]
    case = BY_NAME[name]
    # The cell itself (not only the run inside it) returns within timeout + 1 s, once:
    # a forked copy of the kernel printing the cell's output again would show here.
    assert result["cell_seconds"] <= case.timeout + MARGIN, result["cell_seconds"]
    assert result["ran"] == 1, result["cell_output"]
    assert result["next_cell"] == "next cell 42", result
    _check(case, result)


def test_the_kernel_is_fine_after_the_whole_catalog(in_a_kernel):
    assert in_a_kernel["@@last"] == "42"
