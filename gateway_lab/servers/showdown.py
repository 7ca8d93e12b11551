"""The showdown on real servers: the same workloads, measured, predicted, judged.

    run = showdown()                     # a small default: seconds, not minutes
    run.table()                          # every point: measured beside predicted
    run.curves()                         # throughput and p99 latency vs concurrency
    run.idle_table()                     # 1,000 idle long-lived connections, memory each
    for v in run.verdicts(): print(v)    # each claim, judged from this run's numbers

For each server setup the lab starts the real server with its app for that
interface (gateway_lab.servers.apps), then:

1. for each workload of lesson 06 (`io`: a 50 ms wait, `cpu`: 20 ms of
   computing, `mixed`: 5 ms, then a 50 ms wait; gateway_lab.concurrency.apps)
   and each concurrency, runs wrk for `duration` seconds, and asks the
   simulator (`gl.simulate`) what the setup's nearest worker model predicts
   for the same closed loop of clients;
2. tries a WebSocket handshake (probe.py);
3. opens `idle` long-lived SSE streams and measures the servers' memory
   (idle.py);
4. stops the server (and checks that nothing of it is left running).

The verdicts are computed from those numbers; the sentences are chosen by
comparisons of measured values, and every number in them is this run's.
Everything here runs on one machine: wrk, the server and the clients share
its cores, which the simulator does not model (it gives the server every
core), so on a busy laptop the CPU-bound points fall below the prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..concurrency import apps as work
from ..concurrency.timeline import Summary, _fmt
from .catalog import Setup, predict
from .idle import IdleCost, hold_idle
from .loadgen import LoadResult, loadtest
from .probe import Probe, websocket_probe
from .server import available, start

WORKLOADS = ("io", "cpu", "mixed")
DEFAULT_SETUPS = (Setup("gunicorn", 2), Setup("gunicorn", 2, worker_class="gevent"),
                  Setup("uvicorn", 1))
EVERY_SETUP = (Setup("gunicorn", 2), Setup("gunicorn", 2, 4),
               Setup("gunicorn", 2, worker_class="gevent"), Setup("uwsgi", 2, 4),
               Setup("uvicorn", 1), Setup("uvicorn", 2), Setup("hypercorn", 2),
               Setup("granian", 2), Setup("granian", 2, 4, interface="wsgi"))
CLEAR_MARGIN = 1.15   # "faster" needs more than 15 % more throughput


@dataclass
class Point:
    setup: Setup
    workload: str
    connections: int
    measured: LoadResult
    predicted: Summary | None

    def row(self) -> dict:
        m = self.measured.summary()
        p = self.predicted
        return {"server": self.setup.label, "interface": self.setup.interface,
                "workload": self.workload, "connections": self.connections,
                "requests": m.requests, "failed": m.failed, "throughput": m.throughput,
                "p50": m.p50, "p99": m.p99, "mean wait (all)": self.mean_wait_of_all(),
                "predicted throughput": p.throughput if p else math.nan,
                "predicted p99": p.p99 if p else math.nan}

    def mean_wait_of_all(self) -> float:
        """The mean wait of every request sent, answered or not: in a closed loop each
        connection always has one request out, so by Little's law (L = X W) the mean
        wait is connections / throughput.  wrk's percentiles count only the requests
        it saw answered: a connection that waited the whole run is in neither."""
        throughput = self.measured.summary().throughput
        return self.connections / throughput if throughput > 0 else math.nan

    def unseen_waits(self) -> bool:
        """True when the mean wait of all is well above wrk's mean of the answered: some
        connections waited for an answer for much of the run, unseen by the percentiles."""
        mean = self.measured.summary().mean
        return mean > 0 and self.mean_wait_of_all() > 1.5 * mean


@dataclass
class Verdict:
    claim: str
    verdict: str          # "false", "true", "partly true", "depends", "not measured"
    evidence: str
    sources: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"\"{self.claim}\": {self.verdict.upper()}. {self.evidence}"


@dataclass
class Showdown:
    setups: list[Setup]
    workloads: tuple[str, ...]
    connections: tuple[int, ...]
    duration: int
    points: list[Point] = field(default_factory=list)
    idle: dict[str, IdleCost] = field(default_factory=dict)
    probes: dict[str, Probe] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)   # label -> how to install
    leftovers: dict[str, list[int]] = field(default_factory=dict)

    # -- looking things up -------------------------------------------------------
    def point(self, label: str, workload: str, connections: int) -> Point | None:
        return next((p for p in self.points if p.setup.label == label and
                     p.workload == workload and p.connections == connections), None)

    def throughput(self, label: str, workload: str, connections: int) -> float:
        p = self.point(label, workload, connections)
        return p.measured.summary().throughput if p else math.nan

    def _best(self, interface: str, workload: str, connections: int):
        """(label, throughput) of the fastest setup of one interface at one point."""
        rows = [(s.label, self.throughput(s.label, workload, connections))
                for s in self.setups if s.interface == interface]
        rows = [r for r in rows if not math.isnan(r[1])]
        return max(rows, key=lambda r: r[1]) if rows else None

    # -- tables ------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        return [p.row() for p in self.points]

    def table(self) -> Table:
        cols = ("server", "workload", "connections", "requests", "failed", "throughput",
                "predicted throughput", "p50", "p99", "predicted p99", "mean wait (all)")
        return Table(cols, self.rows())

    def unseen_note(self) -> str:
        """Where wrk's percentiles leave out requests that waited long (made from the run)."""
        hidden = [p for p in self.points if p.unseen_waits()]
        if not hidden:
            return ""
        where = "; ".join(
            f"{p.setup.label}, {p.workload}, {p.connections} connections: "
            f"{_fmt('p50', p.mean_wait_of_all())} against wrk's "
            f"{_fmt('p50', p.measured.summary().mean)}" for p in hidden)
        return ("p50 and p99 are wrk's, over the requests it saw answered. \"mean wait "
                "(all)\" is connections / throughput (Little's law), the mean over every "
                "request sent, answered or not. Where it is well above wrk's mean, some "
                f"connections waited for an answer for much of the run: {where}.")

    def idle_table(self) -> Table:
        rows = []
        for label, c in self.idle.items():
            per = c.per_held
            rows.append({"server": label, "clients": c.clients, "held": c.held,
                         "waiting": c.waiting, "RSS before": c.rss_before,
                         "RSS with streams open": c.rss_during, "per held stream": per,
                         "WebSocket": "accepted" if self.probes.get(label) and
                         self.probes[label].accepted else "no"})
        return Table(("server", "clients", "held", "waiting", "RSS before",
                      "RSS with streams open", "per held stream", "WebSocket"), rows)

    def to_dict(self) -> dict:
        """JSON-ready (a number that could not be measured is null, not NaN)."""
        return _json_ready({
            "setups": [s.label for s in self.setups], "workloads": list(self.workloads),
            "connections": list(self.connections), "duration": self.duration,
            "points": self.rows(), "idle": {k: v.to_dict() for k, v in self.idle.items()},
            "websocket": {k: {"accepted": v.accepted, "detail": v.detail}
                          for k, v in self.probes.items()},
            "missing": self.missing, "leftovers": self.leftovers,
            "verdicts": [v.__dict__ | {"sources": list(v.sources)} for v in self.verdicts()]})

    def curves(self, **kw):
        from .chart import curves

        return curves(self, **kw)

    # -- the claims ---------------------------------------------------------------------
    def verdicts(self) -> list[Verdict]:
        return [self._wsgi_concurrency(), self._asgi_faster(), self._websockets()]

    def _wsgi_concurrency(self) -> Verdict:
        claim = "WSGI can't handle concurrency"
        top = max(self.connections)
        wait = work._costs(work.WORKLOADS["io"][0])["io"]
        wsgi = [s for s in self.setups if s.interface == "wsgi"]
        measured = [(s, self.throughput(s.label, "io", top)) for s in wsgi]
        measured = [(s, t) for s, t in measured if not math.isnan(t)]
        if not measured or "io" not in self.workloads:
            return Verdict(claim, "not measured", "this run had no WSGI server on the io "
                                                  "workload")
        # Little's law: requests in service at once = throughput x time each one spends
        # being served (here the app's 50 ms wait).
        parts = [f"{s.label} {t:,.0f} req/s = {t * wait:.1f} requests in service at once "
                 f"(at most {s.limit_text})" for s, t in measured]
        best = max(measured, key=lambda m: m[1])
        if best[1] * wait > 1.5:
            bounded = [s.label for s, t in measured
                       if s.concurrency_limit and s.concurrency_limit < top
                       and t * wait <= s.concurrency_limit * 1.1]
            text = (f"With {top} connections each asking for a 50 ms wait: "
                    + "; ".join(parts) + ". A WSGI server serves requests concurrently with "
                    "processes, threads or greenlets.")
            if bounded:
                text += (" What is true: each request in progress holds a worker (a process "
                         "or a thread), so " + ", ".join(bounded) + " served no more at once "
                         "than " + ("it has" if len(bounded) == 1 else "each has") + ".")
            return Verdict(claim, "false", text, ("gunicorn.org/design: Worker Types",
                                                  "PEP 3333: wsgi.multithread, "
                                                  "wsgi.multiprocess"))
        return Verdict(claim, "true", "in this run no WSGI setup served more than one "
                       "request at a time: " + "; ".join(parts))

    def _asgi_faster(self) -> Verdict:
        claim = "ASGI is faster"
        top = max(self.connections)
        lines, wins = [], []
        for w in self.workloads:
            a, s = self._best("asgi", w, top), self._best("wsgi", w, top)
            if not a or not s:
                continue
            ratio = a[1] / s[1] if s[1] else (math.inf if a[1] else 1.0)
            wins.append("asgi" if ratio > CLEAR_MARGIN else
                        "wsgi" if ratio < 1 / CLEAR_MARGIN else "tie")
            lines.append(f"{w}: best ASGI {a[0]} {a[1]:,.0f} req/s, best WSGI {s[0]} "
                         f"{s[1]:,.0f} req/s ({ratio:.2f}x)")
        if not wins:
            return Verdict(claim, "not measured", "this run did not have both a WSGI and an "
                                                  "ASGI setup on the same workload")
        evidence = f"At {top} connections, " + "; ".join(lines) + "."
        if all(x == "asgi" for x in wins):
            return Verdict(claim, "true", evidence + " (for these setups on this machine; "
                           "a different worker count changes it)")
        if not any(x == "asgi" for x in wins):
            return Verdict(claim, "false", evidence + " No workload was clearly faster on ASGI "
                           f"(more than {CLEAR_MARGIN - 1:.0%} ahead).")
        return Verdict(claim, "depends", evidence + " The faster interface changed with the "
                       "workload (and these setups have different numbers of workers), so the "
                       "interface alone did not decide it.")

    def _websockets(self) -> Verdict:
        claim = "WebSockets need ASGI"
        by = {s.label: s for s in self.setups}
        wsgi = [p for lb, p in self.probes.items() if by[lb].interface == "wsgi"]
        asgi = [p for lb, p in self.probes.items() if by[lb].interface == "asgi"]
        if not wsgi or not asgi:
            return Verdict(claim, "not measured", "this run did not probe both kinds")
        text = ("WebSocket handshake: " + "; ".join(str(p) for p in wsgi + asgi) + ".")
        idle_wsgi = [(lb, c) for lb, c in self.idle.items() if by[lb].interface == "wsgi"]
        held_many = [(lb, c) for lb, c in idle_wsgi if c.held >= 0.9 * c.clients]
        if idle_wsgi:
            text += " Idle long-lived SSE streams: " + "; ".join(
                f"{lb} held {c.held:,} of {c.clients:,}" for lb, c in self.idle.items()) + "."
        sources = ("PEP 3333 (an environ and start_response; no socket)",
                   "ASGI WebSocket spec", "RFC 6455 §4", "uWSGI docs: WebSockets")
        if any(p.accepted for p in wsgi) or not any(p.accepted for p in asgi):
            return Verdict(claim, "false" if any(p.accepted for p in wsgi) else "not shown",
                           text, sources)
        text += (" So the WSGI interface gives an app no way to speak WebSocket (a server "
                 "that offers it to WSGI apps does so with an API of its own beside WSGI, "
                 "as uWSGI's uwsgi.websocket_handshake())")
        if held_many:
            text += (", but long-lived connections themselves do not need ASGI: "
                     + ", ".join(lb for lb, _ in held_many) + " held nearly all of them")
        return Verdict(claim, "partly true" if held_many else "true", text + ".", sources)

    def __str__(self) -> str:
        parts = [str(self.table())]
        if self.unseen_note():
            parts.append(self.unseen_note())
        if self.idle:
            parts.append(str(self.idle_table()))
        parts += [str(v) for v in self.verdicts()]
        parts += [f"not run: {k}: {v}" for k, v in self.missing.items()]
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        import html

        out = self.table()._repr_html_()
        if self.unseen_note():
            out += f"<p>{html.escape(self.unseen_note())}</p>"
        if self.idle:
            out += self.idle_table()._repr_html_()
        out += "".join(f"<p><b>{html.escape(v.claim)}</b>: {html.escape(v.verdict)}. "
                       f"{html.escape(v.evidence)}</p>" for v in self.verdicts())
        return out


class Table:
    """Rows of numbers with the lab's units (str for a terminal, HTML for Jupyter)."""

    UNITS = {"throughput": "throughput", "predicted throughput": "throughput",
             "p50": "p50", "p99": "p99", "predicted p99": "p99", "mean wait (all)": "p50"}

    def __init__(self, columns, rows):
        self.columns, self.rows = tuple(columns), list(rows)

    def cell(self, column, value) -> str:
        if column.startswith("RSS") or column == "per held stream":
            if isinstance(value, float) and math.isnan(value):
                return "-"
            return f"{value / 2**20:,.1f} MiB" if column.startswith("RSS") else \
                f"{value / 1024:,.1f} KiB"
        return _fmt(self.UNITS.get(column, column), value)

    def text_rows(self) -> list[list[str]]:
        return [[self.cell(c, r[c]) for c in self.columns] for r in self.rows]

    def __str__(self) -> str:
        rows = [list(self.columns), *self.text_rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
                 for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(
            f"<td style='text-align:{'left' if i == 0 else 'right'}'>{html.escape(v)}</td>"
            for i, v in enumerate(row)) + "</tr>" for row in self.text_rows())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _json_ready(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def drain(srv, timeout: float = 60.0) -> None:
    """Wait until the server answers a request that costs nothing.  When wrk stops, the
    requests it had in flight are still queued in the server (a CPU-bound backlog takes
    a while); the next point must not start while the server is still busy with them."""
    import http.client

    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    try:
        conn.request("GET", "/pid")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass  # a server that cannot answer shows it in the next point's errors
    finally:
        conn.close()


def showdown(setups=DEFAULT_SETUPS, *, workloads=WORKLOADS, connections=(1, 16),
             duration: int = 1, idle: int = 1000, progress=None) -> Showdown:
    """Start each setup, load it with wrk, hold `idle` idle streams, stop it.

    setups       Setup values (see catalog.Setup); those not installed are skipped and
                 listed in `.missing` with how to install them
    workloads    names from gateway_lab.concurrency.apps.WORKLOADS
    connections  the concurrency levels (wrk -c), one curve point each
    duration     seconds of wrk per point (whole seconds)
    idle         long-lived SSE clients held open at once (0: skip)
    """
    for w in workloads:
        if w not in work.WORKLOADS or w in ("websocket", "blocking"):
            raise ValueError(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    connections = tuple(sorted(set(connections)))
    if not connections:
        raise ValueError("give at least one concurrency level")
    say = progress or (lambda text: None)
    ok, missing = available(list(setups))
    run = Showdown(ok, tuple(workloads), connections, duration, missing=missing)
    for setup in ok:
        say(f"starting {setup.label}")
        with start(setup) as srv:
            for w in workloads:
                query = work.WORKLOADS[w][0]
                for c in connections:
                    say(f"{setup.label}: {w}, {c} connections, {duration} s")
                    result = loadtest(f"{srv.url}?{query}", connections=c, duration=duration,
                                      label=setup.label, workload=w)
                    answered = int(result.data["requests"])
                    run.points.append(Point(setup, w, c, result,
                                            predict(setup, w, c, answered)))
                    drain(srv)
            run.probes[setup.label] = websocket_probe(srv)
            if idle:
                say(f"{setup.label}: {idle:,} idle streams")
                run.idle[setup.label] = hold_idle(srv, idle)
        run.leftovers[setup.label] = srv.group.leftovers
    say("done")
    return run


__all__ = ["DEFAULT_SETUPS", "EVERY_SETUP", "WORKLOADS", "Point", "Showdown", "Table",
           "Verdict", "predict", "showdown"]
