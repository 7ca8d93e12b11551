"""Real runs: many requests through an app with real threads, processes or an event loop.

    tl = gl.run_many(app, [gl.Request("GET", "/")] * 40, model=gl.Threads(4))

Every request goes through the lab's own gateway (`run_wsgi`, `run_asgi`,
`run_cgi`), so each has its Exchange, findings and timeout; the worker model
only decides *who* runs it *when*:

* Sequential(): this thread, one request after another (wsgiref's server);
* Threads(n): n threads take requests from one queue (werkzeug threaded);
* Processes(n): n pre-started processes take requests from one queue, as
  prefork workers share one listening socket (gunicorn sync, uWSGI);
* ProcessPerRequest(): a fresh Python process per request (CGI);
* EventLoop(): one asyncio loop, one task per request (uvicorn).  A sync
  (WSGI) app runs in the loop's offload threads, as starlette's
  run_in_threadpool does.

All requests arrive at once when the run starts (t = 0).  Workers are
started *before* that moment: a prefork server forks before it accepts, so
process start-up is not charged to the first requests (ProcessPerRequest
does pay it, per request: that is CGI's cost).

Processes are started with multiprocessing's "spawn" method on every
platform (fork is unsafe with threads and absent on Windows): a fresh
interpreter imports the app by its module name, so the app must live in an
importable .py file, or be given as "module:attr".

Nothing is left behind: every request has its gateway's timeout, the whole
run has a `deadline` (requests not started by then are reported, not run),
threads are joined and processes joined or terminated before returning.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import sandbox
from ..asgi import BLOCKED
from ..browser import IN_BROWSER, NO_THREADS, WHERE, refuse
from ..request import Request
from . import phases as _phases
from .models import (
    EventLoop,
    Processes,
    ProcessPerRequest,
    RunError,
    Sequential,
    Threads,
    check_model,
)
from .phases import QUEUED, Recorder, clock, recording
from .timeline import Timeline

MIN_QUEUED = 0.001      # s; a wait shorter than this is not drawn as a "queued" phase
STARTUP_TIMEOUT = 60.0  # s; for spawned processes to import the app and report ready


# -- the app and the requests ---------------------------------------------------

def _resolve(app):
    """An app object, "module:attr", or a CGI script path -> (app, ref for children)."""
    if isinstance(app, (str, Path)):
        from ..targets import UsageError, load_target

        try:
            obj = load_target(str(app))
        except UsageError as error:
            raise RunError(str(error)) from None
        return obj, (str(app) if not isinstance(obj, Path) else obj)
    if not callable(app):
        raise TypeError(f"app must be a WSGI or ASGI callable, 'module:attr' or a CGI script "
                        f"path, not {type(app).__name__}")
    return app, None


def _requests(requests) -> list[Request]:
    if isinstance(requests, int) and not isinstance(requests, bool):
        if requests < 0:
            raise ValueError("the number of requests must be >= 0")
        return [Request("GET", f"/?request={i}") for i in range(requests)]
    if isinstance(requests, (Request, str, bytes)):
        raise TypeError("requests must be a list of gl.Request (or a number of GET / requests)")
    out = []
    for r in requests:
        if isinstance(r, str):
            r = Request("GET", r)
        # Raw HTTP bytes go through as they are: every gateway parses them as a
        # server would, and answers bytes no server may accept with a 400.
        if not isinstance(r, (Request, bytes)):
            raise TypeError(f"each request must be a gl.Request, raw HTTP bytes or a target "
                            f"like '/x', not {type(r).__name__}")
        out.append(r)
    return out


# -- one request, in whichever thread or process runs it ---------------------------

def serve_one(app, kind: str, request: Request | bytes, timeout: float, flags: dict):
    """Run one request through the lab's gateway for `kind`; return (exchange, phases)."""
    recorder = Recorder()
    # The recorder rides in this context.  Wherever a gateway runs the app, the
    # context goes along (the sandbox's worker thread copies it, so do asyncio's
    # tasks and run_coroutine_threadsafe), so the app is called untouched and the
    # gateway's coach sees its real signature.
    token = recording(recorder)
    try:
        if kind == "wsgi":
            from ..wsgi import run_wsgi

            ex = run_wsgi(app, request, timeout=timeout, **flags)
        elif kind == "asgi":
            from ..asgi import run_asgi

            ex = run_asgi(app, request, timeout=timeout)
        else:
            from ..cgi import run_cgi

            ex = run_cgi(app, request, timeout=timeout)
    finally:
        _phases._current.reset(token)
        recorder.closed = True  # a thread the gateway abandoned may still try to mark
    return ex, recorder.phases


class _Run:
    """The columns of a real run as they fill in, in this process's clock."""

    def __init__(self, app, kind, ref, requests, model, timeout, deadline):
        self.app, self.kind, self.ref = app, kind, ref
        self.requests, self.model = requests, model
        self.timeout, self.deadline = timeout, deadline
        n = len(requests)
        self.t0 = clock()
        self.clock_base = clock() - time.time()  # to map other processes' clocks onto ours
        self.start = [None] * n
        self.end = [None] * n
        self.lane = [0] * n
        self.status = [0] * n
        self.phases: list[list] = [[] for _ in range(n)]
        self.exchanges: list = [None] * n
        self.findings: list = []
        self.notes: list[str] = []
        self.lane_names: dict[int, str] = {}
        self.aborted = False  # interrupted (Ctrl-C, a notebook's stop button)
        # Workers idle when every request arrived (a pool of threads): the first that many
        # requests to start had one waiting for them.  Their wait before starting was the
        # thread waking up and getting the GIL, not a queue: it is not drawn as "queued".
        self.idle_workers = 0

    def expired(self) -> bool:
        return self.aborted or clock() - self.t0 > self.deadline

    def record(self, i, lane, start, end, status, phases, exchange=None, findings=()):
        self.lane[i], self.start[i], self.end[i], self.status[i] = lane, start, end, status
        self.phases[i] = list(phases)
        self.exchanges[i] = exchange
        self.findings.extend(findings)

    def serve(self, i: int, lane: int, **flags) -> None:
        start = clock()
        ex, phases = serve_one(self.app, self.kind, self.requests[i], self.timeout, flags)
        self.record(i, lane, start, clock(), ex.response.status, phases, ex)

    def timeline(self) -> Timeline:
        t0, n = self.t0, len(self.requests)
        missed = [i for i in range(n) if self.start[i] is None]
        if missed:
            why = (f"the run's deadline ({self.deadline:g} s) passed first" if self.expired()
                   else "their worker died")
            self.notes.append(f"{len(missed)} of {n} requests got no answer: {why}")
        arrival = [0.0] * n
        start = [(s - t0) if s is not None else 0.0 for s in self.start]
        end = [(e - t0) if e is not None else start[i] for i, e in enumerate(self.end)]
        served_first = set(sorted((i for i in range(n) if self.start[i] is not None),
                                  key=start.__getitem__)[:self.idle_workers])
        phases = []
        for i in range(n):
            ps = [(k, s - t0, e - t0) for k, s, e in self.phases[i]]
            if start[i] - arrival[i] >= MIN_QUEUED and i not in served_first:
                ps.insert(0, (QUEUED, arrival[i], start[i]))
            phases.append(ps)
        in_process = any(ex is not None for ex in self.exchanges)
        tl = Timeline(self.model.label, "real", arrival=arrival, start=start, end=end,
                      lane=self.lane, status=self.status, phases=phases,
                      lane_names=self.lane_names, notes=self.notes,
                      exchanges=self.exchanges if in_process else None,
                      findings=self.findings, workload=f"{n} requests, all at once")
        return tl


# -- the models ------------------------------------------------------------------

def _sequential(run: _Run) -> None:
    on_main = threading.current_thread() is threading.main_thread()
    run.lane_names[0] = "main thread" if on_main else "one thread"
    run.t0 = clock()
    for i in range(len(run.requests)):
        if run.expired():
            return
        run.serve(i, 0)


def _threads(run: _Run, n: int, name: str = "thread") -> None:
    pending = deque(range(len(run.requests)))
    go = threading.Event()

    def worker(lane: int) -> None:
        go.wait()
        while not run.expired():
            try:
                i = pending.popleft()  # atomic: two threads never get the same request
            except IndexError:
                return
            run.serve(i, lane, multithread=True)

    threads = [threading.Thread(target=worker, args=(k,), name=f"gateway-lab-{name}-{k}",
                                daemon=True) for k in range(n)]
    try:
        for k, t in enumerate(threads):
            run.lane_names[k] = f"{name} {k}"
            t.start()
    except RuntimeError as error:  # "can't start new thread": let the started ones go
        pending.clear()
        go.set()
        raise RunError(f"could not start {n} threads: {error}") from None
    run.t0 = clock()
    run.idle_workers = n
    go.set()  # all requests "arrive" now, with every worker already waiting
    try:
        _join(threads, run)
    except KeyboardInterrupt:  # workers finish the request in hand and take no more
        run.aborted = True
        pending.clear()
        raise


def _join(threads, run: _Run) -> None:
    limit = clock() + run.deadline + run.timeout + 2 * sandbox.GRACE + 1
    for t in threads:
        t.join(max(0.0, limit - clock()))
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        run.notes.append(f"threads {', '.join(stuck)} were still blocked when the run ended "
                         "(a call that cannot be interrupted); they exit when it returns")


# -- the event loop ----------------------------------------------------------------

class _LagMeter:
    """How late the loop wakes a 10 ms sleeper: a blocked loop wakes nobody on time.
    `beat` is the last time it woke, read by the watchdog on the calling thread."""

    def __init__(self):
        self.worst = 0.0
        self.beat = clock()

    async def run(self) -> None:
        while True:
            before = clock()
            try:
                await asyncio.sleep(0.01)
            finally:  # a cancel that arrives late is a late wake-up too
                self.beat = clock()
                self.worst = max(self.worst, self.beat - before - 0.01)


def _event_loop(run: _Run, model: EventLoop) -> None:
    lag = _LagMeter()

    async def one(i: int) -> None:
        if run.kind != "asgi":  # sync code never runs on the loop: offload threads do
            await asyncio.get_running_loop().run_in_executor(None, _offloaded, run, i)
            return
        from ..asgi import run_asgi_async

        recorder = Recorder(on_loop=True)  # a blocking wait here holds the whole loop
        recording(recorder)  # each task has its own copy of the context: no reset needed
        start = clock()
        try:
            ex = await run_asgi_async(run.app, run.requests[i], timeout=run.timeout)
        except sandbox.Stopped:  # the watchdog stopped it: it held the loop too long
            run.record(i, 0, start, clock(), 504, recorder.phases)
            return
        finally:
            recorder.closed = True
        run.record(i, 0, start, clock(), ex.response.status, recorder.phases, ex)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        running.append((loop, asyncio.current_task()))
        # asyncio.to_thread and run_in_executor(None) use this pool of offload threads.
        loop.set_default_executor(ThreadPoolExecutor(
            model.offload_threads, thread_name_prefix="gateway-lab-offload"))
        meter = asyncio.create_task(lag.run())
        await asyncio.sleep(0)  # let the meter take its first reading
        run.t0 = clock()
        tasks = [asyncio.create_task(one(i)) for i in range(len(run.requests))]
        _, pending = await asyncio.wait(tasks, timeout=run.deadline) if tasks else ((), ())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        meter.cancel()
        await asyncio.gather(meter, return_exceptions=True)

    if run.kind == "asgi":
        run.lane_names[0] = "event loop"
    else:
        run.lane_names.update({k: f"offload thread {k}" for k in range(model.offload_threads)})
    errors: list[BaseException] = []
    running: list = []  # (loop, main task), so an interrupt can cancel the run

    def loop_thread() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            errors.append(error)

    # The loop always gets a thread of its own: it works the same when the caller
    # already runs a loop (Jupyter), and the caller can watch it from outside.
    thread = threading.Thread(target=loop_thread, name="gateway-lab-loop", daemon=True)
    thread.start()
    try:
        _watch(thread, lag, run)
    except KeyboardInterrupt:
        run.aborted = True
        for loop, task in running:
            loop.call_soon_threadsafe(task.cancel)
        thread.join(run.timeout + 1)
        raise
    if lag.worst > BLOCKED and run.kind == "asgi":
        run.notes.append(
            f"a 10 ms timer on the event loop fired up to {lag.worst * 1000:.0f} ms late: "
            "something in async code held the loop (time.sleep, a sync client, heavy "
            "computing), so no other request could run meanwhile")
    if errors and not isinstance(errors[0], sandbox.Stopped):
        raise errors[0]


def _watch(thread: threading.Thread, lag: _LagMeter, run: _Run) -> None:
    """Wait for the loop thread; stop it if one step holds the loop past the timeout.

    `await` cannot interrupt code that never awaits (`while True: pass` in async
    def), so the gateway's per-request timeout cannot fire.  From outside, the
    only way in is an exception raised asynchronously into the loop's thread
    (the sandbox's way): it ends a Python loop at its next bytecode.  Code
    blocked inside a C call is out of reach; its thread is left to finish alone.
    """
    stuck_after = run.timeout + 0.5
    while thread.is_alive():
        thread.join(0.05)
        if thread.is_alive() and clock() - lag.beat > stuck_after:
            run.notes.append(f"the event loop was blocked for more than {stuck_after:g} s; "
                             "the code blocking it was stopped")
            def moved(seconds: float) -> bool:
                thread.join(seconds)
                return not thread.is_alive() or clock() - lag.beat <= stuck_after

            if not sandbox.stop_thread(thread, moved, 2 * sandbox.GRACE):
                run.notes.append("it could not be stopped (blocked in a C call): its "
                                 "thread was left to finish by itself")
                return


def _offloaded(run: _Run, i: int) -> None:
    name = threading.current_thread().name  # ThreadPoolExecutor names them prefix_0, _1, ...
    lane = int(name.rpartition("_")[2]) if name.rpartition("_")[2].isdigit() else 0
    run.serve(i, lane, multithread=True)


# -- processes ---------------------------------------------------------------------
#
# Requests go to prefork workers through one shared queue (as idle workers
# take connections from one listening socket); answers come back on a pipe per
# child, so a child that dies mid-request can only break its own pipe (a
# shared result queue could be left locked by it) and its end of file says so.

def _load(ref):
    if isinstance(ref, (str, Path)):
        from ..targets import load_target

        return load_target(str(ref))
    return pickle.loads(ref)


def _import_gateway(kind: str) -> None:
    """Import the gateway before reporting ready, so the first request does not pay it."""
    import importlib

    importlib.import_module(f"gateway_lab.{kind}")


def _start_child(ref, kind, wid, conn):
    """Load the app in a fresh child and say "ready" (with both clocks); None if it fails."""
    try:
        app = _load(ref)
        _import_gateway(kind)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, not lost
        conn.send(("error", wid, f"{type(error).__name__}: {error}"))
        return None
    conn.send(("ready", wid, clock(), time.time(), os.getpid()))
    return app


def _child_serve(app, kind, wid, i, request, timeout, flags, conn) -> None:
    start = clock()
    try:
        ex, phases = serve_one(app, kind, request, timeout, flags)
        status, findings = ex.response.status, list(ex.findings)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, not lost
        phases, status, findings = [], 500, []
        conn.send(("crash", wid, i, f"{type(error).__name__}: {error}"))
    conn.send(("done", wid, i, start, clock(), status, phases, findings))


def process_worker(ref, kind, wid, tasks, conn, timeout) -> None:
    """A prefork worker (in a spawned child): load the app, then serve until None."""
    app = _start_child(ref, kind, wid, conn)
    while app is not None:
        item = tasks.get()
        if item is None:
            return
        i, request = item
        _child_serve(app, kind, wid, i, request, timeout, {"multiprocess": True}, conn)


def one_shot(ref, kind, slot, i, request, conn, timeout) -> None:
    """A CGI-style child: start, load the app, serve one request, exit."""
    app = _start_child(ref, kind, slot, conn)
    if app is not None:
        _child_serve(app, kind, slot, i, request, timeout,
                     {"multiprocess": True, "run_once": True}, conn)


def _ref_for_children(run: _Run):
    """What a spawned child needs to find the app: "module:attr", or the pickled object."""
    if run.ref is not None:
        return run.ref
    try:
        data = pickle.dumps(run.app)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise RunError(_CANNOT_SHIP.format(app=run.app, error=error)) from None
    module = getattr(run.app, "__module__", None)
    if module == "__main__" and not _main_is_importable():
        raise RunError(_CANNOT_SHIP.format(
            app=run.app, error="it is defined in __main__ (a notebook or the interactive "
                               "prompt), which a fresh process cannot import"))
    return data


def _main_is_importable() -> bool:
    import sys

    main = sys.modules.get("__main__")
    return bool(getattr(main, "__file__", None)) and not hasattr(main, "get_ipython")


HOW_TO_SHIP = ("Processes and ProcessPerRequest start fresh Python processes (spawn) that "
               "import the app by name: put it in a .py module and pass it, or pass "
               "'module:attr'.")
_CANNOT_SHIP = "cannot send the app {app!r} to worker processes ({error}). " + HOW_TO_SHIP
_MAIN_GUARD = ("In a script, start the run under `if __name__ == '__main__':`, because each "
               "spawned process imports the script again.")


def _messages(readers: dict, timeout: float) -> list:
    """The messages waiting on any child's pipe; a pipe at its end (the child exited)
    is dropped from `readers` and reported as ("exit", worker)."""
    from multiprocessing.connection import wait

    out = []
    for conn in wait(list(readers), timeout):
        try:
            out.append(conn.recv())
        except (EOFError, OSError):
            out.append(("exit", readers.pop(conn)))
            conn.close()
    return out


def _processes(run: _Run, n: int) -> None:
    import multiprocessing

    ref = _ref_for_children(run)
    ctx = multiprocessing.get_context("spawn")
    tasks = ctx.Queue()
    readers, procs = {}, []
    offset: dict[int, float] = {}
    try:
        for k in range(n):
            reader, writer = ctx.Pipe(duplex=False)  # one-way: the child writes
            p = ctx.Process(target=process_worker, name=f"gateway-lab-process-{k}",
                            daemon=True, args=(ref, run.kind, k, tasks, writer, run.timeout))
            p.start()
            writer.close()  # the child holds the only writing end: its exit means EOF
            readers[reader] = k
            procs.append(p)
        _wait_ready(run, readers, offset, n)
        run.t0 = clock()
        for i, request in enumerate(run.requests):
            tasks.put((i, request))
        for _ in procs:
            tasks.put(None)
        done = 0
        while done < len(run.requests) and readers and not run.expired():
            for msg in _messages(readers, 0.2):
                done += _handle(run, msg, offset) is not None
    except BaseException:
        run.aborted = True  # an error or Ctrl-C: stop the children now, not politely
        raise
    finally:
        _stop(procs, run)
        tasks.cancel_join_thread()  # requests a deadline left unserved are dropped
        tasks.close()
        for reader in readers:
            reader.close()


def _wait_ready(run: _Run, readers: dict, offset: dict, n: int) -> None:
    limit = clock() + STARTUP_TIMEOUT
    while len(offset) < n:
        if clock() > limit:
            raise RunError(f"worker processes did not start within {STARTUP_TIMEOUT:g} s")
        for msg in _messages(readers, 0.2):
            if msg[0] == "exit":
                raise RunError(f"a worker process exited while starting; see the errors "
                               f"printed above. {_MAIN_GUARD}")
            _handle(run, msg, offset)


def _handle(run: _Run, msg, offset) -> int | None:
    """Apply one message from a child; returns the request index when one finished."""
    kind, wid = msg[0], msg[1]
    if kind == "error":
        raise RunError(f"a worker process could not load the app ({msg[2]}). {HOW_TO_SHIP}")
    if kind == "ready":
        # perf_counter() may count from a different origin in each process (Python
        # leaves it undefined); the wall clock is shared.  Both read at one moment on
        # each side map the child's perf_counter onto ours without timing the message.
        offset[wid] = run.clock_base - (msg[2] - msg[3])
        run.lane_names.setdefault(wid, f"process {wid} (pid {msg[4]})")
        return None
    if kind == "crash":
        run.notes.append(f"request {msg[2]} crashed its worker: {msg[3]}")
        return None
    if kind == "exit":
        return None
    _, wid, i, start, end, status, phases, findings = msg
    d = offset.get(wid, 0.0)
    run.record(i, wid, start + d, end + d, status, [(k, s + d, e + d) for k, s, e in phases],
               None, findings)
    return i


def _stop(procs, run: _Run) -> None:
    """Join the children (they exit after their last request); terminate stragglers."""
    grace = 0.5 if run.expired() else run.timeout + 2
    for p in procs:
        p.join(timeout=grace)
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(timeout=2)
            run.notes.append(f"{p.name} did not finish and was terminated")
        elif p.exitcode not in (0, None):
            run.notes.append(f"{p.name} died with exit code {p.exitcode}; the request it "
                             "was serving got no answer")


def _process_per_request(run: _Run, model: ProcessPerRequest) -> None:
    if run.kind == "cgi":  # run_cgi starts the child process itself
        _threads(run, model.limit, "cgi")
        run.lane_names = {k: f"process slot {k}" for k in range(model.limit)}
        return
    import multiprocessing

    ref = _ref_for_children(run)
    ctx = multiprocessing.get_context("spawn")
    pending = deque(range(len(run.requests)))
    free = list(range(model.limit))
    running: dict[int, tuple] = {}  # slot -> (process, request index, launched at)
    readers: dict = {}              # reading end of a child's pipe -> its slot
    offset: dict[int, float] = {}
    run.lane_names.update({k: f"process slot {k}" for k in range(model.limit)})
    run.t0 = clock()
    try:
        while pending or running:
            while pending and free and not run.expired():
                slot, i = free.pop(0), pending.popleft()
                reader, writer = ctx.Pipe(duplex=False)  # one-way: the child writes
                p = ctx.Process(target=one_shot, name=f"gateway-lab-cgi-{i}", daemon=True,
                                args=(ref, run.kind, slot, i, run.requests[i], writer,
                                      run.timeout))
                launched = clock()
                p.start()
                writer.close()
                readers[reader] = slot
                running[slot] = (p, i, launched)
            if not running:
                break
            for msg in _messages(readers, 0.1):
                slot = msg[1]
                if msg[0] == "exit":  # the child is gone, with or without an answer
                    p, i, launched = running.pop(slot)
                    p.join(timeout=5)
                    free.append(slot)
                    if run.start[i] is None:
                        run.record(i, slot, launched, clock(), 502, [])
                        run.notes.append(f"request {i}: its process exited ({p.exitcode}) "
                                         "without an answer (502)")
                    continue
                i = _handle(run, msg, offset)
                if i is not None:
                    run.start[i] = running[slot][2]  # CGI pays the start-up per request
            _kill_overdue(run, running)
    except BaseException:
        run.aborted = True
        raise
    finally:
        _stop([p for p, _, _ in running.values()], run)
        for reader in readers:
            reader.close()


def _kill_overdue(run: _Run, running: dict) -> None:
    """A child far past its timeout is terminated; its pipe then reports its exit."""
    for p, _, launched in running.values():
        if p.is_alive() and clock() - launched > run.timeout + STARTUP_TIMEOUT:
            p.terminate()


# -- the entry point -----------------------------------------------------------------

def run_many(app, requests, model=None, *, timeout: float = 5.0,
             deadline: float = 60.0) -> Timeline:
    """Run `requests` through `app` with the worker `model`, for real; returns a Timeline.

    app       a WSGI app, an ASGI app (async def app(scope, receive, send)),
              "module:attr", or the path of a CGI script
    requests  a list of gl.Request (or of targets like "/x", or of raw HTTP bytes),
              or a number of GET /
    model     gl.Sequential() (the default), gl.Threads(n), gl.Processes(n),
              gl.ProcessPerRequest(), gl.EventLoop(offload=gl.Threads(n))
    timeout   seconds each request may take (its gateway answers 504 after that)
    deadline  seconds for the whole run; requests not started by then are not run
    """
    model = Sequential() if model is None else model
    check_model(model)
    if isinstance(model, EventLoop) and model.processes != 1:
        raise RunError(f"{model.label} runs only in virtual time (gl.simulate); for real, "
                       "serve the app with `uvicorn --workers N` (lesson 04 does)")
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number of seconds > 0, not {value!r}")
    from ..targets import guess_gateway

    obj, ref = _resolve(app)
    kind = guess_gateway(obj)  # as `gateway-lab run` guesses it: a Path is a CGI script
    if kind == "cgi":
        obj = str(obj)
        if isinstance(model, Processes):
            raise RunError("a CGI script already runs as a new process per request: use "
                           "gl.ProcessPerRequest() (or Threads(n) for n at once)")
    if IN_BROWSER and not isinstance(model, Sequential):
        return _simulated_instead(obj, _requests(requests), model)
    run = _Run(obj, kind, ref, _requests(requests), model, float(timeout), float(deadline))
    _import_gateway(kind)  # now, so the first request does not pay for the import
    if isinstance(model, Sequential):
        _sequential(run)
    elif isinstance(model, Threads):
        _threads(run, model.n)
    elif isinstance(model, Processes):
        _processes(run, model.n)
    elif isinstance(model, ProcessPerRequest):
        _process_per_request(run, model)
    else:
        _event_loop(run, model)
    return run.timeline()


def _simulated_instead(app, requests: list[Request], model) -> Timeline:
    """In a browser (no threads, no processes): the same workload in virtual time.

    Only for the race apps (apps.wsgi_app, apps.asgi_app), whose requests say in
    their query string what each one costs, so the simulator gets the same workload;
    what a learner's own app costs is not known without running it for real."""
    from . import apps
    from .simulate import Workload, simulate

    what = f"gl.run_many with {model.label}"
    costs = {tuple(sorted((k, v) for k, v in apps._costs(r.query_string).items()
                          if k in ("io", "cpu", "block", "hold"))) for r in requests}
    if app not in (apps.wsgi_app, apps.asgi_app) or len(costs) != 1 or any(
            r.is_websocket for r in requests):
        raise refuse(what, f"{NO_THREADS} or processes", "gl.simulate(model, gl.Workload(...)) "
                     "races the same models in virtual time, and model=gl.Sequential() runs "
                     "for real")
    cost = dict(costs.pop())
    if app is apps.wsgi_app:
        style, io = "sync", cost.get("io", 0) + cost.get("block", 0) + cost.get("hold", 0)
    elif cost.get("block") and cost.get("io"):
        raise refuse(what, "the simulator has no app that both blocks and awaits",
                     "try one of the two")
    else:
        style = "blocking" if cost.get("block") else "async"
        io = cost.get("block", 0) or cost.get("io", 0)
    timeline = simulate(model, Workload(requests=len(requests), io=io, cpu=cost.get("cpu", 0),
                                        style=style))
    timeline.notes.append(f"{WHERE} there are no threads or processes: this is the same "
                          "workload in virtual time (gl.simulate), not a real run")
    return timeline


def measure_overhead(interface: str = "wsgi", n: int = 100) -> float:
    """The lab server's own CPU seconds per request on this machine (for Workload.overhead).

    Runs `n` requests that do nothing through the demo app: one after another
    for WSGI, on one event loop for ASGI (where they take turns on the loop).
    """
    from . import apps

    if interface not in ("wsgi", "asgi"):
        raise ValueError(f"interface must be 'wsgi' or 'asgi', not {interface!r}")
    app, model = ((apps.wsgi_app, Sequential()) if interface == "wsgi"
                  else (apps.asgi_app, EventLoop()))
    return run_many(app, n, model=model).makespan / n
