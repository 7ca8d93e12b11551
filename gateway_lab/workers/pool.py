"""The server's side of the worker processes (see the package docstring): a Pool
starts them, hands each request to one, kills one that overruns and starts a
fresh one."""

from __future__ import annotations

import atexit
import collections
import contextlib
import itertools
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING

from ..exchange import Exchange, Response, received, respond
from ..listening import IN_WORKER, KEEP_BODY, ServeError
from ..request import Request
from ..trace import Trace
from .channel import Channel, lab_thread, resolve_future

if TYPE_CHECKING:
    import asyncio

KILL_GRACE = 1.0       # s past the timeout before a silent worker is killed
START_TIMEOUT = 20.0   # s for a worker to load the app and say "ready"
QUEUE_WAIT = 30.0      # s a request waits for a free worker before a 503
STOP_GRACE = 1.0       # s a worker gets to finish (lifespan shutdown) when the server stops
GUNICORN = "gunicorn docs, Settings §timeout"
_clock = time.monotonic


class PoolError(RuntimeError):
    """The workers could not start (the app cannot be imported, its startup failed).
    `unimportable`: a fresh Python could not import the app by its name."""

    unimportable = False


# -- finding the app's name ------------------------------------------------------------

def importable_name(app) -> str | None:
    """'module:attr' under which a fresh Python finds this very object, or None.

    A function or class names itself (`__module__`, `__qualname__`); an
    object such as a Flask app is looked for among the globals of the modules
    already imported.  `__main__` does not count: a fresh Python would run
    the script (or have no notebook) there.
    """
    module = getattr(app, "__module__", None)
    qualname = getattr(app, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        if module != "__main__" and _resolve(module, qualname) is app:
            return f"{module}:{qualname}"
    for name, mod in list(sys.modules.items()):
        if name == "__main__" or name.startswith("_") or mod is None:
            continue
        try:
            found = [attr for attr, value in vars(mod).items() if value is app]
        except TypeError:
            continue
        if found:
            return f"{name}:{found[0]}"
    return None


def _resolve(module: str, qualname: str):
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


# -- choosing how the app runs ------------------------------------------------------------

class InProcess:
    """Runs a WSGI app in this process's threads (workers=0, or no way to start
    workers), with the interface of a Pool: run(), submit(), stop()."""

    how = "threads"

    def __init__(self, app, timeout: float, threads: int = 8):
        self.app = app
        self.timeout = timeout
        self.threads = threads
        self.executor = None
        self.lock = threading.Lock()

    def run(self, request: Request, **options) -> Exchange:
        from ..wsgi import run_wsgi

        # isolate=False: workers=0 asked for this process, where nothing stops a runaway app.
        return run_wsgi(self.app, request, timeout=self.timeout, multithread=True, isolate=False,
                        **options)

    def submit(self, request: Request, on_done=None, **options) -> Job:
        import concurrent.futures

        job = Job(request, options, on_done)
        with self.lock:
            if self.executor is None:
                self.executor = concurrent.futures.ThreadPoolExecutor(
                    self.threads, thread_name_prefix="gateway-lab-app")
        self.executor.submit(lambda: job.finish(self.run(request, **options)))
        return job

    def stop(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)


THREADS_WARNING = (
    "the app runs in this process's threads ({why}): an app that never returns (a loop "
    "that catches every exception, a call blocked in C) cannot be stopped there and keeps "
    "its thread and its CPU until the process ends. Put the app in a .py module and pass "
    "it from there, so that worker processes can import it by name.")


def start_workers(app, interface: str, *, workers: int, timeout: float,
                  keep_body: int = KEEP_BODY, threads: int = 8, stacklevel: int = 4):
    """A started Pool for `app`; or, with workers=0 or on a platform that can neither
    import the app by name nor fork, InProcess (WSGI) or None (ASGI: the server runs it
    in its own loop), with a warning.  ServeError if the workers cannot load the app."""
    if workers > 0:
        pool = Pool(app, interface, size=workers, timeout=timeout, keep_body=keep_body)
        if pool.how != "threads":
            try:
                return pool.start()
            except PoolError as error:
                if not (error.unimportable and hasattr(os, "fork")):
                    raise ServeError(str(error)) from None
            # The name did not import in a fresh Python (a module loaded from a path
            # that is not on sys.path, say): a forked copy has the app all the same.
            pool = Pool(app, interface, size=workers, timeout=timeout, keep_body=keep_body,
                        fork=True)
            try:
                return pool.start()
            except PoolError as error:
                raise ServeError(str(error)) from None
        warnings.warn(THREADS_WARNING.format(why="this platform cannot fork, and the app "
                                                 "has no importable name"),
                      RuntimeWarning, stacklevel=stacklevel)
    return InProcess(app, timeout, threads) if interface == "wsgi" else None


# -- the server's side ------------------------------------------------------------------

class Job:
    """One request handed to a worker, until its Exchange is known."""

    def __init__(self, request: Request, options: dict, on_done=None):
        self.id = next(_ids)
        self.request = request
        self.options = options
        self.exchange: Exchange | None = None
        self.done = threading.Event()
        self.deadline = 0.0
        self.on_done = on_done

    def finish(self, exchange: Exchange) -> None:
        if self.done.is_set():
            return
        self.exchange = exchange
        self.done.set()
        if self.on_done is not None:
            self.on_done(exchange)


_ids = itertools.count(1)


class Worker:
    """One worker process, as the server sees it."""

    def __init__(self, pool: Pool, number: int):
        self.pool = pool
        self.number = number
        self.pid: int | None = None
        self.channel: Channel | None = None
        self.process = None          # a subprocess.Popen or a multiprocessing Process
        self.ready = threading.Event()
        self.failure: str | None = None
        self.unimportable = False
        self.dead = False
        self.jobs: dict[int, Job] = {}
        self.sockets: dict[int, WebSocketRelay] = {}
        self.beat = _clock()
        self.reader: threading.Thread | None = None

    @property
    def name(self) -> str:
        return f"worker {self.number} (pid {self.pid})"

    @property
    def busy(self) -> int:
        return len(self.jobs) + len(self.sockets)

    def send(self, message) -> bool:
        try:
            self.channel.send(message)
            return True
        except (OSError, ValueError):  # it died (the reader notices and reports it)
            return False

    def kill(self) -> None:
        """SIGKILL the worker and its process group (what the app started dies too).
        Only before the worker is reaped: until then its pid cannot be anyone else's."""
        if self.pid is None:
            return
        if os.name != "posix":
            with contextlib.suppress(OSError):
                self.process.kill()
            return
        self.kill_group()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)  # it has not made its own group yet

    def kill_group(self) -> None:
        """SIGKILL what is left of the worker's process group (children the app started).
        Safe after the worker is reaped: a group id is not reused while the group lives."""
        if self.pid is not None and os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def reap(self, timeout: float = 5.0) -> int | None:
        """Wait for the process to be gone; its exit code."""
        process = self.process
        if process is None:
            return None
        if isinstance(process, subprocess.Popen):
            try:
                return process.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        process.join(timeout)
        return process.exitcode


class Pool:
    """Worker processes for one app; see the module docstring.

    `interface` is "wsgi" or "asgi"; `size` the number of workers;
    `timeout` what each request may take (the lab's own deadline inside the
    worker, then KILL_GRACE more before the worker is killed).  `log` is
    called with one line for each worker killed, died or replaced.
    """

    def __init__(self, app, interface: str, *, size: int = 1, timeout: float = 5.0,
                 keep_body: int = KEEP_BODY, log=None, name: str | None = None,
                 fork: bool = False):
        if interface not in ("wsgi", "asgi"):
            raise ValueError(f"interface must be 'wsgi' or 'asgi', not {interface!r}")
        self.app = app
        self.interface = interface
        self.size = max(1, int(size))
        self.timeout = timeout
        self.keep_body = keep_body
        self.log = log or _stderr
        self.ref = None if fork else importable_name(app) if name is None else name
        self.how = "name" if self.ref else "fork" if hasattr(os, "fork") else "threads"
        self.workers: list[Worker] = []
        self.pending: collections.deque[Job] = collections.deque()  # waiting for a worker
        self.lock = threading.RLock()
        self.numbers = itertools.count(1)
        self.stopping = threading.Event()
        self.killed = 0              # workers killed at the deadline so far
        self.monitor: threading.Thread | None = None

    # -- starting and stopping -----------------------------------------------------
    def start(self) -> Pool:
        """Start the workers and wait until each has loaded the app (PoolError if not)."""
        if self.how == "threads":
            raise PoolError("this platform cannot fork and the app has no importable name")
        started = [self._spawn() for _ in range(self.size)]
        deadline = _clock() + START_TIMEOUT
        for worker in started:
            if not worker.ready.wait(max(0.0, deadline - _clock())):
                self.stop()
                raise PoolError(f"{worker.name} did not load the app within "
                                f"{START_TIMEOUT:g} s")
            if worker.failure is not None:
                self.stop()
                error = PoolError(worker.failure)
                error.unimportable = worker.unimportable
                raise error
        self.monitor = lab_thread(self._watch, "gateway-lab-pool-monitor")
        # A script that ends without srv.stop(): multiprocessing's own exit handler would
        # SIGTERM the forked workers, and their readers would report a worker that
        # "exited while serving" and start another.  atexit runs the handlers last
        # registered first, so the pool stops its workers itself before that.
        atexit.register(self.stop)
        return self

    def _spawn(self) -> Worker:
        worker = Worker(self, next(self.numbers))
        with self.lock:
            self.workers.append(worker)
        try:
            if self.how == "name":
                _start_by_name(worker, self)
            else:
                _start_by_fork(worker, self)
        except OSError as error:  # no more processes, no more file descriptors
            worker.failure = f"cannot start a worker process: {error}"
            worker.dead = True
            worker.ready.set()
            return worker
        worker.reader = lab_thread(lambda: self._read(worker), "gateway-lab-pool-reader")
        return worker

    def stop(self) -> None:
        """Ask every worker to finish, kill those that do not, reap them all."""
        self.stopping.set()
        atexit.unregister(self.stop)
        with self.lock:
            workers = list(self.workers)
        for worker in workers:
            if not worker.dead:
                worker.send(("stop",))
        deadline = _clock() + STOP_GRACE
        for worker in workers:
            if worker.process is not None and worker.reap(max(0.0, deadline - _clock())) is None:
                worker.kill()
                worker.reap()
            worker.kill_group()  # anything the app started and left running
            worker.dead = True
            self._fail(worker, "the server stopped before the app answered", status=503)
        with self.lock:
            pending, self.pending = list(self.pending), collections.deque()
        for job in pending:
            job.finish(self._unavailable(job))
        for worker in workers:
            if worker.reader is not None and worker.reader is not threading.current_thread():
                worker.reader.join(5)
            if worker.channel is not None:
                worker.channel.close()
        if self.monitor is not None and self.monitor is not threading.current_thread():
            self.monitor.join(5)

    # -- running requests ----------------------------------------------------------
    def submit(self, request: Request, on_done=None, **options) -> Job:
        """Hand `request` to a free worker, or queue it until one is free (in the order
        they came, as a listen backlog does).  `on_done(exchange)` is called, from one
        of the pool's threads, when its Exchange is known.  Options are run_wsgi's or
        run_asgi's keyword arguments, such as script_name or root_path."""
        job = Job(request, self._options(options), on_done)
        with self.lock:
            if self.stopping.is_set():
                worker = None
            else:
                worker = self._free()
                if worker is None:
                    job.deadline = _clock() + QUEUE_WAIT
                    self.pending.append(job)
                    return job
                self._assign(worker, job)
        if worker is None:
            job.finish(self._unavailable(job))
        else:
            self._send_job(worker, job)
        return job

    def run(self, request: Request, **options) -> Exchange:
        """Run `request` in a worker and wait for its Exchange."""
        job = self.submit(request, **options)
        # The monitor answers for a worker that misses its deadline, and for a request
        # that waits too long for one; this bound only guards against a bug of the pool.
        if not job.done.wait(QUEUE_WAIT + self.timeout + KILL_GRACE + START_TIMEOUT):
            job.finish(self._gave_up(job, None, "the pool lost track of it"))
        return job.exchange

    async def run_async(self, request: Request, **options) -> Exchange:
        """`await` form of run(), for a server's event loop (no thread is held)."""
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(exchange: Exchange) -> None:
            with contextlib.suppress(RuntimeError):  # the server's loop has closed
                loop.call_soon_threadsafe(resolve_future, future, exchange)

        self.submit(request, done, **options)
        return await future

    def _options(self, options: dict) -> dict:
        if self.interface == "wsgi":
            # PEP 3333: wsgi.multiprocess is true when another process may run the app at
            # the same time; each worker runs one request at a time (not multithread).
            options.setdefault("multiprocess", self.size > 1)
        return options

    def _free(self) -> Worker | None:
        """(Under the lock.)  A worker for one more request: an idle one (WSGI: one
        request at a time), or the least busy (ASGI: a loop serves many)."""
        ready = [w for w in self.workers if w.ready.is_set() and not w.dead
                 and w.failure is None and (self.interface == "asgi" or not w.jobs)]
        return min(ready, key=lambda w: w.busy) if ready else None

    def _assign(self, worker: Worker, job: Job) -> None:
        """(Under the lock.)"""
        job.deadline = _clock() + self.timeout + KILL_GRACE
        worker.jobs[job.id] = job

    def _send_job(self, worker: Worker, job: Job) -> None:
        if not worker.send(("http", job.id, job.request, job.options)):
            with self.lock:
                worker.jobs.pop(job.id, None)
            job.finish(self._gave_up(job, worker, "its worker process had died", 500))

    def _dispatch(self) -> None:
        """Give waiting requests to workers that are free now."""
        while True:
            with self.lock:
                worker = self._free() if self.pending else None
                if worker is None:
                    return
                job = self.pending.popleft()
                self._assign(worker, job)
            self._send_job(worker, job)

    def _unavailable(self, job: Job) -> Exchange:
        trace = Trace(self.interface)
        received(trace, job.request)
        trace.add("server", "note", f"no worker process was free within {QUEUE_WAIT:g} s "
                  "(all busy, or being replaced), or the server is stopping; the server "
                  "answered 503", "RFC 9110 §15.6.4", target="client")
        return respond(self.interface, job.request, trace, Response.error(503))

    # -- what the workers say --------------------------------------------------------
    def _read(self, worker: Worker) -> None:
        while True:
            try:
                message = worker.channel.recv()
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                break
            kind = message[0]
            if kind == "ready":
                worker.pid = message[1]
                worker.beat = _clock()
                worker.ready.set()
                self._dispatch()
            elif kind in ("failed", "unimportable"):
                worker.failure = message[1]
                worker.unimportable = kind == "unimportable"
                worker.ready.set()
            elif kind == "beat":
                worker.beat = _clock()
            elif kind == "done":
                self._done(worker, *message[1:])
            elif kind in ("ws_out", "ws_end"):
                relay = worker.sockets.get(message[1])
                if relay is not None:
                    relay.deliver(kind, message[2])
        self._exited(worker)

    def _done(self, worker: Worker, job_id: int, response: Response, trace: Trace) -> None:
        worker.beat = _clock()
        with self.lock:
            job = worker.jobs.pop(job_id, None)
        if job is not None:  # None: answered too late, the monitor gave up on it
            job.finish(Exchange(self.interface, job.request, response, trace))
        self._dispatch()

    def _exited(self, worker: Worker) -> None:
        """The worker's pipe closed: it exited, was killed, or the pool stops."""
        if not worker.ready.is_set():
            worker.failure = worker.failure or "the worker process exited while loading the app"
            worker.ready.set()
        with self.lock:
            if worker.dead:
                return
            worker.dead = True
        if self.stopping.is_set():
            return
        code = worker.reap(2)
        if worker.failure is not None:  # a replacement that could not load the app
            self.log(f"{worker.name} could not start: {worker.failure}")
            with self.lock:
                if worker in self.workers:
                    self.workers.remove(worker)
            return
        self.log(f"{worker.name} exited (exit code {code}) while serving; "
                 "a fresh worker replaces it")
        self._fail(worker, f"its worker process exited (exit code {code}) before answering",
                   status=500)
        self._replace(worker)

    # -- the deadline ---------------------------------------------------------------
    def _watch(self) -> None:
        """Kill workers that overrun: a job past its deadline, or (ASGI) a loop that has
        not beaten for longer than timeout + KILL_GRACE while it had work."""
        while not self.stopping.wait(0.05):
            now = _clock()
            with self.lock:
                workers = [w for w in self.workers if not w.dead and w.ready.is_set()]
                expired = [job for job in self.pending if now > job.deadline]
                for job in expired:
                    self.pending.remove(job)
            for job in expired:  # waited QUEUE_WAIT for a worker: 503
                job.finish(self._unavailable(job))
            for worker in workers:
                late = any(now > job.deadline for job in list(worker.jobs.values()))
                silent = (self.interface == "asgi" and worker.busy
                          and now - worker.beat > self.timeout + KILL_GRACE)
                if late or silent:
                    self._kill(worker, "its request ran past the timeout" if late else
                               "its event loop was blocked")

    def _kill(self, worker: Worker, why: str) -> None:
        with self.lock:
            if worker.dead:
                return
            worker.dead = True
            self.killed += 1
        worker.kill()
        worker.reap()
        worker.kill_group()
        self.log(f"{worker.name} killed: {why} (timeout {self.timeout:g} s + "
                 f"{KILL_GRACE:g} s grace); a fresh worker replaces it")
        self._fail(worker, why, status=504)
        if not self.stopping.is_set():
            self._replace(worker)

    def _replace(self, worker: Worker) -> None:
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)
        if not self.stopping.is_set():
            self._spawn()

    def _fail(self, worker: Worker, why: str, status: int = 504) -> None:
        """Answer every request the worker held, and close its WebSockets."""
        with self.lock:
            jobs, worker.jobs = list(worker.jobs.values()), {}
            relays, worker.sockets = list(worker.sockets.values()), {}
        for job in jobs:
            job.finish(self._gave_up(job, worker, why, status))
        for relay in relays:
            relay.deliver("killed", self._gave_up(relay, worker, why, status).trace)

    def _gave_up(self, job, worker: Worker | None, why: str, status: int = 504) -> Exchange:
        """The Exchange of a request its worker never answered."""
        request = job.request
        trace = Trace(self.interface)
        received(trace, request)
        name = worker.name if worker is not None else "its worker"
        if status == 504:
            trace.add("server", "note", f"{name} did not answer within {self.timeout:g} s "
                      f"(+{KILL_GRACE:g} s grace): {why}. The app could not be stopped "
                      "from inside, so the server killed the worker (SIGKILL) and starts "
                      "a fresh one", GUNICORN, target="app")
            how = f", so its worker process (pid {worker.pid if worker else '?'}) was killed"
            if self.interface == "wsgi":
                trace.find("wsgi.app.timeout", actor="server", timeout=self.timeout,
                           how=" and could not be stopped" + how)
            else:
                trace.find("asgi.app.timeout", actor="server", timeout=self.timeout,
                           where=why + how, status=504)
        else:
            trace.add("server", "note", f"{name}: {why}; the server answered {status}",
                      GUNICORN, target="app")
        return respond(self.interface, request, trace, Response.error(status))

    # -- WebSockets (ASGI) -------------------------------------------------------------
    def open_websocket(self, scope: dict, loop: asyncio.AbstractEventLoop) -> WebSocketRelay | None:
        """Start relaying one WebSocket connection to a worker; None if none is ready."""
        with self.lock:
            worker = self._free()
        if worker is None:
            return None
        relay = WebSocketRelay(worker, scope, loop)
        with self.lock:
            worker.sockets[relay.id] = relay
        if not worker.send(("ws", relay.id, scope)):
            with self.lock:
                worker.sockets.pop(relay.id, None)
            return None
        return relay


class WebSocketRelay:
    """One WebSocket connection between the server's loop and a worker's loop."""

    def __init__(self, worker: Worker, scope: dict, loop: asyncio.AbstractEventLoop):
        self.id = next(_ids)
        self.worker = worker
        self.request = _scope_request(scope)
        self.loop = loop
        self.inbox: asyncio.Queue = _asyncio().Queue()

    def deliver(self, kind: str, payload) -> None:  # from the pool's threads
        with contextlib.suppress(RuntimeError):  # the server's loop has closed
            self.loop.call_soon_threadsafe(self.inbox.put_nowait, (kind, payload))

    def forward(self, message: dict) -> bool:
        return self.worker.send(("ws_in", self.id, message))

    def ack(self, error: str | None) -> None:
        self.worker.send(("ws_ack", self.id, error))

    def close(self) -> None:
        with self.worker.pool.lock:
            self.worker.sockets.pop(self.id, None)


def _scope_request(scope: dict) -> Request:
    """A Request that stands for a WebSocket handshake, for a trace the server writes."""
    target = scope.get("raw_path") or scope.get("path", "/").encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    try:
        return Request("GET", target.decode("latin-1"),
                       [(n.decode("latin-1"), v.decode("latin-1"))
                        for n, v in scope.get("headers", [])])
    except ValueError:
        return Request("GET", "/")


def _asyncio():
    import asyncio  # only a server of ASGI apps needs it; a WSGI worker starts faster

    return asyncio


def _stderr(line: str) -> None:
    print(f"gateway-lab: {line}", file=sys.stderr, flush=True)


# -- starting a worker --------------------------------------------------------------

_BOOT = ("import json, os, sys; "
         "sys.path[:] = json.loads(os.environ.pop('GATEWAY_LAB_WORKER_PATH')); "
         "from gateway_lab.workers.child import child_by_name; child_by_name()")


def _start_by_name(worker: Worker, pool: Pool) -> None:
    """A fresh Python that imports the app by name; the pipes are its stdin and stdout."""
    env = {**os.environ, "GATEWAY_LAB_WORKER_PATH": json.dumps(sys.path), IN_WORKER: "1"}
    options = ({"start_new_session": True} if os.name == "posix" else
               {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})
    process = subprocess.Popen([sys.executable, "-c", _BOOT], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env=env, **options)
    worker.process, worker.pid = process, process.pid
    worker.channel = Channel(process.stdout, process.stdin)
    worker.channel.send(("init", pool.ref, pool.interface, pool.timeout, pool.keep_body))


_fork_warning_quieted = False


def _start_by_fork(worker: Worker, pool: Pool) -> None:
    """A forked copy of this process, app included (multiprocessing's "fork")."""
    import multiprocessing

    global _fork_warning_quieted
    if not _fork_warning_quieted:
        # Python 3.12+ warns on every fork of a process with threads; the module
        # docstring says why the lab forks anyway.  Only that warning is silenced.
        warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                category=DeprecationWarning)
        _fork_warning_quieted = True
    to_child, from_parent = os.pipe()[::-1]  # (write end, read end)
    from_child, to_parent = os.pipe()
    # The child closes the server's ends of its own pipes and of every other worker's,
    # so that each pipe has exactly one process at either end (EOF means gone).
    with pool.lock:
        others = [fd for w in pool.workers if w.channel is not None
                  for fd in w.channel.fds()]
    from .child import child_forked

    context = multiprocessing.get_context("fork")
    process = context.Process(
        target=child_forked, name=f"gateway-lab-worker-{worker.number}", daemon=True,
        args=(pool.app, pool.interface, pool.timeout, pool.keep_body, from_parent,
              to_parent, (to_child, from_child, *others)))
    process.start()
    os.close(from_parent)
    os.close(to_parent)
    worker.process, worker.pid = process, process.pid
    worker.channel = Channel(os.fdopen(from_child, "rb"), os.fdopen(to_child, "wb"))
