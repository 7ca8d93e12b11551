"""The concurrency lab: many requests at once, for real and in virtual time.

    import gateway_lab as gl
    tl = gl.run_many(app, requests, model=gl.Threads(4))      # real threads
    tl = gl.simulate(gl.EventLoop(), gl.Workload(requests=100_000, io=0.05))
    tl.summary()                    # throughput, p50/p95/p99, makespan, peak concurrency
    tl.plot()                       # a Gantt chart (matplotlib, loaded only then)

Modules, in reading order: models (the worker models), phases (how an app
marks computing and waiting), timeline (spans and summaries), real (runs
with real threads, processes and asyncio), simulate (the same in virtual
time), memory (what an idle connection costs), chart (the pictures), cli
(`gateway-lab race`), apps (ready-made apps for races).
"""

from .memory import idle_connection_cost
from .models import EventLoop, Processes, ProcessPerRequest, RunError, Sequential, Threads
from .phases import cpu, io, io_sync
from .real import measure_overhead, run_many
from .simulate import Costs, Workload, simulate
from .timeline import Span, Summary, Timeline, table

__all__ = [
    "Costs", "EventLoop", "ProcessPerRequest", "Processes", "RunError", "Sequential", "Span",
    "Summary", "Threads", "Timeline", "Workload", "cpu", "idle_connection_cost", "io", "io_sync",
    "measure_overhead", "run_many", "simulate", "table",
]
