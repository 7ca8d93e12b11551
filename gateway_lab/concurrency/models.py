"""Worker models: how a server spreads requests over workers.

Each model is a small value naming a real server design.  `run_many` runs it
for real (real threads, processes, one asyncio loop); `simulate` runs it in
virtual time.  Both read the same fields:

| model                  | like                                  | workers          | CPU      |
|------------------------|---------------------------------------|------------------|----------|
| Sequential()           | wsgiref's simple_server               | 1                | 1        |
| Threads(n)             | werkzeug threaded, gunicorn gthread   | n threads        | 1 (GIL)  |
| Processes(n)           | prefork: gunicorn sync, uWSGI         | n processes      | cores    |
| ProcessPerRequest()    | CGI: a fresh process per request      | limit processes  | cores    |
| EventLoop()            | uvicorn: asyncio, one thread          | unlimited tasks  | 1 (loop) |
| EventLoop(offload=...) | + starlette's run_in_threadpool       | tasks + n threads| 1 (GIL)  |
| EventLoop(processes=n) | uvicorn/gunicorn --workers n          | n loops of tasks | cores    |

A worker is held for the whole request; only an event loop lets go of it at
every `await`.  Threads of one process share one interpreter lock (the GIL),
so their computing takes turns; processes compute in parallel on as many
cores as the machine has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _positive(n, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{what} must be a whole number >= 1, not {n!r}")
    return n


def _cores(cores) -> int:
    return _positive(cores, "cores") if cores is not None else (os.cpu_count() or 1)


class RunError(RuntimeError):
    """The run could not start: the app cannot be loaded where the model needs it."""


@dataclass(frozen=True)
class Sequential:
    """One request at a time on one thread (wsgiref's simple_server)."""

    @property
    def label(self) -> str:
        return "Sequential()"


@dataclass(frozen=True)
class Threads:
    """`n` threads in one process, each serving one request at a time."""

    n: int = 4

    def __post_init__(self):
        _positive(self.n, "Threads(n)")

    @property
    def label(self) -> str:
        return f"Threads({self.n})"


@dataclass(frozen=True)
class Processes:
    """`n` pre-started processes (prefork), each serving one request at a time.

    Real runs start them with multiprocessing's "spawn" method (the only one on
    Windows and macOS): each process imports the app afresh, so the app must be
    importable, i.e. defined in a .py module (or given as "module:attr").
    """

    n: int = 4
    cores: int | None = None  # for simulate(): CPU cores; None = this machine's

    def __post_init__(self):
        _positive(self.n, "Processes(n)")
        _cores(self.cores)

    @property
    def label(self) -> str:
        return f"Processes({self.n})"


@dataclass(frozen=True)
class ProcessPerRequest:
    """A new process for every request, at most `limit` at once (CGI).

    Starting a Python process costs tens of milliseconds of CPU before the app
    runs: `startup` is that cost in `simulate()`; real runs pay it for real.
    """

    limit: int = 8
    startup: float = 0.05
    cores: int | None = None

    def __post_init__(self):
        _positive(self.limit, "ProcessPerRequest(limit)")
        _cores(self.cores)
        if not 0 <= self.startup < 60:
            raise ValueError(f"startup must be between 0 and 60 seconds, not {self.startup!r}")

    @property
    def label(self) -> str:
        return "ProcessPerRequest()" if self.limit == 8 else f"ProcessPerRequest({self.limit})"


@dataclass(frozen=True)
class EventLoop:
    """One asyncio loop on one thread; every request is a task (uvicorn).

    Sync code (a WSGI app, `asyncio.to_thread`) runs on the `offload` thread
    pool, as starlette's run_in_threadpool does; without one, a pool of 40
    threads (starlette's default limit) is used.

    `processes=n` is n worker processes, each running a loop of its own, as
    `uvicorn --workers n` or gunicorn with uvicorn workers start them; the
    connections are shared out among them in turn.  Only `simulate()` runs it
    (`run_many` runs one loop).
    """

    offload: Threads | None = None
    processes: int = 1
    cores: int | None = None  # for simulate(): CPU cores; None = this machine's

    def __post_init__(self):
        if self.offload is not None and not isinstance(self.offload, Threads):
            raise TypeError(f"EventLoop(offload=...) takes gl.Threads(n), not {self.offload!r}")
        _positive(self.processes, "EventLoop(processes=n)")
        _cores(self.cores)

    @property
    def offload_threads(self) -> int:
        return self.offload.n if self.offload is not None else 40

    @property
    def label(self) -> str:
        args = []
        if self.offload is not None:
            args.append(f"offload=Threads({self.offload.n})")
        if self.processes != 1:
            args.append(f"processes={self.processes}")
        return f"EventLoop({', '.join(args)})"


MODELS = (Sequential, Threads, Processes, ProcessPerRequest, EventLoop)


def check_model(model) -> None:
    if isinstance(model, type) and model in MODELS:
        raise TypeError(f"model={model.__name__} is the class; create one: "
                        f"model=gl.{model.__name__}()")
    if not isinstance(model, MODELS):
        names = ", ".join(f"gl.{m.__name__}()" for m in MODELS)
        raise TypeError(f"model must be one of {names}; got {model!r}")
