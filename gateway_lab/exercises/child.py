"""Checks run in a child process, and the child is killed when it stops answering.

Why a process: the lab stops learner code that runs too long by raising an
exception in it (sandbox.py).  Code that catches *every* exception, such as
`while True: try: ... except: pass` (a bare `except:` is easy to write),
catches that one too, and then nothing inside the process can stop it: a
thread cannot be killed.  A process can.  So `gl.check` and `gateway-lab
check` run the checks in a fresh Python (`python -m gateway_lab.exercises.child`)
and watch it, as gunicorn's arbiter watches its workers:

* the child tells the parent, on its stdout, what learner code it is about to
  run and how long that may take (core.doing), and sends each check's result
  as soon as it has it;
* if the parent hears nothing by then (plus a grace), it kills the child (and
  anything the child started), keeps the results it already has, and says
  which check was running, what it had sent, for how long, and the likely
  cause, found by reading the learner's file for handlers that swallow the
  stop (`except:`, `except BaseException`, a signal handler of its own);
* what the learner's code prints is captured and shown with the report.

Many exercises can go to one child (the overview of a whole folder); if one
of them has to be killed, a new child takes the rest.
"""

from __future__ import annotations

import ast
import atexit
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import core
from .core import EXERCISES, CheckResult, Report

PREFIX = "@@gateway-lab-check "  # marks the lines of the protocol on the child's stdout
GRACE = 1.5          # s past a step's own time limit before the child is killed
START_TIMEOUT = 30.0  # s for a fresh Python to start and import the lab (a slow machine)
MAX_OUTPUT = 20_000  # characters of the learner's printed output kept per exercise
TIMEOUTS = ("IMPORT_TIMEOUT", "CALL_TIMEOUT", "RUN_TIMEOUT")


# -- the parent's side -------------------------------------------------------------------

def run_isolated(jobs: list[tuple[str, Path]], hint: int = 0) -> list[Report]:
    """Check each (exercise name, file) in a child process; one Report per job, in order."""
    reports: list[Report] = []
    while len(reports) < len(jobs):
        reports += _one_child(jobs[len(reports):], hint)
    return reports


class _Job:
    def __init__(self, name: str, path: Path):
        self.exercise = EXERCISES[name]
        self.path = path
        self.results: list[CheckResult] = []
        self.output = ""
        self.doing = ""              # what learner code was running, as the child said
        self.limit = 0.0             # the time limit the child gave it

    def report(self, hint: int) -> Report:
        return Report(self.exercise, self.path, self.results, hint, self.output)


def _one_child(jobs: list[tuple[str, Path]], hint: int) -> list[Report]:
    """Run `jobs` in one child until they are done or it has to be killed; the Reports
    of the jobs it got to (the one it was killed on included, with a message)."""
    todo = [_Job(name, Path(path)) for name, path in jobs]
    settings = {"jobs": [[j.exercise.name, str(j.path)] for j in todo],
                "timeouts": {name: getattr(core, name) for name in TIMEOUTS}}
    proc = _take()
    events: queue.Queue = queue.Queue()
    errors = bytearray()
    threads = [threading.Thread(target=_read_events, args=(proc.stdout, events), daemon=True),
               threading.Thread(target=_read_bytes, args=(proc.stderr, errors), daemon=True)]
    for t in threads:
        t.start()
    try:
        proc.stdin.write(json.dumps(settings).encode())
        proc.stdin.close()
    except OSError:
        pass  # the child is gone already: said below, when its stdout ends
    done: list[_Job] = []
    current: _Job | None = None
    deadline = time.monotonic() + START_TIMEOUT
    default = max(core.RUN_TIMEOUT, core.CALL_TIMEOUT) + GRACE
    try:
        while True:
            try:
                event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                _kill(proc)
                if current is None:  # it never got to the checks
                    current = todo[len(done)]
                    current.doing = "starting a Python for the checks"
                    current.limit = START_TIMEOUT
                _stopped(current)
                done.append(current)
                break
            kind = event.get("e")
            if kind == "eof":
                proc.wait()
                if len(done) < len(todo):
                    current = current or todo[len(done)]
                    _died(current, proc.returncode, errors)
                    done.append(current)
                break
            if kind == "begin":
                current = todo[event["job"]]
                deadline = time.monotonic() + default
            elif kind == "doing":
                current.doing, current.limit = event["what"], float(event["timeout"])
                deadline = time.monotonic() + current.limit + GRACE
            elif kind == "result":
                current.results.append(CheckResult.from_dict(event["result"]))
                deadline = time.monotonic() + default
            elif kind == "out":
                if current is not None:
                    current.output += event.get("text", "")
            elif kind == "end":
                done.append(current)
                current = None
                deadline = time.monotonic() + default
    finally:
        if proc.poll() is None:
            _kill(proc)
        proc.wait()
        for t in threads:
            t.join(1.0)
    stray = bytes(errors).decode("utf-8", "replace").strip()
    if stray and done:  # written straight to the file descriptors (C code, a subprocess)
        done[-1].output = (done[-1].output + "\n" + stray[-MAX_OUTPUT:]).strip()
    return [job.report(hint) for job in done]


_spare: list[subprocess.Popen] = []  # a child started ahead of time, waiting for its jobs


def start_spare() -> None:
    """Start a child now, before it is needed (gunicorn starts its workers before the
    requests come): it imports the lab while this process does something else."""
    if not _spare:
        _spare.append(_start())
        atexit.register(_drop_spare)


def _drop_spare() -> None:
    while _spare:
        proc = _spare.pop()
        _kill(proc)
        proc.wait()


def _take() -> subprocess.Popen:
    while _spare:
        proc = _spare.pop()
        if proc.poll() is None:
            return proc
        proc.wait()
    return _start()


def _start() -> subprocess.Popen:
    env = dict(os.environ)
    # The child imports this very gateway_lab, wherever it was imported from here.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    options = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
               # A process group of its own: one kill reaches whatever the checks started.
               else {"start_new_session": True})
    return subprocess.Popen([sys.executable, "-m", "gateway_lab.exercises.child"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=os.getcwd(), env=env, **options)


def _kill(proc: subprocess.Popen) -> None:
    try:
        if os.name == "nt":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _read_events(stream, events: queue.Queue) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace")
        if line.startswith(PREFIX):
            try:
                events.put(json.loads(line[len(PREFIX):]))
            except ValueError:
                pass
    events.put({"e": "eof"})


def _read_bytes(stream, into: bytearray) -> None:
    while chunk := stream.read(4096):
        if len(into) < 4 * MAX_OUTPUT:
            into += chunk


def _stopped(job: _Job) -> None:
    """The child was killed while `job` ran: say which check, what ran, for how long, why."""
    after = f" (after “{job.results[-1].title}”)" if job.results else ""
    number = len(job.results) + 1
    message = (f"check {number}{after} did not finish within {job.limit:g} s, and your code "
               "did not stop when the lab's time limit told it to; the checker stopped it "
               "(it killed the process running your code).")
    job.results.append(CheckResult(
        f"check {number} was stopped", False, message, sent=job.doing,
        got="nothing: no answer before the time limit",
        rule="every request a server hands to an app has a time limit; a server kills a "
             "worker that overruns it (gunicorn's --timeout)",
        hint=_likely_cause(job.path), timed_out=True))
    job.results.append(CheckResult("the remaining checks", False,
                                   "not run: your code ran out of time in the check above; "
                                   "fix that first"))


def _died(job: _Job, code: int | None, errors: bytearray) -> None:
    tail = bytes(errors).decode("utf-8", "replace").strip()[-600:]
    job.results.append(CheckResult(
        "the checks could not go on", False,
        f"the process running your code ended (exit status {code}) while "
        f"{job.doing or 'starting the checks'}"
        + (f":\n{tail}" if tail else ""),
        hint="does your code call sys.exit(), os._exit() or os.kill()? An app returns a "
             "response; it never ends the server's process"))


def _likely_cause(path: Path) -> str:
    """Handlers in the learner's file that would swallow the lab's stop, by line."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        tree = None
    found = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.ExceptHandler):
            names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            if node.type is None:
                found.append(f"line {node.lineno}: a bare `except:`")
            elif any(isinstance(n, ast.Name) and n.id == "BaseException" for n in names):
                found.append(f"line {node.lineno}: `except BaseException`")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("signal", "pthread_sigmask", "setitimer")
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "signal"):
            found.append(f"line {node.lineno}: signal.{node.func.attr}(...), a signal "
                         "handler of your own")
    if found:
        return ("look at " + "; ".join(found) + ": it also catches the lab's stop, so a loop "
                "around it never ends. Catch only the errors you expect (except ValueError:), "
                "or at most `except Exception:`")
    return ("a loop that never ends and catches the lab's stop, or a call that blocks "
            "inside C code (a lock or a socket read without a timeout)")


# -- the child's side ----------------------------------------------------------------------

class _Capture:
    """sys.stdout and sys.stderr of the child while an exercise is checked: what the
    learner's code prints, kept for the report instead of mixing with the protocol."""

    encoding = "utf-8"

    def __init__(self, emit):
        self.emit = emit  # sent at once: a killed child's output is not lost
        self.size = 0

    def write(self, text) -> int:
        text = str(text)
        if self.size < MAX_OUTPUT:
            self.emit("out", text=text[:MAX_OUTPUT - self.size])
        elif self.size - len(text) < MAX_OUTPUT:
            self.emit("out", text=" …(more output cut)")
        self.size += len(text)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def main() -> int:
    settings = json.loads(sys.stdin.read() or "{}")
    from .core import load_checks

    load_checks()
    # The protocol gets its own copy of stdout; file descriptor 1 itself then points
    # at stderr, so nothing the learner's code writes can be taken for a message.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    lock = threading.Lock()

    def emit(kind: str, **data) -> None:
        with lock:
            channel.write(PREFIX + json.dumps({"e": kind, **data}) + "\n")
            channel.flush()

    for name, value in settings.get("timeouts", {}).items():
        if name in TIMEOUTS:
            setattr(core, name, float(value))
    core._watcher = lambda what, timeout: emit("doing", what=what, timeout=timeout)
    real = sys.stdout, sys.stderr
    for i, (name, path) in enumerate(settings.get("jobs", [])):
        emit("begin", job=i)
        sys.stdout = sys.stderr = _Capture(emit)
        try:
            for result in core.iter_checks(EXERCISES[name], Path(path)):
                emit("result", result=result.to_dict())
        finally:
            sys.stdout, sys.stderr = real
        emit("end", job=i)
    channel.close()
    sys.stderr.flush()
    # Threads the learner's code may have left running must not keep this process.
    os._exit(0)


if __name__ == "__main__":
    main()
