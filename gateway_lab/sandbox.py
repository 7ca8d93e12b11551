"""Running learner code with a time limit, and never leaving it running.

A learner's app may loop forever or block.  The lab must answer anyway (a
real server's 504/500) and keep the notebook kernel usable, so learner code
never runs on the caller's thread:

* `call(fn, timeout)` runs `fn` on a worker thread.  Workers are reused, so
  a run costs a hand-off, not a thread start; an idle worker exits after a
  few seconds, so nothing lingers.
* When the time is up, `Stopped` is raised *inside* the worker thread
  (CPython's PyThreadState_SetAsyncExc).  That ends a pure-Python loop at its
  next bytecode.  Code blocked in C (a long `time.sleep`, a socket read)
  cannot be interrupted: that worker is abandoned, marked, and exits as soon
  as the C call returns; it is never reused.
"""

from __future__ import annotations

import ctypes
import queue
import threading
import time

IDLE_EXIT = 5.0      # seconds an idle worker waits for more work before exiting
GRACE = 0.5          # seconds we wait for Stopped to take effect


class Stopped(BaseException):
    """Raised inside learner code whose time ran out.

    A BaseException, so an app's `except Exception:` does not swallow it.
    """


def _raise_in(thread_id: int, exc_type) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), None if exc_type is None else ctypes.py_object(exc_type))


class Outcome:
    """What happened to one call: `value`, or `error`, or it timed out.

    `stuck` is True when the code could not be stopped (blocked in C) and its
    thread was abandoned.
    """

    __slots__ = ("value", "error", "timed_out", "stuck", "elapsed", "_done")

    def __init__(self):
        self.value = None
        self.error: BaseException | None = None
        self.timed_out = False
        self.stuck = False
        self.elapsed = 0.0
        self._done = threading.Lock()
        self._done.acquire()


class _Worker(threading.Thread):
    def __init__(self, pool: "_Pool"):
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


def call(fn, timeout: float) -> Outcome:
    """Run `fn()` on a worker thread; give up on it after `timeout` seconds."""
    out = Outcome()
    worker = _pool.get()
    worker.jobs.put((fn, out))
    if out._done.acquire(timeout=timeout):
        return out
    out.timed_out = True
    stop(worker, out)
    return out


def stop(worker: threading.Thread, out: Outcome) -> None:
    """Raise Stopped in `worker` until it gives up (or GRACE runs out)."""
    deadline = time.perf_counter() + GRACE
    while time.perf_counter() < deadline:
        _raise_in(worker.ident, Stopped)
        if out._done.acquire(timeout=0.05):
            _raise_in(worker.ident, None)  # clear one that may still be pending
            return
    _raise_in(worker.ident, None)
    out.stuck = True
    if isinstance(worker, _Worker):
        worker.abandoned = True


def lab_threads() -> list[threading.Thread]:
    """Threads of the lab that are busy running learner code right now."""
    idle = set(_pool.idle)
    return [t for t in threading.enumerate()
            if t.name.startswith("gateway-lab") and t.is_alive() and t not in idle]
