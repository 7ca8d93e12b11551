"""Simulated runs: the worker models in virtual time, at any scale.

A discrete-event simulation: the clock jumps from one event to the next (a
request arrives, a slice of computing ends, a wait ends), kept in a heap
ordered by time.  Nothing sleeps, so 100,000 requests take a fraction of a
second (bench/simulate_bench.py), and the same seed gives the same timeline
every time.

The model of a server is three kinds of resource:

* *workers*: a request holds one from start to end (a thread, a process;
  an event loop's tasks are unlimited because a task lets go at each await);
* *interpreters*: computing needs one.  The threads of one process share
  one (the GIL), and so do the tasks of an event loop (the loop's thread);
  each process has its own;
* *cores*: the machine's, shared by the interpreters that compute at once.

A request is: wait for a worker ("queued"), wait for the interpreter
("queued"), compute (`cpu` seconds plus what the server spends), wait
(`io` seconds), then take the interpreter back to answer.  A blocking wait
inside `async def` (time.sleep) keeps the loop while it waits; CGI pays the
start-up of a process as CPU before each request.  Queues are first come,
first served.

What a worker costs is a `Costs` value, charged as the real thing charges it
(each figure is measured by `Costs.measure()` on the machine it runs on):

* a *switch*, CPU time each time a worker is woken: to start a request and
  to resume it after its wait.  A thread costs an OS wake-up plus taking the
  GIL (`thread_switch`, about 10 µs); a task costs one turn of the loop
  (`task_switch`, about 5 µs);
* the *GIL hand-off*: a thread that computes while others wait for the GIL
  is asked to let go every `switch_interval` (CPython's
  sys.getswitchinterval(), 5 ms) and goes to the back of the line, paying a
  switch.  A task is never asked: it keeps the loop until its next await;
* *memory*: each thread's stack (about 20 KiB resident and 8 MiB of address
  space reserved), each task (about 4 KiB), each worker process (a whole
  interpreter, tens of MiB).  Memory does not slow a run; the timeline's
  notes and `tl.memory` say how much the workers held at their peak.

Said out loud, what the model leaves out: the OS scheduler's own cost
growing with the number of threads, cache effects, several processes time
slicing one core (a process keeps its core until its slice of work is done),
the kernel's work on sockets, and the garbage collector.  `Costs.free()`
charges nothing: the textbook model, where a thread and a task cost the same.
"""

from __future__ import annotations

import heapq
import random
import sys
from array import array
from collections import deque
from dataclasses import dataclass, fields

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
KIB, MIB = 1024, 1024 * 1024


@dataclass(frozen=True)
class Costs:
    """What a worker costs the server (see the module's docstring for how each is charged).

    The defaults were measured with `Costs.measure()` on a 2-core Linux machine
    with CPython 3.11; `Costs.measure()` measures yours, `Costs.free()` charges
    nothing (the textbook model).
    """

    thread_switch: float = 10e-6          # CPU s to wake a thread and hand it the GIL
    task_switch: float = 5e-6             # CPU s for the loop to resume a task
    switch_interval: float | None = 0.005  # s a thread computes before it must let go
    thread_memory: int = 20 * KIB         # resident bytes per thread (its stack's pages)
    thread_reserved: int = 8 * MIB        # address space reserved per thread stack
    task_memory: int = 4 * KIB            # resident bytes per task
    process_memory: int = 26 * MIB        # resident bytes per worker process

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "switch_interval" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    0 <= value < 1e12):
                raise ValueError(f"Costs({f.name}=...) must be a number >= 0, not {value!r}")
        if self.switch_interval is not None and not self.switch_interval > 0:
            raise ValueError("Costs(switch_interval=...) must be > 0 seconds, or None "
                             "(threads are never asked to let go)")

    @classmethod
    def free(cls) -> Costs:
        """The textbook model: a thread, a task and a process cost nothing."""
        return cls(0.0, 0.0, None, 0, 0, 0, 0)

    @classmethod
    def measure(cls, connections: int = 300) -> Costs:
        """Measure every figure on this machine (about a second): switches with
        `switch_cost()`, memory with `idle_connection_cost()` and `process_memory()`."""
        from .memory import idle_connection_cost, process_memory, switch_cost

        switch = switch_cost(2000)
        idle = idle_connection_cost(connections)
        default = cls()

        def bytes_of(cost, fallback):
            value = cost["rss"] if cost["rss"] is not None else cost["heap"]
            return int(value) if value is not None else fallback

        return cls(
            thread_switch=switch["threads"],
            task_switch=switch["tasks"],
            switch_interval=sys.getswitchinterval(),
            thread_memory=bytes_of(idle["threads"], default.thread_memory),
            thread_reserved=int(idle["threads"]["reserved"] or default.thread_reserved),
            task_memory=bytes_of(idle["tasks"], default.task_memory),
            process_memory=process_memory() or default.process_memory,
        )

    def __str__(self) -> str:
        interval = ("never" if self.switch_interval is None
                    else f"every {self.switch_interval * 1000:g} ms")
        return (f"a thread: {self.thread_switch * 1e6:.1f} µs per switch, "
                f"{self.thread_memory / KIB:,.1f} KiB resident, "
                f"{self.thread_reserved / MIB:,.1f} MiB of stack reserved; "
                f"asked to hand over the GIL {interval}\n"
                f"a task:   {self.task_switch * 1e6:.1f} µs per switch, "
                f"{self.task_memory / KIB:,.1f} KiB resident\n"
                f"a worker process: {self.process_memory / MIB:,.1f} MiB resident")


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
    """The resources one model gives.

    workers     how many requests may be served at once (None: unlimited, tasks)
    groups      how many interpreters (a GIL, a loop): group_of(i, lane) says whose
    cores       how many of the groups may compute at the same moment
    preempt     threads are asked to hand the GIL over (tasks and lone threads are not)
    switch      CPU seconds to wake a worker (start, resume)
    """

    def __init__(self, workers, groups=1, cores=1, *, group_of=None, preempt=False,
                 switch=0.0, io_holds_cpu=False, startup=0.0, lane_name="worker",
                 lane_names=None, memory=None):
        self.workers, self.groups, self.cores = workers, groups, min(cores, groups)
        self.group_of = group_of or (lambda i, lane: 0)
        self.preempt, self.switch = preempt, switch
        self.io_holds_cpu, self.startup, self.lane_name = io_holds_cpu, startup, lane_name
        self.lane_names = lane_names
        self.memory = memory or (lambda peak: (0, 0, ""))  # peak tasks -> (resident, reserved)


def _server(model, w: Workload, c: Costs) -> _Server:
    cores = _cores(getattr(model, "cores", None))  # None: this machine's
    quantum = c.switch_interval is not None

    def threads_memory(n: int, processes: int = 1):
        def memory(peak):
            resident = n * c.thread_memory + processes * c.process_memory
            what = f"{n:,} thread{'s' * (n != 1)}"
            if processes > 1:
                what += f" in {processes} processes"
            return resident, n * c.thread_reserved, what
        return memory

    if isinstance(model, Sequential):
        return _Server(1, switch=c.thread_switch, lane_name="thread",
                       memory=threads_memory(1))
    if isinstance(model, Threads):
        return _Server(model.n, preempt=quantum, switch=c.thread_switch, lane_name="thread",
                       memory=threads_memory(model.n))
    if isinstance(model, Processes):
        # One thread per process: its own GIL, nobody to hand it to.
        return _Server(model.n, model.n, cores, group_of=lambda i, lane: lane,
                       switch=c.thread_switch, lane_name="process",
                       memory=lambda peak: (model.n * (c.process_memory + c.thread_memory),
                                            model.n * c.thread_reserved,
                                            f"{model.n} processes"))
    if isinstance(model, ProcessPerRequest):
        return _Server(model.limit, model.limit, cores, group_of=lambda i, lane: lane,
                       switch=c.thread_switch, startup=model.startup,
                       lane_name="process slot",
                       memory=lambda peak: (model.limit * c.process_memory, 0,
                                            f"up to {model.limit} processes at once"))
    if isinstance(model, EventLoop):
        p = model.processes
        if w.style == "sync":  # run_in_threadpool: each loop's offload threads serve
            k = model.offload_threads
            return _Server(k * p, p, cores, group_of=lambda i, lane: lane // k,
                           preempt=quantum, switch=c.thread_switch,
                           lane_name="offload thread", memory=threads_memory(k * p, p))
        names = ({0: "event loop"} if p == 1 else
                 {g: f"event loop {g} (process {g})" for g in range(p)})

        def loop_memory(peak):
            return (p * (c.process_memory + c.thread_memory) + peak * c.task_memory,
                    p * c.thread_reserved,
                    f"{p} loop{'s' * (p != 1)} and {peak:,} task{'s' * (peak != 1)}")

        # Connections are handed to the loops in turn (each process accepts its share).
        return _Server(None, p, cores, group_of=lambda i, lane: i % p,
                       switch=c.task_switch, io_holds_cpu=w.style == "blocking",
                       lane_name="event loop", lane_names=names, memory=loop_memory)
    raise TypeError(model)  # check_model() ran first


def simulate(model, workload: Workload | None = None, *, costs: Costs | None = None,
             **kw) -> Timeline:
    """Run `model` on `workload` in virtual time; returns a Timeline.

    `gl.simulate(gl.Threads(4), gl.Workload(requests=40, io=0.05))`, or the
    workload's fields as keywords: `gl.simulate(gl.EventLoop(), requests=40)`.
    `costs` is what a thread, a task and a process cost (`gl.Costs()`, the
    default; `gl.Costs.measure()` for this machine's; `gl.Costs.free()` for none).
    """
    check_model(model)
    if workload is None:
        workload = Workload(**kw)
    elif kw:
        raise TypeError("give either a Workload or its fields as keywords, not both")
    elif not isinstance(workload, Workload):
        raise TypeError(f"workload must be a gl.Workload, not {type(workload).__name__}")
    if costs is None:
        costs = Costs()
    elif not isinstance(costs, Costs):
        raise TypeError(f"costs must be a gl.Costs, not {type(costs).__name__}")
    w, server = workload, _server(model, workload, costs)
    cols = _run(server, w, costs)
    (arrival, start, cpu_start, cpu_end, io_end, resume, end, lane, cpu_need,
     slices) = cols

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
            return out
        turns = slices.get(i)
        if turns:                           # preempted: its turns, and the waits between
            previous = None
            for a_, b_ in turns:
                if previous is not None and a_ > previous:
                    out.append((QUEUED, previous, a_))
                out.append((CPU, a_, b_))
                previous = b_
        elif ce > cs:
            out.append((CPU, cs, ce))
        ie, rs = io_end[i], resume[i]
        if ie > ce:
            out.append((IO, ce, ie))
        if rs > ie:
            out.append((QUEUED, ie, rs))    # its wait is over, but the GIL or loop is busy
        if e > rs:
            out.append((CPU, rs, e))        # woken: the switch back, and the answer
        return out

    if server.workers is None:
        names = server.lane_names or {0: "event loop"}
    else:
        names = {k: f"{server.lane_name} {k}" for k in range(server.workers)}
    tl = Timeline(model.label, "simulated", arrival=arrival, start=start, end=end,
                  lane=lane, status=[200] * len(end), phases=phases, lane_names=names,
                  long_lived=w.long_lived, workload=w.describe())
    peak = tl.summary()["peak_concurrency"] if server.workers is None else 0
    resident, reserved, what = server.memory(peak)
    tl.memory = resident
    if resident:
        note = f"memory at the peak: {what} hold about {_size(resident)} resident"
        if reserved:
            note += f", with {_size(reserved)} of address space reserved for stacks"
        tl.notes.append(note)
    return tl


def _size(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def _run(server: _Server, w: Workload, costs: Costs):
    """The event loop of the simulation; returns its columns."""
    rng = random.Random(w.seed)
    n_long, n_req = w.long_lived, w.requests
    n = n_long + n_req
    switch = server.switch
    # Demands: long-lived connections only wait; requests compute, then wait.
    # The server's own CPU comes first: starting a process (CGI), its overhead,
    # and the switch that wakes the worker.
    fixed = server.startup + w.overhead + switch
    cpu_need = array("d", [server.startup + switch] * n_long + [w.cpu + fixed] * n_req)
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
    # After its wait a worker is woken to answer: one more switch, on the CPU.
    back = switch if not server.io_holds_cpu else 0.0

    arrival = array("d", bytes(8 * n))
    start = array("d", bytes(8 * n))
    cpu_start = array("d", bytes(8 * n))
    cpu_end = array("d", bytes(8 * n))
    io_end = array("d", bytes(8 * n))
    resume = array("d", bytes(8 * n))
    end = array("d", bytes(8 * n))
    lane = array("l", bytes(array("l").itemsize * n))
    group = array("l", bytes(array("l").itemsize * n))
    left = array("d", bytes(8 * n))    # CPU seconds still to compute in the current phase
    turn = array("d", bytes(8 * n))    # length of the running turn
    turn_start = array("d", bytes(8 * n))
    resuming = bytearray(n)            # 0: computing the request, 1: answering after the wait
    computed = bytearray(n)            # 1 once it has had the CPU (cpu_start is set)
    slices: dict[int, list] = {}       # preempted requests: their turns on the CPU

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
    limited = server.workers is not None
    free_lanes = list(range(server.workers)) if limited else []
    # The CPU: one queue per group (its GIL or loop), and the groups waiting for a core.
    group_queue = [deque() for _ in range(server.groups)]
    running = bytearray(server.groups)
    waiting_groups: deque = deque()
    queued_group = bytearray(server.groups)
    cores_free = server.cores
    quantum = costs.switch_interval if server.preempt else None
    DONE_CPU, DONE_IO, ARRIVE = 0, 1, 2  # event codes: (time, index * 3 + code)

    def take_turn(i: int, g: int, t: float) -> None:
        nonlocal cores_free
        running[g] = 1
        cores_free -= 1
        length = left[i] if quantum is None or left[i] <= quantum else quantum
        turn[i], turn_start[i] = length, t
        if resuming[i]:
            resume[i] = t
        elif not computed[i]:
            computed[i] = 1
            cpu_start[i] = t
        push(heap, (t + length, i * 3 + DONE_CPU))

    def want_cpu(i: int, t: float) -> None:
        g = group[i]
        if not running[g] and cores_free:
            take_turn(i, g, t)
            return
        group_queue[g].append(i)
        if not running[g] and not queued_group[g]:
            queued_group[g] = 1
            waiting_groups.append(g)

    def next_turns(t: float) -> None:
        """Cores are free: give them to the groups waiting longest, first come first."""
        while cores_free and waiting_groups:
            g = waiting_groups.popleft()
            queued_group[g] = 0
            if running[g] or not group_queue[g]:
                continue
            take_turn(group_queue[g].popleft(), g, t)

    single = server.groups == 1  # one GIL or loop, one core: no group ever waits for a core

    def release(g: int, t: float) -> None:
        nonlocal cores_free
        running[g] = 0
        cores_free += 1
        if single:  # the same as below, without the bookkeeping between groups
            if group_queue[0]:
                take_turn(group_queue[0].popleft(), 0, t)
            return
        if group_queue[g] and not queued_group[g]:
            queued_group[g] = 1
            waiting_groups.append(g)
        if waiting_groups:  # (next_turns' own test, made here: most releases need none)
            next_turns(t)

    group_of = None if server.groups == 1 else server.group_of  # one group: all are 0

    def begin(i: int, t: float) -> None:
        start[i] = t
        if group_of is not None:
            group[i] = group_of(i, lane[i])
        if busy[i] > 0:
            left[i] = busy[i]
            want_cpu(i, t)
        else:
            cpu_start[i] = cpu_end[i] = t
            after_cpu(i, t)

    def after_cpu(i: int, t: float) -> None:
        if wait[i] > 0:
            push(heap, (t + wait[i], i * 3 + DONE_IO))
        else:
            io_end[i] = resume[i] = t
            finish(i, t)

    def done_cpu(i: int, t: float) -> None:
        g = group[i]
        left[i] -= turn[i]
        if left[i] > 1e-12:  # asked to hand the GIL over, or carries on alone
            if group_queue[g]:
                slices.setdefault(i, []).append((turn_start[i], t))
                left[i] += switch          # the hand-off is paid when it gets the GIL back
                group_queue[g].append(i)
                release(g, t)
            else:
                length = left[i] if left[i] <= quantum else quantum
                turn[i] = length
                push(heap, (t + length, i * 3 + DONE_CPU))
            return
        if slices and i in slices:
            slices[i].append((turn_start[i], t))
        release(g, t)
        if resuming[i]:
            finish(i, t)
        else:
            cpu_end[i] = t
            after_cpu(i, t)

    def done_io(i: int, t: float) -> None:
        io_end[i] = t
        if back > 0:
            resuming[i] = 1
            left[i] = back
            want_cpu(i, t)
        else:
            resume[i] = t
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
            if group_of is not None:
                lane[i] = group_of(i, 0)
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
            i = code // 3
            kind = code - 3 * i
            if kind == DONE_CPU:
                done_cpu(i, t)
            elif kind == DONE_IO:
                done_io(i, t)
            else:
                arrive(i, t)
        elif k < n_sched:
            arrive(scheduled[k], next_arrival)
            k += 1
        else:
            break
    return (arrival, start, cpu_start, cpu_end, io_end, resume, end, lane, cpu_need,
            slices)
