"""Running learner code with a time limit, and never leaving it running.

A learner's app may loop forever or block.  The lab must answer anyway (a
real server's 504/500) and keep the notebook kernel usable.  `call(fn,
timeout)` picks one of two ways to put a deadline on `fn`:

* On the main thread of a POSIX system (a notebook kernel, a script, the CLI)
  `fn` runs right there.  One watchdog thread sleeps until the run's
  deadline; if the run is still going then, the watchdog sends SIGALRM to
  the main thread, and the handler raises `Stopped`.  That ends a Python loop
  at its next bytecode *and* interrupts a blocking call such as `time.sleep`
  or a socket read (the system call fails with EINTR and Python runs the
  handler, PEP 475).  Starting a run costs a few attribute writes, not a
  system call (an interval timer per run cost two), which matters when an
  exercise check sends thousands of requests.
* Everywhere else (Windows, other threads, or when the program uses SIGALRM
  itself) `fn` runs on a worker thread.  Workers are reused, so
  a run costs a hand-off, not a thread start; an idle worker exits after a
  few seconds, so nothing lingers.
* When the time is up, `Stopped` is raised *inside* the worker thread
  (CPython's PyThreadState_SetAsyncExc).  That ends a pure-Python loop at its
  next bytecode.  Code blocked in C (a long `time.sleep`, a socket read)
  cannot be interrupted: that worker is abandoned, marked, and exits as soon
  as the C call returns; it is never reused.
* In a browser (Pyodide: no threads, no signals) `fn` runs right there, and the
  interpreter itself watches the clock: `sys.monitoring` (Python 3.12+; else
  `sys.settrace`) calls the lab at every function start and every backward jump
  of a loop in the learner's own code, and past the deadline the lab raises
  `Stopped` there.  With sys.monitoring it is raised again at each later step of
  that code, so a bare `except:` does not keep it alive; installed code (asyncio,
  the lab) is never interrupted, so its clean-up runs.  A blocking `time.sleep`
  cannot be cut short.  (See the end of this file; the choice is made once, at
  import.)

Code that catches every exception (`while True: try: ... except: pass`)
swallows `Stopped` too.  The gateways look for such code before the run and
run an app that has it in a process of its own, killed at the deadline
(stoppable.py, isolate.py).  For code they cannot see (reached dynamically)
the main thread escalates: when a Stopped has been swallowed and the run is
still going at the next alarm, the lab sets a trace function (a C-level one,
PyEval_SetTrace, for the rest of that run only) that raises Stopped again at
every line of the app's own code, the lines of its `except:` included: a
handler can catch one exception, not every line.  If the app blocks SIGALRM
or replaces its handler, the watchdog raises Stopped asynchronously instead.
What remains, said plainly:

* before the deadline, Interrupt (Ctrl-C, a notebook's stop button) raises
  KeyboardInterrupt, which such code catches like any other exception: control
  comes back at the deadline, when the lab stops it;
* code that blocks or replaces SIGALRM *and* catches everything, reached
  only dynamically: nothing in the process can stop it (Interrupt raises
  KeyboardInterrupt, which it catches too); restart the kernel;
* a loop inside C code (`sum(itertools.count())`): no Python instruction
  runs, so nothing can be raised;
* on a worker thread (not the main thread) there is no escalation: a thread
  cannot be traced from outside before Python 3.12; the thread is abandoned,
  and the finding says whether it is blocked (a sleep, a read) or keeps running
  on the CPU.

`isolate=True` (run_wsgi, run_asgi) runs any app in a child process killed
at the deadline: the cure for all of these.
"""

from __future__ import annotations

import _signal  # the C functions behind `signal`, without its enum wrapping (2x cheaper)
import contextvars
import ctypes
import os
import queue
import signal
import sys
import threading
import time

from . import leftovers, process_state
from .browser import IN_BROWSER
from .leftovers import _counts, running_threads
from .origin import is_library as _is_library

_BLOCKABLE = hasattr(signal, "pthread_sigmask")
IDLE_EXIT = 5.0      # seconds an idle worker waits for more work before exiting
GRACE = 0.5          # seconds we wait for Stopped to take effect


class Stopped(BaseException):
    """Raised inside learner code whose time ran out.

    A BaseException, so an app's `except Exception:` does not swallow it.
    """


def raise_in(thread_id: int, exc_type) -> None:
    """Raise `exc_type` in the thread `thread_id` at its next bytecode (None cancels:
    use cancel_pending, which also undoes what cancelling leaves behind)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), None if exc_type is None else ctypes.py_object(exc_type))


class _Flush(BaseException):
    """Raised in our own thread and caught at once, by cancel_pending."""


def _noop() -> None:
    """Calling a Python function is a point where a pending exception is raised."""


def cancel_pending(thread_id: int) -> None:
    """Cancel an exception raise_in() left pending in `thread_id`.

    Cancelling (PyThreadState_SetAsyncExc with NULL) leaves CPython's "an
    asynchronous exception is pending" flag set for the whole interpreter (3.11,
    3.12): every thread then takes the slow path at every call and loop, and on
    3.11 the first call after a trace function is set (a debugger, coverage)
    loops forever.  Raising one in this thread and catching it at once clears
    the flag the ordinary way.
    """
    raise_in(thread_id, None)
    try:
        raise_in(_get_ident(), _Flush)
        _noop()
    except _Flush:
        pass


BLOCKED_IN_C = "(it is blocked inside a C call)"
SPINNING = ("(it keeps running on the CPU: code that catches the stop, such as a bare "
            "`except:` or `except BaseException`, or a long computation inside C; a thread "
            "cannot be killed, so it runs on)")


class Outcome:
    """What happened to one call: `value`, or `error`, or it timed out.

    `stuck` is True when the code could not be stopped and its thread was
    abandoned; `why` says what it was doing (BLOCKED_IN_C or SPINNING).
    """

    # How an outcome starts out; a call sets only what it learns.
    value = None
    error: BaseException | None = None
    timed_out = False
    stuck = False
    why = BLOCKED_IN_C
    left = None      # what the run left behind: a leftovers.Left, or None
    changed = ()     # what it changed of the process and the lab put back (process_state)
    started = 0.0    # when it started (time.perf_counter())
    _done: threading.Lock  # a call on a worker: released when it is over


class _Worker(threading.Thread):
    def __init__(self, pool: _Pool):
        super().__init__(name="gateway-lab-worker", daemon=True)
        self.pool = pool
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.abandoned = False

    def run(self) -> None:
        if _BLOCKABLE:
            # Ctrl-C is for the main thread, where Python handles signals: blocked here,
            # the OS cannot hand it to this thread instead (tests/test_concurrency.py, Ctrl-C).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        # What this thread is traced and profiled with when it starts (threading.settrace:
        # coverage, a debugger): a job that changes either leaves it as it was.
        tracer, profiler = sys.gettrace(), sys.getprofile()
        while True:
            try:
                try:
                    job = self.jobs.get(timeout=IDLE_EXIT)
                except queue.Empty:
                    if self.pool.retire(self):
                        return
                    continue
                fn, out = job
                try:
                    out.value = fn()
                except BaseException as error:  # noqa: BLE001 - learner code may raise anything
                    out.error = error
                if _forked_at >= out.started:  # the app called os.fork(): this is the copy
                    os._exit(0)
                if sys.gettrace() is not tracer or sys.getprofile() is not profiler:
                    out.changed = _untrace_worker(tracer, profiler)
                if self.abandoned:
                    out._done.release()
                    return
                # Back in the pool *before* the caller wakes, so a caller that
                # runs again at once reuses this thread instead of starting one.
                self.pool.idle.append(self)
                out._done.release()
            except Stopped:  # a late Stopped that arrived after the job ended
                continue


def _untrace_worker(tracer, profiler) -> tuple:
    """The job set a trace or profile function on its worker thread (per thread, so
    process_state, which looks from the caller's thread, cannot see it): the next
    job on this thread must not run under it."""
    changed = []
    for name, get, put, was in (
            ("the trace function (sys.settrace)", sys.gettrace, sys.settrace, tracer),
            ("the profile function (sys.setprofile)", sys.getprofile, sys.setprofile, profiler)):
        now = get()
        if now is not was and not process_state.is_debugger(now):
            put(was)
            changed.append(process_state.Change(name, process_state.left_as(now)))
    return tuple(changed)


class _Pool:
    def __init__(self):
        self.idle: list[_Worker] = []

    def get(self) -> _Worker:
        while self.idle:
            try:
                worker = self.idle.pop()
            except IndexError:
                break
            if not worker.abandoned:
                return worker
        worker = _Worker(self)
        worker.start()
        return worker

    def retire(self, worker: _Worker) -> bool:
        try:
            self.idle.remove(worker)
            return True
        except ValueError:  # a caller took it a moment ago: there is work coming
            return False


_pool = _Pool()


_MAIN = threading.main_thread()
_MAIN_IDENT = _MAIN.ident
_HAS_ALARM = os.name == "posix" and hasattr(signal, "pthread_kill")
if _HAS_ALARM:
    _SIGALRM, _SIG_DFL = int(signal.SIGALRM), _signal.SIG_DFL
REPEAT = 0.05        # s; after the first alarm, one more this often (see _Watchdog)
_clock = time.perf_counter
_get_ident = threading.get_ident


class _MainRun:
    """The run on the main thread, as the watchdog and the SIGALRM handler see it.

    One instance, `_run`; its fields are written twice a run, and writing an
    instance's slot is cheaper than writing a class attribute."""

    __slots__ = ("busy", "deadline", "sent", "taken", "stopped", "escalated", "traced",
                 "previous")

    def __init__(self):
        self.busy = False      # a run is in progress (runs may nest: an inner one goes to a worker)
        self.deadline = 0.0    # when its time is up (time.perf_counter()); new for every run
        self.sent = 0          # alarms the watchdog has sent ...
        self.taken = 0         # ... and alarms our handler has taken; the rest are someone else's
        self.stopped = -1.0    # the deadline of the last run Stopped was raised in
        self.escalated = False  # the escalation (see the module docstring) is on
        self.traced = False    # ... with the trace function below
        self.previous = None   # the trace function it replaced (a debugger's), put back after


_run = _MainRun()


class _Watchdog(threading.Thread):
    """Sends SIGALRM to the main thread when its run is past the deadline.

    It sleeps until the deadline of the run in progress (runs usually end long
    before it, and the next run's deadline is later still), so it wakes about
    once per timeout, not once per run; a run whose deadline comes sooner than
    the watchdog's wake-up wakes it early.  After the first alarm it sends one
    every REPEAT seconds until the run ends: code that swallows Stopped with a
    bare `except:` is hit again until it lets go.  It exits after IDLE_EXIT
    seconds without a run.
    """

    lock = threading.Lock()
    running = False
    wake_at = 0.0    # when it will look next (time.perf_counter())
    poke = threading.Event()  # set to make it look now
    lab_idle = True  # it runs no learner code: sandbox.lab_threads() leaves it out

    def __init__(self):
        super().__init__(name="gateway-lab-watchdog", daemon=True)

    @classmethod
    def ensure(cls) -> None:
        with cls.lock:
            if not cls.running:
                cls.running = True
                try:
                    cls().start()
                except BaseException:
                    # No thread (a browser, a process out of threads): say no watchdog
                    # runs, or every later run would count on one that never started.
                    cls.running = False
                    raise

    def run(self) -> None:
        seen = -1.0  # _run.deadline at the last look: another one means another run
        while True:
            _Watchdog.poke.clear()  # before the look: a poke from now on is not lost
            deadline, now = _run.deadline, _clock()
            if _run.busy and now >= _run.deadline:
                if _run.sent - _run.taken >= 2 and now >= _run.deadline + 2 * REPEAT:
                    # Our alarms are not being taken: the app blocked SIGALRM or put a
                    # handler of its own in place.  An asynchronous exception needs neither
                    # (call() takes one still pending when the run ends: see _untrace).
                    with _forcing:
                        if _run.busy and _run.deadline == deadline:
                            _run.escalated = True
                            raise_in(_MAIN_IDENT, Stopped)
                _run.sent += 1
                signal.pthread_kill(_MAIN_IDENT, _SIGALRM)
                wait = REPEAT
            elif _run.busy:
                wait = _run.deadline - now
            elif deadline == seen and self._retire():
                return
            else:
                wait = IDLE_EXIT
            seen = deadline
            _Watchdog.wake_at = now + wait
            # A run that began during the look may have compared its deadline with
            # the wake-up time before it was set: look again rather than oversleep.
            if _run.deadline == deadline:
                _Watchdog.poke.wait(wait)

    def _retire(self) -> bool:
        """No run for IDLE_EXIT seconds: exit, unless one is starting right now."""
        with _Watchdog.lock:
            # Say we are gone *before* the last look: a run starting now
            # either sees that and starts a new watchdog, or is seen here.
            _Watchdog.running = False
            if not _run.busy:
                return True
            _Watchdog.running = True
            return False


_forked_at = -1.0  # when this process was made by os.fork() (time.perf_counter()), if it was


def _after_fork() -> None:
    # A forked child has only the thread that forked (its new main thread; threading's
    # own fork handler, registered before this one, has said so): no watchdog, no workers.
    # A run in progress learns from `_forked_at` that it is now the copy (call()).
    global _MAIN, _MAIN_IDENT, _forked_at
    _forked_at = _clock()
    _MAIN = threading.main_thread()
    _MAIN_IDENT = _MAIN.ident
    _Watchdog.running = False
    _Watchdog.lock = threading.Lock()
    _Watchdog.poke = threading.Event()
    _run.busy = False
    _run.escalated = _run.traced = False
    _pool.idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
leftovers.install()  # counts process starts, for call() (once per process)


def call(fn, timeout: float, *args, watch: bool = False) -> Outcome:
    """Run `fn(*args)` with a deadline of `timeout` seconds; see the module docstring.

    On the main thread `outcome.left` says what the run left behind (threads,
    processes: leftovers.py), and with `watch` (a request, not an import)
    `outcome.changed` what it changed of the process and the lab put back
    (process_state.py).  Runs on other threads are not looked at: they share
    the process with other runs going on at the same time, so what one of them
    started cannot be told from what another did."""
    if not _HAS_ALARM or _run.busy or _get_ident() != _MAIN_IDENT:
        return _call_elsewhere(fn, timeout, args, watch)
    handler = _signal.getsignal(_SIGALRM)
    if handler is not _on_alarm:
        if handler != _SIG_DFL:  # the program uses SIGALRM itself: leave it alone
            return _call_elsewhere(fn, timeout, args, watch)
        # Installed once and left in place (a system call less per run); a
        # SIGALRM that is not the watchdog's still gets the default action.
        _signal.signal(_SIGALRM, _on_alarm)
    # What the run could leave behind, noted before it (leftovers.py): the threads
    # running, and the number of process starts (os.fork() among them) the audit hook
    # saw; and what it could change of the process (process_state.py).
    before = process_state.mark() if watch else None
    threads, spawned = running_threads(), _counts.spawned
    # Here, on the main thread: tell the watchdog when this run's time is up.
    out = Outcome()
    _run.deadline = deadline = _clock() + timeout
    _run.busy = True
    if not _Watchdog.running:
        try:
            _Watchdog.ensure()
        except BaseException:
            _run.busy = False  # no run after all: the next call must not wait for this one
            raise
    elif deadline < _Watchdog.wake_at:
        _Watchdog.poke.set()  # it sleeps past this run's deadline: wake it
    try:
        out.value = fn(*args)
    except Stopped:
        out.timed_out = True
    except BaseException as error:  # noqa: BLE001 - learner code may raise anything
        out.error = error
    finally:
        _run.busy = False
        if _run.escalated:
            try:
                _untrace()
            except Stopped:  # one the app's last instruction left pending: it is spent now
                out.timed_out = True
                _untrace()
    if before is not None:  # after _untrace(): the lab's own trace function is gone
        out.changed = process_state.look(before)
    if running_threads() != threads or _counts.spawned != spawned:
        out.started = deadline - timeout
        return _after(out, threads, spawned)
    return out


def _call_elsewhere(fn, timeout: float, args: tuple, watch: bool) -> Outcome:
    """call() on a worker thread.  From the main thread, with no run of its own going
    on (Windows; a program with its own SIGALRM handler), one run happens at a time,
    so what it changed of the process is looked at from here."""
    if not watch or _run.busy or _get_ident() != _MAIN_IDENT:
        return _call_on_worker(fn, timeout, *args)
    before = process_state.mark()
    out = _call_on_worker(fn, timeout, *args)
    out.changed = out.changed + process_state.look(before)
    return out


def _after(out: Outcome, threads: tuple, spawned: int) -> Outcome:
    """The end of a run whose counts changed: it may have left something behind."""
    if _forked_at >= out.started:
        # The app called os.fork() and this is the copy: it must not return into the
        # caller's code (a notebook cell would go on in both processes, and print its
        # output twice).  os._exit: no cleanup, no buffers flushed twice.
        os._exit(0)
    out.left = leftovers.look(leftovers.Mark(threads, spawned, out.started))
    return out


def _on_alarm(signum, frame):
    if _run.taken < _run.sent:  # the watchdog sent it (two sent at once arrive as one)
        _run.taken = _run.sent
        if _run.busy and _clock() >= _run.deadline:
            if _run.stopped == _run.deadline:  # this run swallowed a Stopped already
                _escalate(frame)
            _run.stopped = _run.deadline
            raise Stopped()
        return  # it arrived after its run had ended: nothing to stop
    # Not ours (the program's own alarm): do what SIGALRM does without us.
    _signal.signal(_SIGALRM, _SIG_DFL)
    os.kill(os.getpid(), _SIGALRM)


# -- the escalation: code that swallowed Stopped, on the main thread ---------------------

class _Tripwire:
    """The escalation's trace function.  CPython calls a C-level trace function at
    every line of every frame of this thread (PyEval_SetTrace); ours is
    PyObject_Not(tripwire), which calls `bool(tripwire)`: True lets the line run,
    Stopped raised here is raised *at that line* of the app.  Unlike a trace
    function set with sys.settrace, which Python switches off the first time it
    raises, a C-level one stays on, so nested handlers that swallow are passed one
    after the other.  The lab's own frames and installed libraries are let through,
    so Stopped unwinds the app and comes back to call() like any other."""

    def __bool__(self) -> bool:
        if _run.busy and not _is_library(sys._getframe(1).f_code.co_filename):
            raise Stopped()
        return True


def _c_tracer():
    """(PyEval_SetTrace, PyObject_Not's address), or None where ctypes cannot reach
    them (not CPython).  PyObject_Not takes one argument of the four a trace function
    gets; the C calling conventions CPython runs on ignore the rest."""
    try:
        api = ctypes.pythonapi
        set_trace = api.PyEval_SetTrace
        set_trace.argtypes = [ctypes.c_void_p, ctypes.py_object]
        set_trace.restype = None
        return set_trace, ctypes.cast(api.PyObject_Not, ctypes.c_void_p).value
    except (AttributeError, OSError, ValueError):
        return None


_tripwire = _Tripwire()
def _escalate(frame) -> None:
    """From now until the run ends, every line of the app's own code raises Stopped
    (see the module docstring and _Tripwire)."""
    _run.escalated = True
    if _run.traced:
        return
    tracer = _c_tracer()
    if tracer is None:
        return
    _run.previous = sys.gettrace()  # a debugger's, put back when the run ends
    _run.traced = True
    tracer[0](tracer[1], _tripwire)


_forcing = threading.Lock()  # held by the watchdog while it raises Stopped asynchronously


def _untrace() -> None:
    """The run is over (busy is False): the escalation ends, and nothing of it may
    outlive the run.  A Stopped the watchdog left pending is raised here, where call()
    catches it, not in the caller's code; call() then calls this again."""
    if _run.traced:
        sys.settrace(_run.previous)  # also removes the C-level trace function
        _run.traced = False
        _run.previous = None
    with _forcing:  # the watchdog raises only holding it and seeing busy: no more now
        pass
    _noop()
    _run.escalated = False


def _call_on_worker(fn, timeout: float, *args) -> Outcome:
    """Run `fn(*args)` on a worker thread; give up on it after `timeout` seconds."""
    out = Outcome()
    out.started = _clock()
    out._done = threading.Lock()
    out._done.acquire()  # released by the worker when the call is over
    worker = _pool.get()
    # The caller's context variables follow the call onto the worker, as with
    # asyncio.to_thread (the concurrency lab records phases through one).
    context = contextvars.copy_context()
    worker.jobs.put((lambda: context.run(fn, *args), out))
    if out._done.acquire(timeout=timeout):
        if isinstance(out.error, Stopped):  # a stray Stopped that hit the code late
            out.timed_out, out.error = True, None
        return out
    out.timed_out = True
    stop(worker, out)
    out.error = None
    return out


def stop_thread(thread: threading.Thread, moved, grace: float = GRACE) -> bool:
    """Raise Stopped in `thread` until `moved(seconds)` (which waits up to that long
    for a sign of life) says it let go; False if it did not within `grace`: it is
    blocked inside a C call, out of reach."""
    deadline = time.perf_counter() + grace
    try:
        while time.perf_counter() < deadline:
            raise_in(thread.ident, Stopped)
            if moved(0.05):
                return True
        return False
    finally:
        cancel_pending(thread.ident)  # one that may still be pending


def stop(worker: threading.Thread, out: Outcome) -> None:
    """Stop the call running on `worker`; abandon the worker if it cannot be stopped."""
    if not stop_thread(worker, lambda seconds: out._done.acquire(timeout=seconds)):
        out.stuck = True
        if spinning(worker):
            out.why = SPINNING
        if isinstance(worker, _Worker):
            worker.abandoned = True


def spinning(thread: threading.Thread, wait: float = 0.1) -> bool:
    """True when `thread` keeps the CPU busy (it spins), False when it waits in a
    call that blocks (a sleep, a read, a lock): its CPU time tells (POSIX), else
    whether its current instruction moves."""
    clock = _cpu_clock(thread)
    if clock is not None:
        used = time.clock_gettime(clock)
        time.sleep(wait)
        try:
            # A thread blocked in a call uses next to no CPU; a spinning one takes its
            # share even on a busy machine (a twentieth of the wait is a low bar).
            return time.clock_gettime(clock) - used > wait / 20
        except OSError:  # it has ended meanwhile
            return False

    def where():
        frame = sys._current_frames().get(thread.ident)
        return None if frame is None else (frame, frame.f_lasti)

    first = where()
    for _ in range(5):
        time.sleep(wait / 5)
        now = where()
        if now is None:
            return False
        if now != first:
            return True
    return False


def _cpu_clock(thread: threading.Thread):
    try:
        return time.pthread_getcpuclockid(thread.ident)
    except (AttributeError, OSError, OverflowError, TypeError):
        return None


def lab_threads() -> list[threading.Thread]:
    """Threads of the lab that are busy running learner code right now."""
    idle = set(_pool.idle)
    return [t for t in threading.enumerate()
            if t.name.startswith("gateway-lab") and t.is_alive() and t not in idle
            and not getattr(t, "lab_idle", False)]


# -- in a browser: the interpreter watches the clock ----------------------------------

_deadlines: list[float] = []   # the runs in progress, innermost last (each its own or
                               # the outer one's, whichever comes first)


def _past_deadline(*_args):
    """Called by the interpreter at each function start and loop jump while a run is on."""
    if _deadlines and _clock() >= _deadlines[-1]:
        raise Stopped()


if hasattr(sys, "monitoring"):
    _EVENTS = 0

    def _on_event(code, *_args):
        """sys.monitoring's callback: PY_START (code, offset), JUMP (code, from, to)."""
        if code is _HOME or _is_library(code.co_filename):
            # Only the learner's own code is stopped.  Raised in installed code (asyncio's
            # run_forever cleanup, the lab's finally: blocks) the stop would cut that
            # code's own clean-up short: a loop left "running" broke every later run.
            return sys.monitoring.DISABLE
        if _deadlines and _clock() >= _deadlines[-1]:
            raise Stopped()

    def _watch(on: bool) -> None:
        global _EVENTS, _TOOL
        monitoring = sys.monitoring
        if not _EVENTS:
            # A tool id no one else holds (0-5; debuggers and coverage take the low ones).
            _TOOL = next(i for i in (4, 3, 2, 5) if monitoring.get_tool(i) is None)
            monitoring.use_tool_id(_TOOL, "gateway-lab deadline")
            _EVENTS = monitoring.events.PY_START | monitoring.events.JUMP
            for event in (monitoring.events.PY_START, monitoring.events.JUMP):
                monitoring.register_callback(_TOOL, event, _on_event)
        monitoring.set_events(_TOOL, _EVENTS if on else 0)
else:  # Python 3.10, 3.11: a trace function (a raise from it ends the tracing, see above)
    def _local(frame, event, arg):
        _past_deadline()
        return _local

    def _global(frame, event, arg):
        if _is_library(frame.f_code.co_filename):
            return None  # only the learner's own code is stopped (see _on_event)
        _past_deadline()
        return _local

    _before = [None]  # a tracer that was there before the run (a debugger): put back after

    def _watch(on: bool) -> None:
        if on and sys.gettrace() is not _global:
            _before[0] = sys.gettrace()
        sys.settrace(_global if on else _before[0])


# Pyodide's time.sleep is Python code that awaits asyncio.sleep on the kernel's loop
# (stack switching, JSPI); the C function is its __wrapped__.  A Stopped raised inside that
# machinery leaves it stuck (the next sleep never returns), so during a run time.sleep is
# the plain one, as on a desktop: it blocks, and the deadline falls on the code after it.
_PLAIN_SLEEP = getattr(time.sleep, "__wrapped__", None) if IN_BROWSER else None


def _call_inline(fn, timeout: float, *args, watch: bool = False) -> Outcome:
    """Run `fn(*args)` on this thread, stopped by the interpreter past `timeout` seconds."""
    out = Outcome()
    before = process_state.mark() if watch and not _deadlines else None
    deadline = _clock() + timeout
    outer = _deadlines[-1] if _deadlines else None
    _deadlines.append(deadline if outer is None else min(deadline, outer))
    sleep = time.sleep
    if outer is None:
        if _PLAIN_SLEEP is not None:
            time.sleep = _PLAIN_SLEEP
        _watch(True)
    try:
        out.value = fn(*args)
    except Stopped:
        if _clock() < deadline:
            raise  # an outer run's time is up, not this one's: it is theirs to catch
        out.timed_out = True
    except BaseException as error:  # noqa: BLE001 - learner code may raise anything
        out.error = error
    finally:
        _deadlines.pop()
        if outer is None:
            _watch(False)
            time.sleep = sleep
        elif not hasattr(sys, "monitoring"):
            _watch(True)  # a raise may have ended the tracing; the outer run still needs it
    if before is not None:  # after _watch(False): the lab's own tracing is over
        out.changed = process_state.look(before)
    return out


_HOME = _call_inline.__code__

if IN_BROWSER:
    call = _call_inline
    _call_on_worker = _call_inline
