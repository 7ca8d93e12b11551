"""The Timeline: what happened to every request of a run, and its summary.

One *span* per request: which worker served it (its *lane*), when it
arrived, when a worker started on it, when it ended, the HTTP status, and
the *phases* inside ("queued" waiting for a worker or for the CPU, "cpu"
computing, "io" waiting, "blocked" waiting while holding an event loop).
Times are seconds from the start of the run.

Real runs (`run_many`) and simulated runs (`simulate`) return the same type,
so every view works on both.  A simulated run may hold 100,000 spans, so the
numbers live in compact columns (`array`) and `Span` objects are only built
when someone asks for them.

The summary follows the usual load-testing words:

* latency: end - arrival, what one client waits (p50/p95/p99: half, 95 %,
  99 % of the requests were answered at least this fast);
* makespan: first arrival to last end, how long the whole batch took;
* throughput: completed requests per second of makespan;
* peak concurrency: the most requests being served at the same moment
  (queued requests do not count: they are waiting, not served).
"""

from __future__ import annotations

import html
import math
import operator
from array import array


class Span:
    """One request on the timeline."""

    __slots__ = ("arrival", "end", "index", "lane", "long_lived", "phases", "start", "status")

    def __init__(self, index, lane, arrival, start, end, status, phases, long_lived=False):
        self.index = index
        self.lane = lane
        self.arrival = arrival
        self.start = start
        self.end = end
        self.status = status
        self.phases = phases  # [(kind, start, end)]: "cpu", "io", "queued", "blocked"
        self.long_lived = long_lived

    @property
    def latency(self) -> float:
        return self.end - self.arrival

    def time_in(self, kind: str) -> float:
        """Seconds spent in phases of `kind` ("queued": waiting for a worker or the CPU)."""
        return sum(e - s for k, s, e in self.phases if k == kind)

    def __repr__(self) -> str:
        return (f"<Span #{self.index} lane {self.lane} {self.start:.3f}-{self.end:.3f} s "
                f"status {self.status}>")


_gantt = None  # the chart Timeline.plot() draws, chosen at its first use


class Timeline:
    """The spans of one run (real or simulated) of one worker model."""

    def __init__(self, model: str, source: str, *, arrival, start, end, lane, status,
                 phases, lane_names=None, long_lived: int = 0, notes=(), exchanges=None,
                 findings=(), workload: str = ""):
        self.model = model          # e.g. "Threads(4)"
        self.source = source        # "real" or "simulated"
        self.workload = workload    # a one-line description, for titles
        self._arrival = array("d", arrival)
        self._start = array("d", start)
        self._end = array("d", end)
        self._lane = array("l", lane)
        self._status = array("h", status)
        # A list of phase lists (real runs), or a function index -> phases
        # (simulated runs compute them from their columns on demand).
        self._phases = phases
        self.lane_names = dict(lane_names or {})
        self.long_lived = long_lived  # spans 0 .. long_lived-1 are long-lived connections
        self.notes = list(notes)      # what the run noticed, in words (e.g. a blocked loop)
        self.exchanges = exchanges    # real runs in this process: each request's Exchange
        self._findings = list(findings)  # real runs in other processes: their findings
        self._spans: list[Span] | None = None
        self._summary = None

    # -- spans --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._start)

    def span(self, i: int) -> Span:
        phases = self._phases(i) if callable(self._phases) else self._phases[i]
        return Span(i, self._lane[i], self._arrival[i], self._start[i], self._end[i],
                    self._status[i], phases, i < self.long_lived)

    @property
    def spans(self) -> list[Span]:
        if self._spans is None:
            self._spans = [self.span(i) for i in range(len(self))]
        return self._spans

    def __iter__(self):
        return iter(self.spans)

    def __getitem__(self, i):
        if self._spans is not None:
            return self._spans[i]
        # Not built yet: build only the spans asked for (tl[99_999] of a big simulation).
        if isinstance(i, slice):
            return [self.span(k) for k in range(*i.indices(len(self)))]
        i = operator.index(i)  # a TypeError for tl["x"], as a list gives
        k = i + len(self) if i < 0 else i
        if not 0 <= k < len(self):
            raise IndexError(f"span index {i} out of range (the run has {len(self)} spans)")
        return self.span(k)

    @property
    def lanes(self) -> list[int]:
        """The workers that served at least one request, in order."""
        return sorted(set(self._lane))

    def lane_name(self, lane: int) -> str:
        return self.lane_names.get(lane, f"worker {lane}")

    def rows(self) -> list[tuple]:
        """Every span as a plain tuple (index, lane, arrival, start, end, status, phases)."""
        return [(s.index, s.lane, s.arrival, s.start, s.end, s.status, tuple(s.phases))
                for s in self.spans]

    def to_dict(self, limit: int = 1000) -> dict:
        """JSON-ready: the summary, the lanes and the first `limit` spans."""
        return {
            "model": self.model, "source": self.source, "workload": self.workload,
            "summary": dict(self.summary()), "notes": self.notes,
            "lanes": {str(k): self.lane_name(k) for k in self.lanes},
            "spans": [{"index": s.index, "lane": s.lane, "arrival": s.arrival,
                       "start": s.start, "end": s.end, "status": s.status,
                       "phases": [list(p) for p in s.phases]}
                      for s in (self.span(i) for i in range(min(limit, len(self))))],
        }

    @property
    def findings(self) -> list:
        """The gateway's findings over all requests (real runs), one per rule and message."""
        seen, out = set(), []
        every = [f for ex in self.exchanges or () for f in getattr(ex, "findings", ()) or ()]
        for f in every + self._findings:
            key = (f.rule, f.message)
            if key not in seen:
                seen.add(key)
                out.append(f)
        return out

    # -- summary ---------------------------------------------------------------
    @property
    def makespan(self) -> float:
        return self.summary()["makespan"]

    def summary(self) -> Summary:
        if self._summary is None:
            self._summary = _summarize(self)
        return self._summary

    def plot(self, **kw):
        """A Gantt chart of this run (matplotlib, see gateway_lab.concurrency.chart; where
        matplotlib cannot be imported, as in a browser, the same chart in SVG: svgchart)."""
        global _gantt
        if _gantt is None:
            try:
                import matplotlib  # noqa: F401 - only whether it is there

                from .chart import gantt as _gantt
            except ImportError:
                from .svgchart import gantt as _gantt
        return _gantt(self, **kw)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<Timeline {self.model} ({self.source}): {s['requests']} requests, "
                f"makespan {s['makespan']:.3f} s, {s['throughput']:.1f} req/s>")

    def __str__(self) -> str:
        text = str(table([self]))
        return text + "".join(f"\nnote: {n}" for n in self.notes)

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return table([self])._repr_html_() + notes


class Summary(dict):
    """The numbers of one run; keys are also attributes (`s.makespan`, `s["p95"]`)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __str__(self) -> str:
        width = max(map(len, self))
        return "\n".join(f"{k:<{width}}  {_fmt(k, v)}" for k, v in self.items())

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:right'>{html.escape(_fmt(k, v))}</td></tr>"
                       for k, v in self.items())
        return f"<table>{rows}</table>"


def percentile(sorted_values, q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def peak_concurrency(starts, ends) -> int:
    """The most intervals [start, end) open at one moment (a sweep over both ends)."""
    starts, ends = sorted(starts), sorted(ends)
    peak = now = j = 0
    for s in starts:
        while j < len(ends) and ends[j] <= s:  # one that ends as another starts: not both
            now -= 1
            j += 1
        now += 1
        peak = max(peak, now)
    return peak


def _summarize(tl: Timeline) -> Summary:
    n = len(tl)
    first = tl.long_lived if tl.long_lived < n else 0  # latency is about ordinary requests
    arrival, end, status = tl._arrival[first:], tl._end[first:], tl._status[first:]
    done = [i for i in range(len(end)) if 0 < status[i] < 500]
    latencies = sorted(end[i] - arrival[i] for i in done)
    makespan = (max(end) - min(arrival)) if len(end) else 0.0
    return Summary(
        model=tl.model,
        source=tl.source,
        requests=len(end),
        completed=len(done),
        failed=len(end) - len(done),
        makespan=makespan,
        throughput=len(done) / makespan if makespan > 0 else 0.0,
        mean=sum(latencies) / len(latencies) if latencies else math.nan,
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
        peak_concurrency=peak_concurrency(tl._start, tl._end),
        **({"long_lived": tl.long_lived} if tl.long_lived else {}),
    )


_UNITS = {"makespan": "s", "mean": "s", "p50": "s", "p95": "s", "p99": "s",
          "throughput": "req/s"}


def _fmt(key: str, value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if _UNITS.get(key) == "s":
            return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"
        return f"{value:,.1f} {_UNITS.get(key, '')}".rstrip()
    return str(value)


class Table:
    """Several runs side by side: one row per run (str for a terminal, HTML for Jupyter)."""

    COLUMNS = ("model", "source", "requests", "failed", "makespan", "throughput", "p50", "p95",
               "p99", "peak_concurrency")
    HEADINGS = ("model", "run", "requests", "failed", "makespan", "throughput", "p50", "p95",
                "p99", "peak conc.")

    def __init__(self, timelines):
        self.summaries = [tl.summary() for tl in timelines]

    def rows(self) -> list[list[str]]:
        return [[_fmt(c, s[c]) for c in self.COLUMNS] for s in self.summaries]

    def __str__(self) -> str:
        rows = [list(self.HEADINGS), *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.COLUMNS))]
        lines = []
        for n, row in enumerate(rows):
            cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                     enumerate(zip(row, widths, strict=True))]
            lines.append("  ".join(cells).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.HEADINGS)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:{'left' if i < 2 else 'right'}'>"
                             f"{html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
            for row in self.rows())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table(timelines) -> Table:
    """A comparison table of several timelines (`print(table([a, b]))` or show it in Jupyter)."""
    return Table(list(timelines))
