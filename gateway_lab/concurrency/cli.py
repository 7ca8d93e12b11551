"""`gateway-lab race`: the same workload on every worker model, side by side.

    gateway-lab race --workload io --requests 40            real runs, a few seconds
    gateway-lab race --workload cpu --simulate --requests 100000 --png race.png

Real runs use the lab's demo apps (gateway_lab.concurrency.apps): the WSGI
app on threads and processes, the ASGI app on the event loop, as each kind
of server would run them.  Simulated runs use the same costs in virtual time.
"""

from __future__ import annotations

import argparse
import sys

from . import apps
from .models import EventLoop, Processes, ProcessPerRequest, RunError, Sequential, Threads
from .real import run_many
from .simulate import simulate
from .timeline import table

MODELS = {
    "sequential": Sequential(),
    "threads": Threads(4),
    "processes": Processes(4),
    "cgi": ProcessPerRequest(),
    "eventloop": EventLoop(),
}
DEFAULT_MODELS = "sequential,threads,processes,eventloop"
APP = "gateway_lab.concurrency.apps:"  # by name, so worker processes can import them


def _real(name: str, n: int, model, timeout: float):
    if isinstance(model, EventLoop):
        requests = apps.requests_for(name, n, websocket=True)
        return run_many(APP + "asgi_app", requests, model=model, timeout=timeout)
    return run_many(APP + "wsgi_app", apps.requests_for(name, n), model=model, timeout=timeout)


def _models(text: str) -> list:
    chosen = []
    for name in filter(None, (part.strip().lower() for part in text.split(","))):
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
        chosen.append(MODELS[name])
    if not chosen:
        raise ValueError("--models needs at least one model")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gateway-lab race",
        description="Run one workload on several worker models and compare them.")
    parser.add_argument("--workload", choices=list(apps.WORKLOADS), default="io",
                        help="; ".join(f"{k}: {v[1]}" for k, v in apps.WORKLOADS.items()))
    parser.add_argument("--requests", type=int, default=40, metavar="N",
                        help="requests per model (default 40)")
    parser.add_argument("--simulate", action="store_true",
                        help="run in virtual time (any N, deterministic) instead of for real")
    parser.add_argument("--models", default=DEFAULT_MODELS,
                        help=f"comma-separated, from {', '.join(MODELS)} "
                             f"(default {DEFAULT_MODELS})")
    parser.add_argument("--png", metavar="FILE", help="write the timelines as a chart")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds each real request may take (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a simulated run")
    args = parser.parse_args(argv)
    try:
        models = _models(args.models)
        limit = 1_000_000 if args.simulate else 2000
        if not 1 <= args.requests <= limit:
            raise ValueError(f"--requests must be between 1 and {limit:,}"
                             + ("" if args.simulate else " for real runs (use --simulate)"))
        if args.timeout <= 0:
            raise ValueError("--timeout must be > 0")
    except ValueError as error:
        print(f"gateway-lab race: {error}", file=sys.stderr)
        return 2
    print(f"workload {args.workload}: {apps.WORKLOADS[args.workload][1]}; "
          f"{args.requests:,} requests, {'simulated' if args.simulate else 'real runs'}")
    timelines = []
    for model in models:
        try:
            if args.simulate:
                tl = simulate(model, apps.workload(args.workload, args.requests, seed=args.seed))
            else:
                tl = _real(args.workload, args.requests, model, args.timeout)
        except RunError as error:
            print(f"gateway-lab race: {model.label}: {error}", file=sys.stderr)
            return 1
        timelines.append(tl)
    print(table(timelines))
    for tl in timelines:
        for note in tl.notes:
            print(f"note ({tl.model}): {note}")
        for finding in tl.findings:
            print(f"finding ({tl.model}): {finding.rule}: {finding.message}")
    if args.workload == "websocket":  # what holding connections open costs, measured here
        from .memory import idle_connection_cost

        try:
            costs = idle_connection_cost(1000)
        except RunError as error:
            print(f"memory per idle connection: not measured ({error})")
        else:
            print("memory per idle connection, measured with 1,000 of each:")
            print(f"  {costs['threads']}\n  {costs['tasks']}")
    if args.png:
        from .chart import compare, save

        try:  # matplotlib is imported only when the chart is drawn, inside compare()
            fig = compare(timelines)
        except ImportError as error:
            print(f"gateway-lab race: --png needs matplotlib ({error}); "
                  "pip install 'gateway-lab[lab]'", file=sys.stderr)
            return 1
        try:
            save(fig, args.png)
        except OSError as error:
            print(f"gateway-lab race: cannot write {args.png}: {error}", file=sys.stderr)
            return 1
        print(f"wrote {args.png}")
    return 0
