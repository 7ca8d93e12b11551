"""`make bench`, real servers: every server setup under wrk, the same app, one table.

For each setup installed here (gateway_lab.servers.EVERY_SETUP: gunicorn sync,
gthread and gevent, uWSGI, uvicorn with 1 and 2 workers, hypercorn, granian
ASGI and WSGI) the lab starts the real server, runs wrk on lesson 06's three
workloads at each concurrency level, holds 1,000 idle SSE streams, and stops
it.  The table shows measured throughput and p99 beside the simulator's
prediction; the verdicts on the three claims are computed from the same run.
Results go to bench/servers_results.json (and the curves to --png).

    python bench/servers.py [--quick] [--only uvicorn,gunicorn] [--workloads io,cpu]
                            [--out FILE] [--png FILE]

--quick: one level (16 connections), 1 s per point, 200 idle streams: a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway_lab.servers import EVERY_SETUP, showdown  # noqa: E402


def _load():
    """The 1-minute load average (None where the OS has none): a busy machine's numbers
    are not an idle machine's, so the results say which they were."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated server names or setup labels, "
                                       "e.g. 'uvicorn' or 'uvicorn 1' (default: all)")
    parser.add_argument("--workloads", default="io,cpu,mixed",
                        help="comma-separated, from io, cpu, mixed (default: all three)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "servers_results.json")
    parser.add_argument("--png", type=Path, help="also draw the curves to this file")
    args = parser.parse_args(argv)
    setups = EVERY_SETUP
    if args.only:
        names = {n.strip() for n in args.only.split(",") if n.strip()}
        setups = tuple(s for s in setups if s.server in names or s.label in names)
        if not setups:
            print(f"no setup of {sorted(names)} in {[s.label for s in EVERY_SETUP]}",
                  file=sys.stderr)
            return 2
    levels, seconds, idle = ((16,), 1, 200) if args.quick else ((1, 16, 64), 2, 1000)
    t0 = time.monotonic()
    load_before = _load()
    workloads = tuple(w.strip() for w in args.workloads.split(",") if w.strip())
    run = showdown(setups, workloads=workloads, connections=levels, duration=seconds, idle=idle,
                   progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True))
    load = (load_before, _load())
    print(f"Real servers (issue 18): wrk, {seconds} s per point, on {platform.machine()} "
          f"with Python {platform.python_version()}; {os.cpu_count()} cores, load average "
          f"{load[0]} before, {load[1]} after (wrk, the servers and anything else running "
          "share the cores)\n")
    print(run)
    out = run.to_dict() | {"quick": args.quick, "seconds": round(time.monotonic() - t0, 1),
                           "python": platform.python_version(), "cores": os.cpu_count(),
                           "load_average": {"before": load[0], "after": load[1]}}
    args.out.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"\nwrote {args.out}")
    if args.png and run.points:
        run.curves().savefig(args.png, dpi=110)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
