"""The trace: the ordered record of one exchange, and the only thing views read.

Every gateway appends an `Event` at each step of its protocol: who acted
(`client`, `server`, `gateway`, `app`), what happened (`kind`, a short verb
such as "call", "start_response", "send", "receive"), a one-line `detail`,
the `spec` section that governs the step, and optionally the `data` a detail
panel can show (the environ, the scope, an ASGI message, the CGI variables).

Findings (broken rules) are recorded in the same trace, at the step where
they were noticed, so a stepper can show them in place.
"""

from __future__ import annotations

import time

from .findings import Finding

ACTORS = ("client", "server", "gateway", "app")
_clock = time.perf_counter


class Event:
    __slots__ = ("actor", "kind", "detail", "spec", "t", "data", "target", "finding")

    def __init__(self, actor, kind, detail, spec, t, data=None, target=None, finding=None):
        self.actor = actor
        self.target = target  # who the step is addressed to, for sequence diagrams
        self.kind = kind
        self.detail = detail
        self.spec = spec
        self.t = t
        self.data = data
        self.finding = finding

    def __repr__(self) -> str:
        return f"<Event {self.actor} {self.kind}: {self.detail}>"

    def to_dict(self) -> dict:
        out = {"actor": self.actor, "target": self.target, "kind": self.kind,
               "detail": self.detail,
               "spec": self.spec, "t": round(self.t, 6)}
        if self.finding is not None:
            out["finding"] = self.finding.rule
        return out


class Trace:
    """Events in the order they happened, with times relative to the start.

    Gateways record a step as a plain tuple (cheap: most traces of a busy
    exercise check are never looked at); the Event objects a view reads are
    made from them on first access to `events`.
    """

    __slots__ = ("interface", "coach", "_pending", "_events", "findings", "t0")

    def __init__(self, interface: str = "", coach: bool = True):
        self.interface = interface
        self.coach = coach  # False: broken rules are not recorded (see run_wsgi)
        self._pending: list[tuple] = []   # recorded, not yet turned into Events
        self._events: list[Event] = []
        self.findings: list[Finding] = []
        self.t0 = _clock()

    def add(self, actor: str, kind: str, detail, spec: str = "", data=None,
            target: str | None = None, *, at: float | None = None) -> None:
        """Record one step; `at` is a time.perf_counter() reading if not now.

        `detail` is the one-line text, or a function that makes it from `data`
        when the trace is read (most traces never are).
        """
        self._pending.append((actor, kind, detail, spec, _clock() if at is None else at,
                              data, target, None))

    @property
    def events(self) -> list[Event]:
        if self._pending:
            t0, make = self.t0, Event
            self._events.extend(make(a, k, d if d.__class__ is str else d(data), s, t - t0,
                                     data, target, f)
                                for a, k, d, s, t, data, target, f in self._pending)
            self._pending.clear()
        return self._events

    def find(self, rule: str, actor: str = "app", **facts) -> Finding | None:
        """Record that `rule` was broken; `facts` fill the rule's message template.
        With the coach off, nothing is recorded and None is returned."""
        if not self.coach:
            return None
        from .findings import make_finding

        finding = make_finding(rule, **facts)
        # The same mistake made in a loop is one lesson, not a hundred.
        if not any(f.rule == finding.rule and f.message == finding.message for f in self.findings):
            self.findings.append(finding)
            self._pending.append((actor, "finding", finding.message, finding.spec, _clock(),
                                  None, None, finding))
        return finding

    def __len__(self) -> int:
        return len(self._events) + len(self._pending)

    def __iter__(self):
        return iter(self.events)

    def __getitem__(self, i):
        return self.events[i]

    def __str__(self) -> str:
        from .render import trace_table

        return trace_table(self)

    def _repr_html_(self) -> str:
        from .render import trace_html

        return trace_html(self)
