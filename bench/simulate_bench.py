"""How fast the concurrency lab simulates: requests per second of host time, per model.

    python bench/simulate_bench.py [--requests 100000] [--rounds 3]

Each model simulates the same open workload (Poisson arrivals, a little CPU
and a 50 ms wait per request); the best of `rounds` is reported, with the
time to summarize the timeline (percentiles, peak concurrency) separately.
An event loop's offload threads only serve sync (WSGI) code, so that row runs
the same workload with style="sync"; on awaiting code it would repeat EventLoop().
Results go to bench/simulate_results.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import gateway_lab as gl

ROOT = Path(__file__).resolve().parents[1]

# (model, how the app waits): "async" awaits, "sync" is a WSGI app in offload threads
CASES = [(gl.Sequential(), "async"), (gl.Threads(8), "async"),
         (gl.Processes(4, cores=4), "async"), (gl.ProcessPerRequest(), "async"),
         (gl.EventLoop(), "async"), (gl.EventLoop(offload=gl.Threads(8)), "sync")]


def bench(model, workload: gl.Workload, rounds: int) -> dict:
    best_sim = best_sum = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        tl = gl.simulate(model, workload)
        mid = time.perf_counter()
        tl.summary()
        best_sim = min(best_sim, mid - start)
        best_sum = min(best_sum, time.perf_counter() - mid)
    return {"model": model.label, "style": workload.style, "requests": workload.requests,
            "simulate_s": best_sim, "summary_s": best_sum,
            "requests_per_s": workload.requests / best_sim}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    workload = gl.Workload(requests=args.requests, rate=1000, cpu=0.0005, io=0.05, seed=1)
    rows = [bench(m, dataclasses.replace(workload, style=style), args.rounds)
            for m, style in CASES]
    print(f"{'model':<32} {'style':<6} {'simulate':>10} {'summary':>10} "
          f"{'req/s of host time':>20}")
    for r in rows:
        print(f"{r['model']:<32} {r['style']:<6} {r['simulate_s']:>9.3f}s "
              f"{r['summary_s']:>9.3f}s {r['requests_per_s']:>20,.0f}")
    out = {"python": platform.python_version(), "machine": platform.machine(),
           "workload": workload.describe(), "results": rows}
    (ROOT / "bench" / "simulate_results.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
