"""`gateway-lab loadtest`: a real server under wrk, from the command line.

    gateway-lab loadtest --server uvicorn --workload io --concurrency 1,16 --duration 2
    gateway-lab loadtest --server gunicorn --worker-class gthread --workers 2 --threads 4
    gateway-lab loadtest --server granian --app myapp:app --path /items --concurrency 32
    gateway-lab loadtest --showdown [--all] [--png curves.png] [--json out.json]

One server: starts it on 127.0.0.1 with the app (by default the lab's app for
its interface), runs wrk at each concurrency, prints measured beside
predicted (the simulator's nearest worker model; for the lab's workloads
only), stops the server.  `--showdown` runs several setups on every workload
and prints the tables and the verdicts on the three claims.
Exit status: 0 done, 1 a run failed, 2 usage or something not installed.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..concurrency import apps as work
from .catalog import SERVERS, NotInstalled, Setup
from .loadgen import loadtest
from .process import ServerError
from .showdown import (
    DEFAULT_SETUPS,
    EVERY_SETUP,
    WORKLOADS,
    Point,
    Showdown,
    drain,
    predict,
    showdown,
)


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--concurrency takes numbers like 1,16, not {text!r}")\
            from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("--concurrency needs whole numbers >= 1")
    return levels


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway-lab loadtest", description=__doc__.split(
        "\n\n")[0].split(": ", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", choices=list(SERVERS), default="uvicorn")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--threads", type=int, default=1, help="threads per process (default 1)")
    p.add_argument("--worker-class", choices=("sync", "gthread", "gevent"),
                   help="gunicorn's worker type")
    p.add_argument("--interface", choices=("wsgi", "asgi"), help="granian: which interface")
    p.add_argument("--app", help="module:attr (default: the lab's app, "
                                 "gateway_lab.servers.apps)")
    p.add_argument("--workload", choices=list(WORKLOADS),
                   help="; ".join(f"{w}: {work.WORKLOADS[w][1]}" for w in WORKLOADS)
                   + " (default io; --showdown: all three)")
    p.add_argument("--path", help="request this path instead of a workload (your own app)")
    p.add_argument("--concurrency", type=_levels, default=(1, 16),
                   help="connections held by wrk, comma-separated (default 1,16)")
    p.add_argument("--duration", type=int, default=2, help="seconds per level (default 2)")
    p.add_argument("--rate", type=float, help="pace wrk to at most this many requests/s")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk's threads (default 1)")
    p.add_argument("--showdown", action="store_true",
                   help="several setups on every workload, with verdicts")
    p.add_argument("--all", action="store_true", help="--showdown: every server setup")
    p.add_argument("--idle", type=int, default=1000,
                   help="--showdown: idle long-lived streams per setup (default 1000)")
    p.add_argument("--png", help="--showdown: write the curves to this file")
    p.add_argument("--json", help="write the results as JSON to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.showdown:
            return _showdown(args)
        return _one(args)
    except (NotInstalled, ValueError) as error:
        print(f"gateway-lab loadtest: {error}", file=sys.stderr)
        return 2
    except (ServerError, RuntimeError) as error:
        print(f"gateway-lab loadtest: {error}", file=sys.stderr)
        return 1


def _one(args) -> int:
    from .server import start

    setup = Setup(args.server, args.workers, args.threads, args.worker_class, args.interface)
    args.workload = args.workload or "io"
    path = args.path or f"/?{work.WORKLOADS[args.workload][0]}"
    if not path.startswith("/"):
        raise ValueError(f"--path must start with '/', not {args.path!r}")
    ours = args.app is None and args.path is None  # predictions need the lab's workload
    run = Showdown([setup], (args.workload,), args.concurrency, args.duration)
    with start(setup, args.app) as srv:
        print(f"{setup.label}: {srv.app} at {srv.url} ({len(srv.pids())} processes, "
              f"answered after {srv.started_in:.2f} s)")
        for c in args.concurrency:
            result = loadtest(srv.url.rstrip("/") + path, connections=c,
                              duration=args.duration, threads=min(args.wrk_threads, c),
                              rate=args.rate, label=setup.label, workload=args.workload
                              if ours else path)
            answered = int(result.data["requests"])
            guess = predict(setup, args.workload, c, answered) if ours and not args.rate \
                else None
            run.points.append(Point(setup, args.workload if ours else path, c, result, guess))
            drain(srv)
    print(run.table())
    if run.points and srv.group.leftovers:
        print(f"warning: processes still running after stop: {srv.group.leftovers}")
    _write_json(args.json, run.to_dict())
    return 1 if any(p.measured.summary().failed for p in run.points) else 0


def _showdown(args) -> int:
    setups = EVERY_SETUP if args.all else DEFAULT_SETUPS
    run = showdown(setups, workloads=(args.workload,) if args.workload else WORKLOADS,
                   connections=args.concurrency,
                   duration=args.duration, idle=args.idle,
                   progress=lambda text: print(f"  {text}", file=sys.stderr))
    print(run)
    if args.png:
        run.curves().savefig(args.png, dpi=110)
        print(f"wrote {args.png}")
    _write_json(args.json, run.to_dict())
    return 0


def _write_json(path: str | None, data: dict) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=2, default=float)
            f.write("\n")
        print(f"wrote {path}")
