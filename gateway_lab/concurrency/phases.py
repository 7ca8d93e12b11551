"""Phase markers: how an app tells the timeline what a request is doing.

A span on the timeline is one request from start to end.  Inside it, the app
can mark *phases*:

    with gl.cpu():          # computing: this thread (or the event loop) is busy
        render(page)
    gl.cpu(0.01)            # spend 10 ms of CPU time here (a stand-in for real work)
    gl.io_sync(0.05)        # wait 50 ms the blocking way (time.sleep, a sync DB driver)
    await gl.io(0.05)       # wait 50 ms the async way (asyncio.sleep, an async client)

Why the difference matters: a thread that waits in `time.sleep` releases the
GIL, so other threads run, but it still *holds its worker*; an `await`
releases the event loop as well, so one thread serves thousands of waiting
requests.  A `time.sleep` inside `async def` releases neither: the whole
loop stops (that is what the timeline of a blocked loop shows).

Where the phases go: the concurrency lab sets a *recorder* for each request
in a context variable (PEP 567) before it hands the request to a gateway.
Context variables follow the code that runs the request: each asyncio task
has its own copy, and the gateways carry the caller's context onto whichever
thread runs the app (as `asyncio.to_thread` does), so the app itself is
called untouched.
Outside a run (a plain `gl.run_wsgi`), the markers still sleep and compute,
they just record nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import time

from ..browser import IN_BROWSER

# The kinds a span's phases can have (a contract with the views).  BLOCKED is a
# blocking wait (gl.io_sync, time.sleep) made by a request that runs *on* an event
# loop: it waits like IO but holds the loop, so no other request runs meanwhile.
CPU, IO, QUEUED, BLOCKED = "cpu", "io", "queued", "blocked"

clock = time.perf_counter  # one clock for every span and phase in a process


class Recorder:
    """The phases of one request, as (kind, start, end) in `clock()` seconds."""

    __slots__ = ("closed", "on_loop", "phases")

    def __init__(self, on_loop: bool = False):
        self.phases: list[tuple[str, float, float]] = []
        self.closed = False  # after the request ends, late marks are dropped
        self.on_loop = on_loop  # the request runs on an event loop: a sync wait blocks it

    def add(self, kind: str, start: float, end: float) -> None:
        if not self.closed:
            self.phases.append((kind, start, end))


_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "gateway_lab_phase_recorder", default=None)


def recording(recorder: Recorder | None) -> contextvars.Token:
    """Make `recorder` receive the marks of the code that runs next in this context."""
    return _current.set(recorder)


def _record(kind: str, start: float, end: float) -> None:
    recorder = _current.get()
    if recorder is not None:
        recorder.add(kind, start, end)


def _sync_wait_kind() -> str:
    """A blocking wait is IO for a thread, BLOCKED for a request on an event loop."""
    recorder = _current.get()
    return BLOCKED if recorder is not None and recorder.on_loop else IO


def _check_seconds(seconds, name: str) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name}(seconds) takes a number of seconds, not {seconds!r}")
    if not 0 <= seconds < 3600:
        raise ValueError(f"{name}({seconds!r}): seconds must be between 0 and 3600")
    return float(seconds)


class _Mark:
    """A phase as a context manager: `with gl.cpu(): ...` / `with gl.io_sync(): ...`.
    `async with gl.io(): ...` works too (the marks are the same either way)."""

    __slots__ = ("kind", "start")

    def __init__(self, kind: str):
        self.kind = kind
        self.start = 0.0

    def __enter__(self):
        self.start = clock()
        return self

    def __exit__(self, *exc) -> None:
        _record(self.kind, self.start, clock())

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, *exc) -> None:
        self.__exit__(*exc)


class _SyncWait(_Mark):
    """`with gl.io_sync(): ...`: a blocking wait, which blocks an event loop it runs on."""

    __slots__ = ()

    def __init__(self):
        super().__init__(IO)

    def __exit__(self, *exc) -> None:
        _record(_sync_wait_kind(), self.start, clock())


class _Spent:
    """What `gl.cpu(seconds)` returns: the work is already done."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"<spent {self.seconds * 1000:g} ms of CPU time>"

    def __enter__(self):
        raise TypeError("gl.cpu(seconds) already spent its CPU time; to mark your own code, "
                        "write `with gl.cpu(): ...` without seconds")

    def __exit__(self, *exc) -> None:  # pragma: no cover - __enter__ always raises
        pass


# In a browser there is one thread, which nothing else shares, so its wall clock is its
# CPU time (and Pyodide's time module has no thread_time: every gl.cpu() raised there).
_cpu_clock = time.perf_counter if IN_BROWSER else time.thread_time


def burn(seconds: float) -> None:
    """Compute for `seconds` of *this thread's CPU time* (not wall time).

    Spinning until the wall clock moves would be wrong: a thread waiting for
    the GIL sees the wall clock move too, so four threads "computing" 50 ms
    each would finish together in 50 ms.  `time.thread_time()` only advances
    while this thread really runs, so the work is the same on any model.
    """
    end = _cpu_clock() + seconds
    x = 0
    while _cpu_clock() < end:
        for i in range(200):  # a little arithmetic between clock reads
            x += i * i


def cpu(seconds: float | None = None):
    """Mark computing: `with gl.cpu(): ...`, or `gl.cpu(0.01)` to spend 10 ms of CPU."""
    if seconds is None:
        return _Mark(CPU)
    seconds = _check_seconds(seconds, "gl.cpu")
    start = clock()
    burn(seconds)
    _record(CPU, start, clock())
    return _Spent(seconds)


def io_sync(seconds: float | None = None):
    """Wait the blocking way: `gl.io_sync(0.05)` sleeps 50 ms (like a sync DB call);
    `with gl.io_sync(): requests.get(url)` marks a real blocking wait."""
    if seconds is None:
        return _SyncWait()
    seconds = _check_seconds(seconds, "gl.io_sync")
    start = clock()
    time.sleep(seconds)
    _record(_sync_wait_kind(), start, clock())
    return None


class _AsyncWait(_Mark):
    """`await gl.io(0.05)` or `async with gl.io(): await client.get(url)`."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float | None):
        super().__init__(IO)
        self.seconds = seconds

    def __await__(self):
        if self.seconds is None:
            raise TypeError("`await gl.io()` needs seconds, e.g. `await gl.io(0.05)`; "
                            "to mark your own wait write `async with gl.io(): ...`")
        return self._wait().__await__()

    async def _wait(self) -> None:
        start = clock()
        await asyncio.sleep(self.seconds)
        _record(IO, start, clock())


def io(seconds: float | None = None) -> _AsyncWait:
    """Wait the async way: `await gl.io(0.05)` (asyncio.sleep, recorded as waiting);
    `async with gl.io(): await client.get(url)` marks a real async wait."""
    if seconds is not None:
        seconds = _check_seconds(seconds, "gl.io")
    return _AsyncWait(seconds)
