"""Simulated runs: the worker models in virtual time, at any scale.

A discrete-event simulation: the clock jumps from one event to the next (a
request arrives, a computation ends, a wait ends), kept in a heap ordered by
time.  Nothing sleeps, so 100,000 requests take a fraction of a second
(bench/simulate_bench.py), and the same seed gives the same timeline every
time.

The model of a server is two kinds of resource:

* *workers*: a request holds one from start to end (a thread, a process;
  an event loop's tasks are unlimited because a task lets go at each await);
* the *CPU*: computing needs it.  Threads of one process share one (the
  GIL), and so do the tasks of an event loop (the loop's thread); processes
  get as many as the machine has cores.

A request is: wait for a worker ("queued"), wait for the CPU ("queued"),
compute (`cpu` seconds), then wait (`io` seconds).  A blocking wait inside
`async def` (time.sleep) keeps the loop's CPU while it waits; CGI pays the
start-up of a process as CPU before each request.  Queues are first come,
first served.  Two simplifications, both said out loud: the GIL is handed
over whole computations at a time (CPython switches every 5 ms, which
changes who waits, not how much gets done), and a task needs no CPU to
resume after its wait.
"""

from __future__ import annotations

import heapq
import random
from array import array
from collections import deque
from dataclasses import dataclass

from .models import (
    EventLoop,
    Processes,
    ProcessPerRequest,
    Sequential,
    Threads,
    _cores,
    check_model,
)
from .phases import BLOCKED, CPU, IO, QUEUED
from .timeline import Timeline

STYLES = ("async", "blocking", "sync")


@dataclass(frozen=True)
class Workload:
    """What arrives at the server, and what each request needs.

    requests   how many ordinary requests
    rate       open arrivals: requests per second on average (Poisson, seeded);
               None with clients=None: all arrive at once at t=0
    clients    closed arrivals: this many clients, each sending its next
               request when the previous one is answered (after `think` s)
    cpu, io    seconds of computing, then of waiting, per request
    style      how the app waits: "async" (awaits: frees an event loop),
               "blocking" (time.sleep inside async def: holds the loop),
               "sync" (a WSGI app: on an event loop it runs in offload threads)
    long_lived connections (WebSockets) open from t=0, each idle for `hold` s
    jitter     each request's cpu and io vary by +/- this fraction (seeded)
    overhead   the server's own CPU seconds per request (parsing, building the
               environ or scope), spent before the app's: about 0.1-0.5 ms for
               the lab's gateways; measure it with `measure_overhead()`
    """

    requests: int = 100
    rate: float | None = None
    clients: int | None = None
    io: float = 0.05
    cpu: float = 0.0
    style: str = "async"
    long_lived: int = 0
    hold: float = 10.0
    jitter: float = 0.0
    think: float = 0.0
    overhead: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for name in ("requests", "long_lived"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Workload({name}=...) must be a whole number >= 0, "
                                 f"not {value!r}")
        for name in ("io", "cpu", "hold", "think", "overhead"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 1e6:
                raise ValueError(f"Workload({name}=...) must be seconds >= 0, not {value!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"Workload(jitter=...) must be in [0, 1), not {self.jitter!r}")
        if self.style not in STYLES:
            raise ValueError(f"Workload(style=...) must be one of {STYLES}, not {self.style!r}")
        if self.rate is not None and self.clients is not None:
            raise ValueError("give Workload either rate= (open arrivals) or clients= (closed), "
                             "not both")
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"Workload(rate=...) must be > 0 requests/s, not {self.rate!r}")
        if self.clients is not None and (not isinstance(self.clients, int) or self.clients < 1):
            raise ValueError(f"Workload(clients=...) must be >= 1, not {self.clients!r}")

    def describe(self) -> str:
        parts = [f"{self.requests:,} requests"]
        if self.cpu:
            parts.append(f"cpu {self.cpu * 1000:g} ms")
        if self.io:
            parts.append(f"io {self.io * 1000:g} ms" + (" (blocking)" if self.style == "blocking"
                                                        else ""))
        if self.rate is not None:
            parts.append(f"{self.rate:g} req/s")
        elif self.clients is not None:
            parts.append(f"{self.clients} clients")
        else:
            parts.append("all at once")
        if self.long_lived:
            parts.append(f"{self.long_lived:,} long-lived for {self.hold:g} s")
        return ", ".join(parts)


class _Server:
    """The resources one model gives: workers (None = unlimited), CPUs, and whether
    waiting holds the CPU (time.sleep inside async def holds the loop)."""

    def __init__(self, workers, cpus, io_holds_cpu=False, startup=0.0, lane_name="worker"):
        self.workers, self.cpus = workers, cpus
        self.io_holds_cpu, self.startup, self.lane_name = io_holds_cpu, startup, lane_name


def _server(model, w: Workload) -> _Server:
    cores = _cores(getattr(model, "cores", None))  # None: this machine's
    if isinstance(model, Sequential):
        return _Server(1, 1, lane_name="thread")
    if isinstance(model, Threads):
        return _Server(model.n, 1, lane_name="thread")
    if isinstance(model, Processes):
        return _Server(model.n, cores, lane_name="process")
    if isinstance(model, ProcessPerRequest):
        return _Server(model.limit, cores, startup=model.startup, lane_name="process slot")
    if isinstance(model, EventLoop):
        if w.style == "sync":  # run_in_threadpool: the loop's offload threads serve
            return _Server(model.offload_threads, 1, lane_name="offload thread")
        return _Server(None, 1, io_holds_cpu=w.style == "blocking", lane_name="event loop")
    raise TypeError(model)  # check_model() ran first


def simulate(model, workload: Workload | None = None, **kw) -> Timeline:
    """Run `model` on `workload` in virtual time; returns a Timeline.

    `gl.simulate(gl.Threads(4), gl.Workload(requests=40, io=0.05))`, or the
    workload's fields as keywords: `gl.simulate(gl.EventLoop(), requests=40)`.
    """
    check_model(model)
    if workload is None:
        workload = Workload(**kw)
    elif kw:
        raise TypeError("give either a Workload or its fields as keywords, not both")
    elif not isinstance(workload, Workload):
        raise TypeError(f"workload must be a gl.Workload, not {type(workload).__name__}")
    w, server = workload, _server(model, workload)
    cols = _run(server, w)
    arrival, start, cpu_start, cpu_end, end, lane, cpu_need = cols

    def phases(i: int):
        a, s, cs, ce, e = arrival[i], start[i], cpu_start[i], cpu_end[i], end[i]
        out = []
        if s > a:
            out.append((QUEUED, a, s))      # no worker free yet
        if cs > s:
            out.append((QUEUED, s, cs))     # a worker, but the CPU (GIL, loop) is busy
        if server.io_holds_cpu:             # the wait happens while holding the loop
            mid = cs + cpu_need[i]
            if mid > cs:
                out.append((CPU, cs, mid))
            if ce > mid:
                out.append((BLOCKED, mid, ce))  # waiting, and holding the loop
        else:
            if ce > cs:
                out.append((CPU, cs, ce))
            if e > ce:
                out.append((IO, ce, e))
        return out

    if server.workers is None:
        names = {0: "event loop"}
    else:
        names = {k: f"{server.lane_name} {k}" for k in range(server.workers)}
    return Timeline(model.label, "simulated", arrival=arrival, start=start, end=end,
                    lane=lane, status=[200] * len(end), phases=phases, lane_names=names,
                    long_lived=w.long_lived, workload=w.describe())


def _run(server: _Server, w: Workload):
    """The event loop of the simulation; returns its columns."""
    rng = random.Random(w.seed)
    n_long, n_req = w.long_lived, w.requests
    n = n_long + n_req
    # Demands: long-lived connections only wait; requests compute, then wait.
    fixed = server.startup + w.overhead  # CPU every request costs the server itself
    cpu_need = array("d", [server.startup] * n_long + [w.cpu + fixed] * n_req)
    io_need = array("d", [w.hold] * n_long + [w.io] * n_req)
    if w.jitter:
        for i in range(n_long, n):
            cpu_need[i] = w.cpu * rng.uniform(1 - w.jitter, 1 + w.jitter) + fixed
            io_need[i] = w.io * rng.uniform(1 - w.jitter, 1 + w.jitter)
    if server.io_holds_cpu:  # blocking waits are spent on the CPU resource
        busy = array("d", (c + i for c, i in zip(cpu_need, io_need, strict=True)))
        wait = array("d", bytes(8 * n))
    else:
        busy, wait = cpu_need, io_need

    arrival = array("d", bytes(8 * n))
    start = array("d", bytes(8 * n))
    cpu_start = array("d", bytes(8 * n))
    cpu_end = array("d", bytes(8 * n))
    end = array("d", bytes(8 * n))
    lane = array("l", bytes(array("l").itemsize * n))

    # Arrivals known in advance (open model, or everything at t=0) are read in
    # order; a closed model's next request is an event in the heap.
    if w.clients is not None:
        scheduled = list(range(n_long + min(w.clients, n_req)))
        next_closed = len(scheduled)
    else:
        scheduled = list(range(n))
        next_closed = n
        if w.rate is not None:
            t = 0.0
            for i in range(n_long, n):
                t += rng.expovariate(w.rate)
                arrival[i] = t

    heap: list = []
    push, pop = heapq.heappush, heapq.heappop
    worker_queue: deque = deque()
    cpu_queue: deque = deque()
    limited = server.workers is not None
    free_lanes = list(range(server.workers)) if limited else []
    cpus_free = server.cpus
    DONE_CPU, DONE_IO, ARRIVE = 0, 1, 2  # event codes: (time, index * 3 + code)

    def begin(i: int, t: float) -> None:
        nonlocal cpus_free
        start[i] = t
        if busy[i] > 0:
            if cpus_free:
                cpus_free -= 1
                cpu_start[i] = t
                push(heap, (t + busy[i], i * 3 + DONE_CPU))
            else:
                cpu_queue.append(i)
        else:
            cpu_start[i] = cpu_end[i] = t
            after_cpu(i, t)

    def after_cpu(i: int, t: float) -> None:
        if wait[i] > 0:
            push(heap, (t + wait[i], i * 3 + DONE_IO))
        else:
            finish(i, t)

    def finish(i: int, t: float) -> None:
        nonlocal next_closed
        end[i] = t
        if limited:
            if worker_queue:
                j = worker_queue.popleft()
                lane[j] = lane[i]
                begin(j, t)
            else:
                heapq.heappush(free_lanes, lane[i])
        if next_closed < n and i >= n_long:  # a closed-model client sends its next request
            push(heap, (t + w.think, next_closed * 3 + ARRIVE))
            next_closed += 1

    def arrive(i: int, t: float) -> None:
        arrival[i] = t
        if not limited:
            begin(i, t)
        elif free_lanes:
            lane[i] = heapq.heappop(free_lanes)
            begin(i, t)
        else:
            worker_queue.append(i)

    k, n_sched, inf = 0, len(scheduled), float("inf")
    while True:
        next_arrival = arrival[scheduled[k]] if k < n_sched else inf
        if heap and heap[0][0] <= next_arrival:
            t, code = pop(heap)
            i, kind = divmod(code, 3)
            if kind == DONE_CPU:
                cpu_end[i] = t
                if cpu_queue:  # the CPU goes to the next in line at once
                    j = cpu_queue.popleft()
                    cpu_start[j] = t
                    push(heap, (t + busy[j], j * 3 + DONE_CPU))
                else:
                    cpus_free += 1
                after_cpu(i, t)
            elif kind == DONE_IO:
                finish(i, t)
            else:
                arrive(i, t)
        elif k < n_sched:
            arrive(scheduled[k], next_arrival)
            k += 1
        else:
            break
    return arrival, start, cpu_start, cpu_end, end, lane, cpu_need
