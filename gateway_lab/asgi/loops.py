"""Running an ASGI app from code that is not async: a script, a test, a notebook cell.

A coroutine needs an event loop to run.  `run_sync(make_coro, timeout)` gives it
one of the lab's own, on the calling thread, under the sandbox's deadline
(`sandbox.call`), and cleans up after it:

* From plain code on the main thread (a script, a test, the CLI) the lab keeps
  one loop for the thread and runs each app on it; making a loop costs more
  than a whole hello-world run.
* From a notebook cell, the kernel's own loop is *running* on this thread: it
  called the cell and waits for it to return.  asyncio allows one running loop
  per thread, which is why `asyncio.run()` fails in a cell.  The lab sets the
  kernel's loop aside for the duration of the run (asyncio's
  `_set_running_loop`, the hook asyncio provides for loop implementations),
  runs its own loop to completion, and puts the kernel's loop back.  Nothing
  is patched, and nothing of the kernel's loop runs meanwhile: it was waiting
  for the cell anyway.  (nest_asyncio instead patches asyncio so that the
  kernel's own loop can be re-entered; lesson 07 compares the two.)
* On any other thread, the sandbox runs the app on one of its worker threads,
  which has no loop of its own: the same code path, with a loop made for it.
* In a browser (Pyodide) the kernel's loop is the browser's own: it cannot be
  run from a cell, and there are no threads and no sockets.  The lab's loop there
  has no selector: it runs what is ready and sleeps until its next timer, so an
  app that awaits a timer works; an app that waits for something only the
  kernel's loop could deliver gets a clear error pointing to `await
  gl.run_asgi_async(...)` (see gateway_lab/browser.py).

Whatever the app does to the loop, the loop is the server's: an app that calls
`loop.stop()` or `loop.close()` gets an error (a 500, and a finding); tasks it leaves running are
cancelled (they would otherwise wake up in the next, unrelated run); a run
stopped mid-step (a blocked loop past its deadline) leaves a loop that is not
to be trusted again, so it is closed.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .. import leftovers, sandbox
from ..browser import IN_BROWSER, BrowserLimit
from ..trace import Trace
from .connection import GRACE

_MAIN_IDENT = threading.main_thread().ident
# asyncio's hooks for loop implementations (exported by asyncio.events).
_get_running_loop = asyncio.events._get_running_loop
_set_running_loop = asyncio.events._set_running_loop
LOOP_SPEC = "ASGI spec §Applications"


def _quiet(loop, context) -> None:
    """Exception handler for the lab's loops: a stopped app is not news."""
    if isinstance(context.get("exception"), (sandbox.Stopped, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)


class _LabLoop(asyncio.SelectorEventLoop):
    """An event loop that can hand a new task's first step to the lab.

    A new Task asks its loop to `call_soon` its first step.  While `held` is a
    list, this loop keeps that step instead of queueing it, and the lab runs it
    at once, right there (see OwnLoop.run): an app whose awaits all complete at
    once is done before the loop ever has to turn.  Everything else is the
    plain SelectorEventLoop (a subclass is asyncio's own way to change a loop)."""

    held: list | None = None
    stepping = False    # the lab is taking a first step: the loop runs, as far as anyone asks
    stopped_by_app = 0  # calls of stop() that were not the lab's

    def call_soon(self, callback, *args, context=None):
        if self.held is not None and not args:
            self.held.append((callback, context))
            return None
        return super().call_soon(callback, *args, context=context)

    def is_running(self) -> bool:
        # During a first step the loop is running, as it would be in a server: an app
        # that tries loop.close() or loop.run_until_complete() is told so.
        return self.stepping or super().is_running()

    def stop(self) -> None:
        """An app's loop.stop(): the server's loop is not the app's to stop.  The app gets
        an error (the client a 500, like any error of the app), and the run is noted."""
        self.stopped_by_app += 1
        raise RuntimeError("loop.stop(): the event loop belongs to the server, not to the "
                           "app; an ASGI app returns when it is done")

    async def shutdown_default_executor(self, *args, **kwargs) -> None:
        """Ended, the default executor would stay ended for every later run on this loop
        (run_in_executor and asyncio.to_thread raise 'Executor shutdown has been
        called'): like stop(), it is the server's to end, at its own shutdown."""
        raise RuntimeError("loop.shutdown_default_executor(): the event loop and its "
                           "executor belong to the server, not to the app")

    def stop_for_the_lab(self) -> None:
        super().stop()


class _LabExecutor(ThreadPoolExecutor):
    """The lab's loop's default executor (run_in_executor(None, ...), asyncio.to_thread),
    which keeps the jobs each run gives it.  Its threads outlive every run, idle, and
    take the next run's jobs: a job still running when the app has returned is found
    here, by its future, even on a thread that was there before the run (leftovers.py
    only looks at new threads, and these it leaves to this list)."""

    def __init__(self):
        super().__init__(thread_name_prefix="asyncio")  # the names asyncio gives its own
        self.jobs: list = []

    def submit(self, fn, /, *args, **kwargs):
        future = super().submit(fn, *args, **kwargs)
        self.jobs.append((future, fn))
        leftovers.accounted.update(self._threads)
        return future

    def left(self) -> tuple[str, ...]:
        """The jobs of the run that are still running (or waiting); the list starts over."""
        jobs, self.jobs = self.jobs, []
        return tuple(f"an executor thread still running {leftovers.job_name(fn)}, given to "
                     "it by run_in_executor or asyncio.to_thread" for future, fn in jobs
                     if not future.done())


class _NothingToWaitFor(selectors.BaseSelector):
    """The browser's stand-in for a selector: there are no sockets to watch, so
    waiting means sleeping until the next timer (the interpreter's deadline, in
    sandbox.py, still stops a run that sleeps too long: the sleep is cut in slices)."""

    def register(self, fileobj, events, data=None):
        raise OSError("the browser has no sockets to watch")

    def unregister(self, fileobj):
        raise KeyError(fileobj)

    def select(self, timeout=None):
        if timeout is None:  # nothing ready and no timer: only the kernel's loop could help
            raise BrowserLimit(STUCK)
        end = time.perf_counter() + timeout
        while (left := end - time.perf_counter()) > 0:
            time.sleep(min(left, 0.05))
        return []

    def get_map(self):
        return {}

    def close(self) -> None:
        pass


STUCK = ("In the browser (JupyterLite), gl.run_asgi cannot wait here: the app is waiting for "
         "something only the notebook's own event loop can deliver, and that loop cannot run "
         "while a cell waits for it. Await the app on the notebook's loop instead: "
         "`ex = await gl.run_asgi_async(app, request)`")


class _BrowserLoop(_LabLoop):
    """The lab's loop in a browser: no self-pipe (a socket pair) and no sockets; it
    waits for its timers by sleeping (see _NothingToWaitFor)."""

    def __init__(self):
        super().__init__(selector=_NothingToWaitFor())

    def _make_self_pipe(self) -> None:
        pass

    def _close_self_pipe(self) -> None:
        pass

    def _write_to_self(self) -> None:
        pass


# Python 3.14 keeps the running *task* per thread, not per loop: a cell that runs inside
# a task of the kernel's loop (Pyodide's kernel does; so may ipykernel) would make every
# task of the lab's loop fail with "Cannot enter into task ... while another task ... is
# being executed".  The caller's task is set aside for the run, as its loop is, with the
# hook asyncio's eager tasks use (asyncio.tasks._swap_current_task, 3.12+).
_swap_task = asyncio.tasks._swap_current_task if sys.version_info >= (3, 14) else None


def _set_aside_task(loop):
    """Clear this thread's running task (swapped while `loop` runs); returns it."""
    outer = _get_running_loop()
    _set_running_loop(loop)
    try:
        return _swap_task(loop, None)
    finally:
        _set_running_loop(outer)


def _put_back_task(loop, task) -> None:
    outer = _get_running_loop()
    _set_running_loop(loop)
    try:
        _swap_task(loop, task)
    finally:
        _set_running_loop(outer)


class OwnLoop:
    """A loop of the lab's own for sync callers, which keeps a list of the tasks
    started on it: asking asyncio for them (all_tasks) walks every task of
    every loop, which cost more than a whole hello-world run."""

    # The browser's stands in for the desktop's, chosen once, at import.
    loop_class = _BrowserLoop if IN_BROWSER else _LabLoop

    def __init__(self):
        self.loop = self.loop_class()
        self.executor = None
        if not IN_BROWSER:  # no threads there: asyncio.to_thread cannot run anyway
            self.executor = _LabExecutor()
            self.loop.set_default_executor(self.executor)
        self.loop.set_exception_handler(_quiet)
        self.tasks: list[asyncio.Task] = []
        self.loop.set_task_factory(self._task)
        self.debug = self.loop.get_debug()  # as the environment set it (PYTHONASYNCIODEBUG)
        # The loop's hooks for async generators, as run_forever() installs them.
        self.hooks = (self.loop._asyncgen_firstiter_hook, self.loop._asyncgen_finalizer_hook)

    def _task(self, loop, coro, **kwargs) -> asyncio.Task:
        task = asyncio.Task(coro, loop=loop, **kwargs) if kwargs else asyncio.Task(coro, loop=loop)
        self.tasks.append(task)
        return task

    def run(self, coro):
        """loop.run_until_complete(coro), with the caller's running loop (if any) set
        aside; an app that answers without waiting never turns the loop at all."""
        outer = _get_running_loop()
        caller = _set_aside_task(self.loop) if outer is not None and _swap_task else None
        try:
            task = self._first_step(coro, outer)
            if task.done():
                return task.result()
            if outer is not None:
                _set_running_loop(None)
            try:
                return self._until_done(task)
            finally:
                if outer is not None:
                    _set_running_loop(outer)
        finally:
            if caller is not None:
                _put_back_task(self.loop, caller)

    def _first_step(self, coro, outer) -> asyncio.Task:
        """A real Task for `coro`, its first step taken here and now, as the loop would
        take it: this loop is the running one meanwhile (it says so: `stepping`), and
        owns the async generators started."""
        loop = self.loop
        loop.held = held = []
        try:
            task = asyncio.Task(coro, loop=loop)
        finally:
            loop.held = None
        hooks = sys.get_asyncgen_hooks()
        _set_running_loop(loop)
        sys.set_asyncgen_hooks(*self.hooks)
        loop.stepping = True
        try:
            for callback, context in held:
                context.run(callback)
        finally:
            loop.stepping = False
            sys.set_asyncgen_hooks(*hooks)
            _set_running_loop(outer)
        return task

    def _until_done(self, task: asyncio.Task):
        loop = self.loop

        def stop(_):
            loop.stop_for_the_lab()

        task.add_done_callback(stop)
        try:
            loop.run_forever()
        finally:
            # A run stopped at its deadline leaves `task` pending: when it ends later
            # (during the clean-up's own run) it must not stop that run halfway.
            task.remove_done_callback(stop)
        return task.result()

    def leftovers(self) -> int:
        """How many tasks of the run are still pending; the list starts over."""
        if not self.tasks:
            return 0
        tasks, self.tasks = self.tasks, []
        return len([task for task in tasks if not task.done()])

    def cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            try:
                self.run(asyncio.wait(tasks, timeout=GRACE))
            except BaseException:  # noqa: BLE001 - a task that will not die is abandoned
                pass
            for task in tasks:
                if not task.done():
                    # Abandoned, and said so by the run's finding: asyncio's "Task was
                    # destroyed but it is pending!" on stderr would only repeat it later,
                    # somewhere else (the attribute asyncio's own Task checks first).
                    task._log_destroy_pending = False
        self.tasks = []

    def put_back(self) -> str:
        """The loop is the server's: what an app changed of it (its task factory, its
        exception handler, debug mode) is put back; returns what was, for a note."""
        loop, changed = self.loop, []
        if loop.get_task_factory() != self._task:
            changed.append("task factory")
            loop.set_task_factory(self._task)
        if loop.get_exception_handler() is not _quiet:
            changed.append("exception handler")
            loop.set_exception_handler(_quiet)
        if loop.get_debug() != self.debug:
            changed.append("debug mode")
            loop.set_debug(self.debug)
        return " and ".join(changed)


if IN_BROWSER:
    # Pyodide replaces time.sleep: where the browser can switch stacks (JSPI, as in
    # Chromium) it awaits asyncio.sleep on the *running* loop.  While the lab's loop runs,
    # that loop is the lab's, busy in this very call, and the sleep would never end.  For
    # the run, time.sleep is the plain one again: it blocks, as it does on a desktop.
    _plain_sleep = getattr(time.sleep, "__wrapped__", time.sleep)
    _run_anywhere = OwnLoop.run

    def _run_in_browser(self, coro):
        sleep, time.sleep = time.sleep, _plain_sleep
        try:
            return _run_anywhere(self, coro)
        finally:
            time.sleep = sleep

    OwnLoop.run = _run_in_browser


_main_loop: OwnLoop | None = None


def _after_fork() -> None:
    # A forked child (an isolated run, a worker) shares the parent's loop's selector:
    # it makes a loop of its own when it first needs one.
    global _main_loop
    _main_loop = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def run_sync(make_coro, timeout: float, trace: Trace | None = None,
             watch: bool = False) -> sandbox.Outcome:
    """Run `make_coro()` to completion on a loop of the lab's own (see the module
    docstring), stopped after `timeout` seconds; `watch`: see sandbox.call."""
    global _main_loop
    main = threading.get_ident() == _MAIN_IDENT
    own = _main_loop if main else None
    if own is None or own.loop.is_closed():
        own = OwnLoop()
    outcome = sandbox.call(own.run, timeout, make_coro(), watch=watch)
    if own.loop.stopped_by_app:
        own.loop.stopped_by_app = 0
        if trace is not None:
            trace.add("server", "note", "the app called loop.stop(); the loop belongs to "
                      "the server, which carried on", LOOP_SPEC, target="app")
    changed = own.put_back()
    if changed:
        if trace is not None:
            trace.add("server", "note", f"the app changed the event loop's {changed}; the "
                      "loop belongs to the server, which put it back", LOOP_SPEC,
                      target="app")
        # Tasks made by the app's own factory are not on the lab's list: look at all.
        own.tasks.extend(t for t in asyncio.all_tasks(own.loop) if t not in own.tasks)
    jobs = own.executor.left() if own.executor is not None else ()
    if jobs and main:  # like leftovers.look: one run at a time only on the main thread
        before = outcome.left or leftovers.Left((), ())
        outcome.left = leftovers.Left(before.threads + jobs, before.processes)
    interrupted = outcome.timed_out or outcome.stuck
    left = own.leftovers()
    if left and not interrupted:
        # Tasks the app started and left running would wake up in the next,
        # unrelated run on this loop: nothing of a run may outlive it.
        own.cancel_all()
        if trace is not None:
            trace.add("server", "note", f"{left} task(s) the app started were still running "
                      "after it returned; the lab cancelled them", LOOP_SPEC, target="app")
    if interrupted:
        # The loop was interrupted mid-step: its state is not to be trusted again.
        if not own.loop.is_running():
            own.cancel_all()
            own.loop.close()
        own = None
    if main:
        _main_loop = own
    elif own is not None:
        own.loop.close()
    return outcome
