"""Threads and processes that learner code starts and leaves running after its run.

A request ends when the app returns.  A thread the app started and left
running, or a child process it did not wait for, outlives it: in a notebook
kernel it runs on (a copy of the kernel that prints every cell twice, a
`sleep 1000`, a thread at 100% of a core) until the kernel restarts.  At the
end of every run the lab looks, says what it found in a finding, and kills
the processes.  Threads cannot be killed (Python has no way to end another
thread), so they are named, not stopped.

The lab looks after runs on the main thread (a notebook cell, a script, the
CLI, an exercise check): there one run happens at a time.  Runs on other
threads (the concurrency lab's workers, a server's) share the process with
other runs going on at the same time, and what one of them started cannot be
told from what another did, so they are not looked at.  A thread counts as the
app's if it was started on a function of the learner's own or is running one
(an installed library's idle pool thread, such as AnyIO's worker behind a
FastAPI sync route, is not).

Looking costs nothing on the common path:

* threads: the run compares how many threads Python knows before and after
  (the length of one dict); only if the number changed does it list them and
  compare with the threads it had seen;
* processes: an audit hook (PEP 578, installed once) counts the events that
  start a process (subprocess.Popen, os.fork, os.posix_spawn, os.spawn*); only
  if one happened during the run does it list this process's children.  A
  process it started during the run (by its start time) is killed with every
  process it started in turn.

`os.fork()` inside an app is also stopped at the gateway's boundary: the
copy must not return into the caller's code (sandbox.py).

CGI scripts run in a process group of their own, which one killpg() ends;
a grandchild that left the group (setsid and a double fork, or
`start_new_session=True`) is out of its reach.  On Linux the lab makes itself
a "child subreaper" (prctl(PR_SET_CHILD_SUBREAPER), man 2 PR_SET_CHILD_SUBREAPER)
while a script runs: such an orphan is then handed to the lab instead of to
init, and `run_cgi` finds it among its children (by the environment it
inherited from the script, which is the run's own) and kills it.  Elsewhere
there is no such attribute, and those grandchildren survive the run.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
import weakref
from concurrent.futures import thread as _pool_thread
from typing import NamedTuple

LINUX = sys.platform.startswith("linux")
_SPAWNS = frozenset({"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn",
                     "os.spawn", "os.startfile"})
_SHARED = frozenset({"os.putenv", "os.unsetenv", "os.chdir"})  # see process_state.py
REAP_WAIT = 1.0   # s to wait for killed processes to be gone
_WORK_ITEM_RUN = _pool_thread._WorkItem.run.__code__  # a pool thread's frame while busy


# -- counting what could leave something behind -------------------------------------------

# The dict of running threads (ident -> Thread): threading.enumerate() without the lock.
_threads = getattr(threading, "_active", None)
if _threads is None:  # not CPython's threading: list them the slow way
    class _All:
        def values(self):
            return threading.enumerate()

    _threads = _All()


def running_threads() -> tuple:
    """The Thread objects running now, in the order they started.  Compared by identity:
    a count misses a thread started while another ended, and an ident (a thread's stack
    address) is handed to the next thread once one ends."""
    return tuple(_threads.values())
_hooked = False


class _Counts:
    __slots__ = ("chdir", "code_changes", "environ", "spawned")

    def __init__(self):
        self.environ = 0       # os.putenv/os.unsetenv calls: os.environ changed (process_state)
        self.chdir = 0         # os.chdir/os.fchdir calls (process_state)
        self.spawned = 0       # process-starting events seen by the audit hook
        self.code_changes = 0  # assignments to a function's __code__ (stoppable's cache)


_counts = _Counts()


def _hook(event: str, args) -> None:
    # Runs at every audited event of the process (opening files, imports, ...): a set
    # lookup or two, and nothing more unless a process is being started, os.environ
    # changes or the current directory does.
    if event in _SPAWNS:
        _counts.spawned += 1
    elif event in _SHARED:
        if event == "os.chdir":
            _counts.chdir += 1
        else:
            _counts.environ += 1
    elif event == "object.__setattr__" and args[1] == "__code__":
        _counts.code_changes += 1  # func.__code__ = ...: the only way a function changes code


def install() -> None:
    """Start counting process starts, os.environ's changes and os.chdir() calls (once per
    process: audit hooks cannot be removed)."""
    global _hooked
    if not _hooked:
        _hooked = True
        sys.addaudithook(_hook)


class Mark(NamedTuple):
    """What ran at the start of a run, and when it started (time.perf_counter())."""

    threads: tuple   # running_threads()
    spawned: int
    t0: float


def mark() -> Mark:
    install()
    return Mark(running_threads(), _counts.spawned, time.perf_counter())


def changed(m: Mark) -> bool:
    """Cheap: could the run have left something behind?"""
    return running_threads() != m.threads or _counts.spawned != m.spawned


# -- threads --------------------------------------------------------------------------------

# Threads whose work the lab accounts for itself (the lab's event loop's executor, whose
# jobs asyncio/loops.py reports by what they run): never listed here as well.
accounted = weakref.WeakSet()


def _work_item(frame):
    """The concurrent.futures work item `frame`'s thread is running (its fn is the job
    given to executor.submit, run_in_executor or asyncio.to_thread), or None."""
    while frame is not None:
        if frame.f_code is _WORK_ITEM_RUN:
            return frame.f_locals.get("self")
        frame = frame.f_back
    return None


def job_name(fn) -> str:
    """A job's function by name: time.sleep, my_task; through to_thread's partial."""
    while isinstance(fn, functools.partial):
        # asyncio.to_thread submits partial(context.run, func, *args): the func is inside.
        fn = fn.args[0] if fn.func.__class__.__name__ == "builtin_function_or_method" and \
            getattr(fn.func, "__name__", "") == "run" and fn.args else fn.func
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}.{name}" if module and module not in ("builtins", "__main__") else name


def _runs_learner_code(thread: threading.Thread, frames: dict) -> bool:
    """Is `thread` the app's: started on a function of the learner's own, or running
    one right now, or running a job given to a thread pool during the run?  The lab's
    threads and the idle pool threads of libraries (an event loop's executor, AnyIO's
    workers for FastAPI's sync routes: they wait for work, in installed code) are not."""
    if (thread.name or "").startswith("gateway-lab") or thread in accounted:
        return False
    if _work_item(frames.get(thread.ident)) is not None:
        # A pool thread started during the run and still busy: the job was the app's,
        # whatever code it runs (time.sleep is not the learner's, the sleep is).
        return True
    from .origin import is_library as _is_library

    target = getattr(thread, "_target", None)
    code = getattr(target, "__code__", None)
    if code is None:
        code = getattr(getattr(type(thread), "run", None), "__code__", None)
    if code is not None and not _is_library(code.co_filename):
        return True
    frame = frames.get(thread.ident)
    while frame is not None:
        if not _is_library(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return False


def new_threads(before: tuple, frames=None) -> list[threading.Thread]:
    """Threads not in `before` (running_threads() at a run's start) that are still
    running the app's code."""
    frames = sys._current_frames() if frames is None else frames
    known = set(before)
    return [t for t in running_threads()
            if t not in known and t.is_alive() and _runs_learner_code(t, frames)]


# -- processes ------------------------------------------------------------------------------

class Proc(NamedTuple):
    pid: int
    command: str
    started: float   # seconds, on the clock of _now()


def _now() -> float:
    """Now, on the clock processes' start times are read on."""
    if LINUX:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.time()


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float, str] | None:
    """(parent pid, start time in seconds since boot, state letter) from /proc, or None
    if it is gone.  State "Z" is a zombie: exited, not yet waited for."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()  # the name may hold spaces and ')'
    return int(fields[1]), int(fields[19]) / _TICKS, fields[0].decode("ascii", "replace")


def _name(pid: int) -> str:
    """The program's short name (the kernel's comm), e.g. "sleep"."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().strip().decode("utf-8", "replace") or "?"
    except OSError:
        return "?"


def _command(pid: int, state: str) -> str:
    """The command line; "?" for a zombie (it has none left).  A process caught in the
    middle of exec() shows an empty command line for a moment (the new program's
    arguments are not in place yet), so an empty one is read again before giving up."""
    if state == "Z":
        return "?"
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                raw = f.read().rstrip(b"\0")
        except OSError:
            return "?"
        if raw:
            return " ".join(w.decode("utf-8", "replace") for w in raw.split(b"\0"))[:200]
        time.sleep(0.005)
    return f"[{_name(pid)}]"


def children(pid: int | None = None) -> list[Proc]:
    """The child processes of `pid` (default: this process); [] where they cannot be
    listed (not Linux, and psutil is not installed)."""
    pid = os.getpid() if pid is None else pid
    if LINUX:
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _proc_stat(int(entry))
                if stat is not None and stat[0] == pid:
                    out.append(Proc(int(entry), _command(int(entry), stat[2]), stat[1]))
        return out
    try:
        import psutil
    except ImportError:
        return []
    try:
        found = psutil.Process(pid).children()
    except psutil.Error:
        return []
    out = []
    for child in found:
        try:
            started = child.create_time()
        except psutil.Error:
            continue  # gone (and reaped) already
        try:
            zombie = child.status() == psutil.STATUS_ZOMBIE
            command = "?" if zombie else (" ".join(child.cmdline())[:200] or child.name())
        except psutil.Error:  # a zombie's command line cannot be read on some systems
            command = "?"
        out.append(Proc(child.pid, command, started))
    return out


def can_list_children() -> bool:
    if LINUX:
        return True
    try:
        import psutil  # noqa: F401
    except ImportError:
        return False
    return True


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children first)."""
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child.pid)
            todo.append(child.pid)
    return out


def kill(pids) -> None:
    """SIGKILL each process and everything below it, then reap the ones that are ours."""
    everyone = []
    for pid in pids:
        everyone += [pid] + descendants(pid)
    for pid in everyone:
        try:
            os.kill(pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
        except OSError:
            pass
    _reap(everyone)


def _reap(pids) -> None:
    """Collect the exit status of the killed processes that are (or become) our
    children: a killed child stays a zombie until its parent waits for it, and a
    grandchild whose parent was killed too becomes ours (as a subreaper) a moment
    later.  Waits until each is reaped or gone, at most REAP_WAIT seconds."""
    if not hasattr(os, "waitpid") or os.name == "nt":
        return
    pending = set(pids)
    deadline = time.monotonic() + REAP_WAIT
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not ours (yet), or reaped by its Popen object
                done = pid if not _exists(pid) else 0
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.002)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def new_processes(t0: float) -> list[Proc]:
    """Children of this process started since `t0` (time.perf_counter()), running or
    exited and never waited for (a zombie: its command line is gone, "?")."""
    since = _now() - (time.perf_counter() - t0) - 1.5 / _TICKS  # start times are in ticks
    return [p for p in children() if p.started >= since]


# -- the end of a run ------------------------------------------------------------------------

class Left(NamedTuple):
    threads: tuple[str, ...]     # "name (daemon)"
    processes: tuple[str, ...]   # "pid 1234: sleep 1000"


def look(m: Mark) -> Left | None:
    """What the run that started at `m` left behind; its processes are killed.  None
    when nothing is left (the common case returns before listing anything)."""
    threads = ()
    if running_threads() != m.threads:
        frames = sys._current_frames()
        threads = tuple(f"{t.name!r}" + (" (daemon)" if t.daemon else "") + _running(t, frames)
                        for t in new_threads(m.threads, frames))
    procs = ()
    if _counts.spawned != m.spawned:
        found = new_processes(m.t0)
        if found:
            kill([p.pid for p in found])
            procs = tuple(f"pid {p.pid}: {p.command}" if p.command != "?" else
                          f"pid {p.pid}, which had exited without being waited for (an "
                          "os.fork() copy ends at the gateway)" for p in found)
    if threads or procs:
        return Left(threads, procs)
    return None


def _running(thread: threading.Thread, frames: dict) -> str:
    item = _work_item(frames.get(thread.ident))
    fn = getattr(item, "fn", None)
    return f" running {job_name(fn)}" if fn is not None else ""


def report(trace, left: Left) -> None:
    """The findings for what a run left behind (see rules/sandbox.py)."""
    if left.threads:
        trace.find("sandbox.left_threads", actor="server", n=len(left.threads),
                   names=", ".join(left.threads), s="" if len(left.threads) == 1 else "s")
    if left.processes:
        one = len(left.processes) == 1
        trace.find("sandbox.left_processes", actor="server", n=len(left.processes),
                   which="; ".join(left.processes), es="" if one else "es",
                   them="it" if one else "them", they="it" if one else "they")


# -- CGI: grandchildren that left the script's process group (Linux) -------------------------

PR_SET_CHILD_SUBREAPER = 36
_reaper_lock = threading.Lock()
_reaper_users = 0
_prctl = None


def _set_subreaper(on: bool) -> bool:
    global _prctl
    if not LINUX:
        return False
    if _prctl is None:
        import ctypes

        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    if not _prctl:
        return False
    return _prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) == 0


class Subreaper:
    """While any CGI script runs, this process adopts the orphans among its descendants
    (Linux; elsewhere `active` is False and nothing changes)."""

    active = False

    def __enter__(self) -> Subreaper:
        global _reaper_users
        with _reaper_lock:
            if _reaper_users or _set_subreaper(True):
                _reaper_users += 1
                self.active = True
        return self

    def __exit__(self, *exc) -> None:
        global _reaper_users
        if not self.active:
            return
        with _reaper_lock:
            _reaper_users -= 1
            if not _reaper_users:
                _set_subreaper(False)


def _environ_of(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return None


def environ_block(env: dict) -> set[bytes]:
    """The entries of `env` as /proc/PID/environ shows them."""
    return {os.fsencode(f"{k}={v}") for k, v in env.items()}


def escaped(script_pid: int, env: dict, t0: float) -> list[Proc]:
    """Processes that came from the script run with `env` (started at `t0`,
    time.perf_counter()) and were handed to this process as orphans: its children,
    started since, whose environment holds the script's (a process keeps the one it
    was started with, and a script's is its run's own: the request's variables)."""
    want = environ_block(env)
    out = []
    for proc in new_processes(t0):
        if proc.pid == script_pid:
            continue
        block = _environ_of(proc.pid)
        # All of the run's variables (Python may add one: LC_CTYPE, PEP 538).
        if block and want <= set(block.rstrip(b"\0").split(b"\0")):
            out.append(proc)
    return out


def reap_group(pgid: int) -> None:
    """Collect the children of ours in process group `pgid` (killed with killpg(); as
    a subreaper the lab may have adopted some of them)."""
    if not hasattr(os, "waitpid") or os.name == "nt":
        return
    deadline = time.monotonic() + REAP_WAIT
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return  # none left in that group
        if pid == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)
