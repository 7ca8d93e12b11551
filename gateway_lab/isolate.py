"""Running an app in a child process that is killed at the deadline, as servers do.

A thread cannot be killed; a process can.  gunicorn runs apps in worker
processes and kills one that is silent past its `--timeout` (gunicorn's
settings docs, §timeout); the lab does the same for one run when asked
(`run_wsgi(..., isolate=True)`, `run_asgi(..., isolate=True)`, the magics'
`--isolate`), and by itself for an app whose code would swallow the stop
(stoppable.py).  The child runs the request through the same gateway, in
process, and sends the Exchange back; the caller gets it as if the run had
been its own.  If the child has not answered by the deadline (plus
KILL_GRACE), the parent kills it, and everything it started (its process
group), and answers 504 itself.

How the child gets the app:

* by fork (POSIX): the child is a copy of this process, app and all, so an
  app defined in a notebook cell works.  It is the fast way (milliseconds,
  where a fresh Python takes a tenth of a second or more), and the one used
  on Linux;
* by reference (spawn): a fresh Python imports the app by "module:attr", as
  gunicorn's workers import `app:application`.  Used where there is no fork
  (Windows), and on macOS for an app in an importable module (forking a
  process that has used the system's frameworks can crash the copy there; a
  notebook's app, which cannot be imported, is forked all the same).

The child's prints come back to the caller as they happen.  What the child
sends travels as pickle frames on a pipe: [4-byte length][pickle].
"""

from __future__ import annotations

import gc
import io
import os
import pickle
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

from .browser import IN_BROWSER, NO_PROCESSES, why
from .exchange import Exchange, Response, received, respond
from .findings import format_error
from .request import Request
from .rules import make_finding
from .targets import load_target
from .trace import Event, Trace

KILL_GRACE = 0.5     # s past the run's timeout before the child is killed
START_TIMEOUT = 30.0  # s for a spawned Python to start and import the app (a slow machine)
RFC_502 = "RFC 9110 §15.6.3"
GUNICORN = "gunicorn settings §timeout"
_clock = time.perf_counter


class IsolationError(RuntimeError):
    """The app cannot be run in another process here; the message says how it could."""


# -- which way ------------------------------------------------------------------------------

def reference(app) -> str | None:
    """'module:attr' that imports `app` in a fresh Python, or None."""
    module_name = getattr(app, "__module__", None) or getattr(type(app), "__module__", None)
    module = sys.modules.get(module_name or "")
    if module is None or module_name == "__main__":
        return None  # a notebook, the prompt, or a script: a fresh Python has its own __main__
    name = getattr(app, "__qualname__", None)
    if isinstance(name, str) and "<" not in name and _get(module, name) is app:
        return f"{module_name}:{name}"
    for attr, value in list(vars(module).items()):  # an object, e.g. app = Flask(__name__)
        if value is app:
            return f"{module_name}:{attr}"
    return None


def _get(module, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj


def method(app, how=True) -> tuple[str, str | None]:
    """("fork", None) or ("spawn", "module:attr") for `app`; `how` may ask for one."""
    if IN_BROWSER:  # no processes: the default runs the app here (its deadline, sandbox.py)
        raise IsolationError(why("a separate process", NO_PROCESSES, "it runs in this one"))
    can_fork = hasattr(os, "fork")
    if how == "fork" or (how is True and can_fork and sys.platform.startswith("linux")):
        if not can_fork:
            raise IsolationError("this platform has no fork(); use isolate='spawn'")
        return "fork", None
    ref = reference(app)
    if ref is not None:
        return "spawn", ref
    if how is True and can_fork:
        return "fork", None
    raise IsolationError(
        f"cannot run {app!r} in a separate process: this platform cannot fork, and a "
        "fresh Python cannot import the app (it is defined in a notebook or at the "
        "interactive prompt). Put the app in a .py file next to the notebook and import "
        "it from there (from myapp import app), then run it again.")


# The gateways this module runs, by name: they call it (to isolate an app), so it finds
# them the way it finds an app, by module and attribute, when it needs one.
GATEWAYS = {"wsgi": "gateway_lab.wsgi:run_wsgi", "asgi": "gateway_lab.asgi:run_asgi"}


def _runner(gateway: str):
    return load_target(GATEWAYS[gateway])


# -- the parent's side ----------------------------------------------------------------------

def run_isolated(gateway: str, app, request: Request, timeout: float, isolate,
                 options: dict) -> Exchange:
    """What run_wsgi / run_asgi do when `isolate` is True ("fork", "spawn"), or None (the
    default) and the app's code would swallow the stop: run it in a child process.
    When the default cannot (no fork, and the app cannot be imported by name) the app
    runs here after all, and the finding says so; `isolate=True` raises instead."""
    from .stoppable import swallowers

    found = swallowers(app)
    try:
        return run(gateway, app, request, timeout, options, found,
                   True if isolate is None else isolate)
    except IsolationError as error:
        if isolate is not None:
            raise
        why = str(error)
    ex = _runner(gateway)(app, request, timeout=timeout, isolate=False, **options)
    if ex.trace.coach:
        how = (f"it could not run in a separate process ({why}), so it ran in this one: past "
               "its time the lab raises the stop again at every line of your code, and if "
               "even that fails, only restarting the kernel helps")
        for finding in why_isolated(found, how):
            ex.trace.find(finding.rule, actor="server",
                          what="; ".join(str(f) for f in found if f.rule == finding.rule),
                          how=how)
    return ex


def run(gateway: str, app, request: Request, timeout: float, options: dict,
        found=(), how=True) -> Exchange:
    """Run `request` through `app` with `gateway` ("wsgi" or "asgi") in a child process;
    `found` are the stoppable.Swallower that made the lab choose this (if it did)."""
    kind, ref = method(app, how)
    started = _clock()
    child = _fork(gateway, app, request, timeout, options) if kind == "fork" else \
        _spawn(gateway, ref, request, timeout, options)
    shipped = crash = ready_at = None
    killed = False
    limit = started + (5.0 if kind == "fork" else START_TIMEOUT)
    try:
        while shipped is None and crash is None:
            try:
                frame = child.frames.get(timeout=max(0.0, limit - _clock()))
            except queue.Empty:
                killed = True  # past the deadline: killed below
                break
            if frame is None:
                break  # the child is gone without an answer
            what, value = frame
            if what == "ready":
                ready_at = _clock()
                limit = ready_at + timeout + KILL_GRACE
            elif what == "out":
                _echo(value)
            elif what == "exchange":
                shipped = value
            elif what == "crash":
                crash = value
    finally:
        if not killed:
            child.wait(1.0)  # it exits right after its answer (or has died already)
        # Always: the child's process group may hold what the app started.
        child.kill()
        code = child.wait()
    note = (f"the app ran in a separate process (pid {child.pid}, by {kind}"
            + (f", ready {(ready_at - started) * 1000:.1f} ms after the request" if ready_at
               else "") + ")")
    coach = options.get("coach", True)
    if shipped is not None:
        return _landed(shipped, request, note, found, coach)
    return _lost(gateway, request, timeout, note, found, coach, killed, code, crash)


def _echo(text: str) -> None:
    try:
        sys.stdout.write(text)
    except (OSError, ValueError):
        pass


class _Child:
    """A child process as the parent sees it: its pid, its frames, a way to end it."""

    def __init__(self, pid: int, stream, proc: subprocess.Popen | None = None):
        self.pid = pid
        self.proc = proc
        self.code: int | None = None
        self.frames = _Frames(stream) if os.name == "posix" else _ThreadFrames(stream)

    def kill(self) -> None:
        """Kill the child's process group: the child and everything it started (even
        after the child itself has exited, the group lives on in its members)."""
        if os.name == "nt":
            if self.proc is not None and self.proc.poll() is None:
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=False)
                self.proc.kill()
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status once it has exited (None: still running after `timeout`)."""
        if self.code is None:
            if self.proc is not None:
                try:
                    self.code = self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    return None
            else:
                self.code = _waitpid(self.pid, timeout)
        if self.code is not None:
            self.frames.close()
        return self.code


def _waitpid(pid: int, timeout: float | None) -> int | None:
    end = None if timeout is None else _clock() + timeout
    pause = 0.0001
    while True:
        try:
            done, status = os.waitpid(pid, 0 if end is None else os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return os.waitstatus_to_exitcode(status)
        if _clock() > end:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


class _Frames:
    """The child's frames, read in the caller's thread as they come (POSIX: select)."""

    def __init__(self, stream):
        self.stream = stream
        self.fd = stream.fileno()
        self.buffer = bytearray()
        self.ended = False

    def get(self, timeout: float):
        """The next frame; None at the end of the stream; queue.Empty after `timeout`."""
        deadline = _clock() + timeout
        while True:
            if len(self.buffer) >= 4:
                size = int.from_bytes(self.buffer[:4], "big")
                if len(self.buffer) >= 4 + size:
                    data = bytes(self.buffer[4:4 + size])
                    del self.buffer[:4 + size]
                    return _load(data)
            if self.ended:
                return None
            left = deadline - _clock()
            if left <= 0:
                raise queue.Empty
            if select.select([self.fd], [], [], left)[0]:
                chunk = os.read(self.fd, 1 << 16)
                if chunk:
                    self.buffer += chunk
                else:
                    self.ended = True

    def close(self) -> None:
        try:
            self.stream.close()
        except OSError:
            pass


class _ThreadFrames(queue.Queue):
    """The same on Windows, where a pipe cannot be waited for with select: a thread."""

    def __init__(self, stream):
        super().__init__()
        self.reader = threading.Thread(target=self._read, args=(stream,),
                                       name="gateway-lab-isolate-reader", daemon=True)
        self.reader.start()

    def _read(self, stream) -> None:
        try:
            while True:
                head = stream.read(4)
                if len(head) < 4:
                    break
                self.put(_load(stream.read(int.from_bytes(head, "big"))))
        except (OSError, ValueError):
            pass
        finally:
            self.put(None)
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        self.reader.join(1.0)


def _load(data: bytes):
    try:
        return pickle.loads(data)
    except Exception as error:  # noqa: BLE001 - a frame we cannot read: say so
        return "crash", f"the child's answer could not be read ({error})"


def _fork(gateway, app, request, timeout, options) -> _Child:
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may deadlock the child
        # (a lock held by another thread stays held).  The child here takes none of
        # those locks: it runs the app and writes to its own pipe.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        _child_main(os.fdopen(write_end, "wb"), gateway, lambda: app, request, timeout,
                    options, forked=True)
        os._exit(0)  # not reached: _child_main ends the process
    os.close(write_end)
    try:
        os.setpgid(pid, pid)  # the child does it too: whichever runs first
    except OSError:
        pass
    return _Child(pid, os.fdopen(read_end, "rb"))


def _spawn(gateway, ref, request, timeout, options) -> _Child:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])  # this very gateway_lab is imported
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    extra = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
             else {"start_new_session": True})
    try:
        job = pickle.dumps((gateway, ref, request, timeout, options, list(sys.path)))
    except Exception as error:  # noqa: BLE001 - a lifespan state that cannot travel, say
        raise IsolationError(f"cannot send this request to a separate process: {error}") \
            from None
    proc = subprocess.Popen([sys.executable, "-m", "gateway_lab.isolate"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=os.getcwd(),
                            env=env, **extra)
    try:
        proc.stdin.write(job)
        proc.stdin.close()
    except OSError:
        pass  # it died at once: its end of file says so
    return _Child(proc.pid, proc.stdout, proc)


# -- what the parent makes of it --------------------------------------------------------------

def _insert(trace: Trace, events: list, note: str, found, coach: bool) -> None:
    """The isolation note and the handlers that made the lab choose it, right after the
    request (the first event)."""
    t = events[0].t if events else 0.0
    extra = [Event("server", "note", note, GUNICORN, t, None, "app")]
    if coach:
        for finding in reversed(why_isolated(found, "this app ran in a separate process so "
                                                    "that it could be killed")):
            trace.findings.insert(0, finding)
            extra.insert(1, Event("server", "finding", finding.message, finding.spec, t,
                                  finding=finding))
    events[1:1] = extra


def why_isolated(found, how: str) -> list:
    """The findings for the code in `found` (stoppable.Swallower), one per rule."""
    rules = dict.fromkeys(f.rule for f in found)
    return [make_finding(rule, what="; ".join(str(f) for f in found if f.rule == rule), how=how)
            for rule in rules]


def _landed(shipped, request: Request, note: str, found, coach: bool) -> Exchange:
    interface, response, events, findings, messages, close_code = shipped
    trace = Trace(interface, coach)
    trace.findings = list(findings)
    _insert(trace, events, note, found, coach)
    trace._events = events
    return Exchange(interface, request, Response(*response), trace, messages, close_code)


def _lost(gateway, request, timeout, note, found, coach, killed, code, crash) -> Exchange:
    """The child gave no answer: it was killed at the deadline, or it died."""
    trace = Trace(gateway, coach)
    received(trace, request)
    events = trace.events
    _insert(trace, events, note, found, coach)
    if killed:
        how = "it did not stop when told to, so the server killed the process running it"
        if gateway == "wsgi":
            trace.find("wsgi.app.timeout", actor="server", timeout=timeout, how=f"; {how}")
        else:
            trace.find("asgi.app.timeout", actor="server", timeout=timeout, where=how,
                       status=504)
        return respond(gateway, request, trace, Response.error(504))
    trace.find("sandbox.worker_died", actor="server", code=code,
               why=f": {crash}" if crash else "")
    return respond(gateway, request, trace, Response.error(502))


# -- the child's side -------------------------------------------------------------------------

class _Forward(io.TextIOBase):
    """sys.stdout and sys.stderr in the child: what the app prints goes to the caller."""

    def __init__(self, send):
        self.send = send

    def write(self, text) -> int:
        text = str(text)
        if text:
            self.send("out", text)
        return len(text)

    def writable(self) -> bool:
        return True


def _ship(ex: Exchange) -> tuple:
    """The Exchange as plain data the parent can unpickle: events made now (their data
    included, or its repr where it cannot travel: a lifespan state's database handle)."""
    events = ex.trace.events
    try:
        pickle.dumps(events)
    except Exception:  # noqa: BLE001 - some event holds what pickle cannot take
        for event in events:
            try:
                pickle.dumps(event.data)
            except Exception:  # noqa: BLE001
                event.data = repr(event.data)[:200]
    r = ex.response
    return (ex.interface, (r.status, r.headers, r.body, r.reason, r.complete, r.trailers),
            events, list(ex.trace.findings), list(ex.messages), ex.close_code)


def _child_main(out, gateway, load, request, timeout, options, forked) -> None:
    """Serve one request here and send the Exchange; never returns."""
    lock = threading.Lock()

    def send(what, value) -> None:
        data = pickle.dumps((what, value))
        with lock:
            out.write(len(data).to_bytes(4, "big") + data)
            out.flush()

    code = 0
    try:
        if forked:
            # Nothing the parent allocated is garbage this short life needs to collect:
            # moved out of the collector's sight, its pages are not touched (and copied).
            gc.freeze()
            try:
                os.setpgid(0, 0)
            except OSError:
                pass
        sys.stdout = sys.stderr = _Forward(send)
        app = load()
        run_gateway = _runner(gateway)
        send("ready", os.getpid())
        ex = run_gateway(app, request, timeout=timeout, isolate=False, **options)
        send("exchange", _ship(ex))
    except BaseException as error:  # noqa: BLE001 - whatever happened, the parent hears
        code = 1
        try:
            send("crash", format_error(error).splitlines()[-1])
        except BaseException:  # noqa: BLE001 - the pipe is gone: nothing more to do
            pass
    finally:
        try:
            out.close()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


def main() -> None:
    """`python -m gateway_lab.isolate`: the spawned child (see _spawn)."""
    gateway, ref, request, timeout, options, path = pickle.loads(sys.stdin.buffer.read())
    sys.path[:] = path
    # The frames get their own copy of stdout; fd 1 then points at stderr, so nothing
    # the app writes to the file descriptor itself can be taken for a frame.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)

    def load():
        return load_target(ref)

    _child_main(out, gateway, load, request, timeout, options, forked=False)


if __name__ == "__main__":
    main()
