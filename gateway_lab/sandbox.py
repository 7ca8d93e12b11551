"""Running learner code with a time limit, and never leaving it running.

A learner's app may loop forever or block.  The lab must answer anyway (a
real server's 504/500) and keep the notebook kernel usable.  `call(fn,
timeout)` picks one of two ways to put a deadline on `fn`:

* On the main thread of a POSIX system (a notebook kernel, a script, the CLI)
  `fn` runs right there under an interval timer: SIGALRM's handler raises
  `Stopped`, which ends a Python loop at its next bytecode *and* interrupts a
  blocking call such as `time.sleep` or a socket read (the system call fails
  with EINTR and Python runs the handler, PEP 475).  This costs two system
  calls, not a thread switch.
* Everywhere else (Windows, other threads, or when the program uses SIGALRM
  itself) `fn` runs on a worker thread.  Workers are reused, so
  a run costs a hand-off, not a thread start; an idle worker exits after a
  few seconds, so nothing lingers.
* When the time is up, `Stopped` is raised *inside* the worker thread
  (CPython's PyThreadState_SetAsyncExc).  That ends a pure-Python loop at its
  next bytecode.  Code blocked in C (a long `time.sleep`, a socket read)
  cannot be interrupted: that worker is abandoned, marked, and exits as soon
  as the C call returns; it is never reused.
"""

from __future__ import annotations

import _signal  # the C functions behind `signal`, without its enum wrapping (2x cheaper)
import contextvars
import ctypes
import os
import queue
import signal
import threading
import time

IDLE_EXIT = 5.0      # seconds an idle worker waits for more work before exiting
GRACE = 0.5          # seconds we wait for Stopped to take effect


class Stopped(BaseException):
    """Raised inside learner code whose time ran out.

    A BaseException, so an app's `except Exception:` does not swallow it.
    """


def raise_in(thread_id: int, exc_type) -> None:
    """Raise `exc_type` in the thread `thread_id` at its next bytecode (None cancels)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), None if exc_type is None else ctypes.py_object(exc_type))




class Outcome:
    """What happened to one call: `value`, or `error`, or it timed out.

    `stuck` is True when the code could not be stopped (blocked in C) and its
    thread was abandoned.
    """

    __slots__ = ("value", "error", "timed_out", "stuck", "elapsed", "_done")

    def __init__(self, lock: bool = True):
        self.value = None
        self.error: BaseException | None = None
        self.timed_out = False
        self.stuck = False
        self.elapsed = 0.0
        if lock:  # released by the worker thread when the call is over
            self._done = threading.Lock()
            self._done.acquire()


class _Worker(threading.Thread):
    def __init__(self, pool: _Pool):
        super().__init__(name="gateway-lab-worker", daemon=True)
        self.pool = pool
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.abandoned = False

    def run(self) -> None:
        while True:
            try:
                try:
                    job = self.jobs.get(timeout=IDLE_EXIT)
                except queue.Empty:
                    if self.pool.retire(self):
                        return
                    continue
                fn, out = job
                start = time.perf_counter()
                try:
                    out.value = fn()
                except BaseException as error:  # noqa: BLE001 - learner code may raise anything
                    out.error = error
                out.elapsed = time.perf_counter() - start
                if self.abandoned:
                    out._done.release()
                    return
                # Back in the pool *before* the caller wakes, so a caller that
                # runs again at once reuses this thread instead of starting one.
                self.pool.idle.append(self)
                out._done.release()
            except Stopped:  # a late Stopped that arrived after the job ended
                continue


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
_HAS_ALARM = os.name == "posix" and hasattr(signal, "setitimer")
_alarm_busy = False  # a run on the main thread is in progress (runs may nest)
if _HAS_ALARM:
    _SIGALRM, _ITIMER_REAL, _SIG_DFL = int(signal.SIGALRM), signal.ITIMER_REAL, _signal.SIG_DFL


def call(fn, timeout: float) -> Outcome:
    """Run `fn()` with a deadline of `timeout` seconds; see the module docstring."""
    if _HAS_ALARM and not _alarm_busy and threading.current_thread() is _MAIN:
        handler = _signal.getsignal(_SIGALRM)
        # Only when the program does not use SIGALRM or an interval timer itself.
        if handler in (_SIG_DFL, _on_alarm) and _signal.getitimer(_ITIMER_REAL)[0] == 0:
            return _call_here(fn, timeout, handler is _on_alarm)
    return _call_on_worker(fn, timeout)


def _on_alarm(signum, frame):
    if _alarm_busy:
        raise Stopped()
    # No run of ours is active: behave as if we had never been installed.
    _signal.signal(_SIGALRM, _SIG_DFL)
    os.kill(os.getpid(), _SIGALRM)


def _call_here(fn, timeout: float, installed: bool) -> Outcome:
    global _alarm_busy
    out = Outcome(lock=False)
    _alarm_busy = True
    if not installed:
        # The handler stays installed between runs (one system call less per
        # run); outside a run it hands SIGALRM to the default action.
        _signal.signal(_SIGALRM, _on_alarm)
    # After the first alarm, one every 50 ms: code that swallows Stopped with a
    # bare `except:` is hit again until it lets go.
    _signal.setitimer(_ITIMER_REAL, timeout, 0.05)
    start = time.perf_counter()
    try:
        out.value = fn()
    except BaseException as error:  # noqa: BLE001 - learner code may raise anything
        out.error = error
    finally:
        while True:  # disarm; an alarm landing right here must not escape
            try:
                _signal.setitimer(_ITIMER_REAL, 0)
                break
            except Stopped:
                out.error = Stopped()
        _alarm_busy = False
    out.elapsed = time.perf_counter() - start
    if isinstance(out.error, Stopped):
        out.timed_out, out.error = True, None
    return out


def _call_on_worker(fn, timeout: float) -> Outcome:
    """Run `fn()` on a worker thread; give up on it after `timeout` seconds."""
    out = Outcome()
    worker = _pool.get()
    # The caller's context variables follow the call onto the worker, as with
    # asyncio.to_thread (the concurrency lab records phases through one).
    context = contextvars.copy_context()
    worker.jobs.put((lambda: context.run(fn), out))
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
        raise_in(thread.ident, None)  # clear one that may still be pending


def stop(worker: threading.Thread, out: Outcome) -> None:
    """Stop the call running on `worker`; abandon the worker if it cannot be stopped."""
    if not stop_thread(worker, lambda seconds: out._done.acquire(timeout=seconds)):
        out.stuck = True
        if isinstance(worker, _Worker):
            worker.abandoned = True


def lab_threads() -> list[threading.Thread]:
    """Threads of the lab that are busy running learner code right now."""
    idle = set(_pool.idle)
    return [t for t in threading.enumerate()
            if t.name.startswith("gateway-lab") and t.is_alive() and t not in idle
            and not getattr(t, "lab_idle", False)]
