"""A real load generator, wrk, with a small Python face.

    result = loadtest(srv.url + "?io=0.05", connections=16, duration=2)
    result.summary()      # throughput, p50/p95/p99, errors: the lab's Summary shape

wrk (https://github.com/wg/wrk; Debian/Ubuntu `apt install wrk`, macOS `brew
install wrk`) keeps `connections` HTTP/1.1 connections open, each sending its
next request as soon as the previous answer arrives, for `duration` seconds,
on `threads` OS threads.  That is a *closed* loop: at most `connections`
requests are in flight, which is what "concurrency" means below.

Its results come out through its Lua API (wrk's SCRIPTING file): a `done()`
function receives the summary (duration, requests, errors by kind) and the
latency histogram, and prints them here as one JSON line, which is parsed
into a `LoadResult`.

`rate=` paces the clients: each connection waits connections/rate seconds
(wrk's `delay()` hook) before sending its next request, so the offered load
is at most `rate` requests per second.  This is still a closed loop: a
server that falls behind makes the clients send less (the flaw wrk2 and
oha's `-q` were written to avoid), so read a paced run's latency with that
in mind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from urllib.parse import urlsplit

from ..browser import IN_BROWSER, NO_PROCESSES, why
from ..concurrency.timeline import Summary, _fmt
from .catalog import NotInstalled

MARK = "GATEWAY_LAB_WRK "
PERCENTILES = (50, 75, 90, 95, 99, 99.9)
MAX_DURATION = 600
MAX_CONNECTIONS = 10_000

# The report, as wrk's done() hook: counts and percentiles (in microseconds) as JSON.
# %.0f, not %d: LuaJIT's %d rejects the huge sentinel wrk keeps as `min` of no samples.
REPORT_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  local p = {}
  for _, q in ipairs({%(percentiles)s}) do
    p[#p + 1] = string.format('"%%s": %%.0f', tostring(q), latency:percentile(q))
  end
  io.write(string.format('%(mark)s{"duration_us": %%.0f, "requests": %%.0f, ' ..
    '"bytes": %%.0f, "errors": {"connect": %%.0f, "read": %%.0f, "write": %%.0f, ' ..
    '"status": %%.0f, "timeout": %%.0f}, "latency_us": {"min": %%.0f, "max": %%.0f, ' ..
    '"mean": %%.1f, "stdev": %%.1f, "percentiles": {%%s}}}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.min, latency.max, latency.mean, latency.stdev,
    table.concat(p, ", ")))
end
"""
# Pacing, only when a rate is asked for (wrk times every request once delay() exists).
DELAY_LUA = """
function delay()
  return %(pause_ms).3f
end
"""


def wrk_path() -> str:
    if IN_BROWSER:
        raise NotInstalled(why("wrk", NO_PROCESSES))
    path = shutil.which("wrk")
    if path is None:
        raise NotInstalled("wrk is not installed here: `apt install wrk` (Debian, Ubuntu), "
                           "`brew install wrk` (macOS); on Windows run the lab in WSL")
    return path


def lua_script(rate: float | None, connections: int) -> str:
    text = REPORT_LUA % {"percentiles": ", ".join(map(str, PERCENTILES)), "mark": MARK}
    if rate:
        text += DELAY_LUA % {"pause_ms": connections * 1000.0 / rate}
    return text


class LoadResult:
    """What one wrk run measured: counts, errors by kind, latency percentiles."""

    def __init__(self, label: str, url: str, connections: int, threads: int, data: dict,
                 *, rate: float | None = None, workload: str = "", output: str = ""):
        self.label = label
        self.url = url
        self.connections = connections
        self.threads = threads
        self.rate = rate
        self.workload = workload
        self.data = data          # wrk's numbers as its done() hook printed them
        self.output = output      # wrk's own text report

    @property
    def duration(self) -> float:
        return self.data["duration_us"] / 1e6

    @property
    def errors(self) -> dict:
        return dict(self.data["errors"])

    def percentile(self, q: float) -> float:
        """Latency percentile q (one of PERCENTILES), in seconds; NaN without answers."""
        if not self.data["requests"]:
            return math.nan
        return self.data["latency_us"]["percentiles"][str(q)] / 1e6

    def summary(self) -> Summary:
        """The lab's summary shape (as `Timeline.summary()`): requests answered, failed,
        throughput of good answers per second, latency percentiles in seconds."""
        d = self.data
        answered = int(d["requests"])
        bad_status = int(d["errors"]["status"])
        failed = bad_status + sum(int(d["errors"][k]) for k in ("connect", "read", "write",
                                                                   "timeout"))
        ok = answered - bad_status
        mean = d["latency_us"]["mean"] / 1e6 if answered else math.nan
        return Summary(model=self.label, source="real (wrk)", workload=self.workload,
                       connections=self.connections, requests=answered, completed=ok,
                       failed=failed, makespan=self.duration,
                       throughput=ok / self.duration if self.duration > 0 else 0.0,
                       mean=mean, p50=self.percentile(50), p95=self.percentile(95),
                       p99=self.percentile(99))

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<LoadResult {self.label} c={self.connections}: {s.throughput:,.1f} req/s, "
                f"p99 {_fmt('p99', s.p99)}, {s.failed} failed>")

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_dict(self) -> dict:
        return {"label": self.label, "url": self.url, "connections": self.connections,
                "threads": self.threads, "rate": self.rate, "workload": self.workload,
                "summary": {k: v for k, v in self.summary().items()}, "wrk": self.data}


def parse(output: str) -> dict:
    """The JSON line our done() hook printed, from wrk's whole output."""
    for line in output.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise ValueError("wrk printed no report (did it start? its output ends with: "
                     f"{output.strip().splitlines()[-3:] if output.strip() else 'nothing'})")


def _check(connections, duration, threads, rate, timeout) -> None:
    def whole(value, name, low, high):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high:,}, "
                             f"not {value!r}")

    whole(connections, "connections", 1, MAX_CONNECTIONS)
    whole(duration, "duration (whole seconds: wrk's resolution)", 1, MAX_DURATION)
    whole(threads, "threads", 1, 64)
    if threads > connections:
        raise ValueError(f"threads ({threads}) cannot exceed connections ({connections}): "
                         "each wrk thread needs a connection")
    if rate is not None and not (isinstance(rate, (int, float)) and rate > 0):
        raise ValueError(f"rate must be requests per second > 0, not {rate!r}")
    if not (isinstance(timeout, (int, float)) and 0 < timeout <= 60):
        raise ValueError(f"timeout must be seconds in (0, 60], not {timeout!r}")


def loadtest(url: str, *, connections: int = 10, duration: int = 2, threads: int = 1,
             rate: float | None = None, timeout: float = 5.0, label: str = "",
             workload: str = "") -> LoadResult:
    """Run wrk against `url` and return what it measured.

    connections  requests in flight at once (wrk -c): the concurrency
    duration     whole seconds (wrk -d)
    threads      wrk's own OS threads (wrk -t); 1 leaves the CPU to the server
    rate         pace the clients to at most this many requests per second
    timeout      a request slower than this counts as an error (wrk --timeout)
    """
    _check(connections, duration, threads, rate, timeout)
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"wrk needs an http:// URL, not {url!r}")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        # A load test is aimed at your own machine: a busy loop at someone else's server
        # is an attack, whatever it is called.
        raise ValueError(f"the lab load-tests servers on this machine only, not {url!r}")
    wrk = wrk_path()
    fd, script = tempfile.mkstemp(prefix="gateway-lab-wrk-", suffix=".lua")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(lua_script(rate, connections))
        cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
               "--timeout", f"{max(1, math.ceil(timeout))}s", "-s", script, url]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=duration + timeout + 30)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"wrk did not finish within {duration + timeout + 30:g} s") \
                from None
    finally:
        os.unlink(script)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {output.strip()[-500:]}")
    return LoadResult(label or url, url, connections, threads, parse(output), rate=rate,
                      workload=workload, output=done.stdout)
