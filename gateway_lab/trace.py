"""The trace: the ordered record of one exchange, and the only thing views read.

Every gateway records an `Event` at each step of its protocol: who acted
(`client`, `server`, `gateway`, `app`), what happened (`kind`, a short verb
such as "call", "start_response", "send", "receive"), a one-line `detail`,
the `spec` section that governs the step, and optionally the `data` a detail
panel can show (the environ, the scope, an ASGI message, the CGI variables).

**A trace records what each step carried at the moment it happened.**  The
data of a step is an immutable snapshot taken then (a tuple of headers, the
bytes of a body, the request's immutable parts, a frozen copy of a message),
never a live object the app or the caller can change later: an app that
reuses one header list, empties a message it received or sends the same dict
twice cannot rewrite what an earlier step shows.  `snapshot(value)` makes
such a copy; the gateways take cheaper exact ones where they know the shape.

Most steps are fixed by the protocol: a WSGI server always calls the app the
same way, under the same section of PEP 3333.  A gateway declares each of
those once, as a `Step` at the top of its module (so a reader sees the
protocol's steps side by side), and records it with `trace.step(STEP, data)`,
or on its busiest paths with `trace.record((STEP, now(), data))`: the same
small tuple without a Python call.  The text of an event is made from that
snapshot when the trace is first read (most traces, those of an exercise
check sending many requests, never are); since the snapshot cannot change,
neither can the text.  Rarer steps, whose text depends on the case, are
recorded with `trace.add(actor, kind, detail, ...)`.

Findings (broken rules) are recorded in the same trace, at the step where
they were noticed, so a stepper can show them in place.  What a server does
right on the app's behalf (dropping a `Proxy` header, say) is a `note`, not
a finding: no rule was broken.
"""

from __future__ import annotations

import time
from types import MappingProxyType

from .findings import Finding
from .rules import make_finding

ACTORS = ("client", "server", "gateway", "app")
_clock = now = time.perf_counter  # the clock of every trace
_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None), complex, range, frozenset,
                        type, MappingProxyType})


def snapshot(value):
    """An immutable copy of `value` as it is now, for a trace to keep.

    dicts become read-only mappings, lists and tuples tuples, bytearray and
    memoryview bytes; an object whose class has `_snapshot` (the lab's Response)
    is copied by it; other objects are kept as they are (a trace shows them by
    type or repr only).  Made for the data of one step, so it is recursive.
    """
    cls = value.__class__
    if cls in _IMMUTABLE:
        return value
    if isinstance(value, dict):
        return MappingProxyType({key: snapshot(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple([snapshot(item) for item in value])
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    copy = getattr(cls, "_snapshot", None)
    if copy is not None:
        return copy(value)
    return value


def shown_dict(data) -> dict:
    """A view's own dict of a recorded mapping (views may not change a trace)."""
    return {key: (shown_dict(value) if isinstance(value, MappingProxyType) else value)
            for key, value in data.items()}


class Step:
    """One kind of step of a protocol: `actor` does `kind` towards `target`, under
    `spec`.  `detail` is the event's one-line text, or a function that makes it
    from the recorded data; `shown`, if given, makes the data a view shows from
    the recorded data (both run only when the trace is read, on the snapshot)."""

    __slots__ = ("actor", "kind", "detail", "spec", "target", "shown", "finding")

    def __init__(self, actor: str, kind: str, detail, spec: str = "",
                 target: str | None = None, *, shown=None, finding: Finding | None = None):
        self.actor = actor
        self.kind = kind
        self.detail = detail
        self.spec = spec
        self.target = target
        self.shown = shown
        self.finding = finding

    def __repr__(self) -> str:
        return f"<Step {self.actor} {self.kind}>"


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

    @classmethod
    def of(cls, step: Step, t: float, data) -> Event:
        """The event a recorded step stands for (`t` relative to the trace's start)."""
        detail = step.detail if step.detail.__class__ is str else step.detail(data)
        if step.shown is not None:
            data = step.shown(data)
        elif isinstance(data, MappingProxyType):
            data = shown_dict(data)
        return cls(step.actor, step.kind, detail, step.spec, t, data, step.target,
                   step.finding)

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
    """Events in the order they happened, with times relative to the start."""

    __slots__ = ("interface", "coach", "_steps", "record", "_events", "findings", "t0")

    def __init__(self, interface: str = "", coach: bool = True):
        self.interface = interface
        self.coach = coach  # False: broken rules are not recorded (see run_wsgi)
        self._steps: list[tuple] = []   # (Step, time, snapshot), not yet turned into Events
        self.record = self._steps.append  # record((step, now(), snapshot)): see the docstring
        self._events: list[Event] = []
        self.findings: list[Finding] = []
        self.t0 = _clock()

    def step(self, step: Step, data=None) -> None:
        """Record that `step` happened now; `data` is its snapshot (see the docstring)."""
        self._steps.append((step, _clock(), data))

    def add(self, actor: str, kind: str, detail, spec: str = "", data=None,
            target: str | None = None, *, at: float | None = None) -> None:
        """Record a step that is not one of a gateway's declared Steps; `at` is a
        time.perf_counter() reading if not now.  `data` is snapshot here."""
        self._steps.append((Step(actor, kind, detail, spec, target),
                            _clock() if at is None else at, snapshot(data)))

    def note(self, rule: str, actor: str = "server", target: str | None = "app",
             **facts) -> None:
        """Record what a server did right on the app's behalf, in the words of `rule`
        (a rule the *server* keeps, such as dropping httpoxy's Proxy header): a
        note, not a finding, since nobody broke anything."""
        said = make_finding(rule, **facts)
        self._steps.append((Step(actor, "note", said.message, said.spec, target), _clock(),
                            MappingProxyType({"rule": said.rule, "why": said.hint})))

    @property
    def events(self) -> list[Event]:
        if self._steps:
            t0, of = self.t0, Event.of
            self._events.extend(of(step, t - t0, data) for step, t, data in self._steps)
            self._steps.clear()
        return self._events

    def find(self, rule: str, actor: str = "app", **facts) -> Finding | None:
        """Record that `rule` was broken; `facts` fill the rule's message template.
        With the coach off, nothing is recorded and None is returned.

        The same mistake made in a loop is one lesson, not a hundred: a finding
        whose rule and message were recorded already is returned, not recorded
        again.  Never decide anything from how many findings a trace holds."""
        if not self.coach:
            return None
        finding = make_finding(rule, **facts)
        if not any(f.rule == finding.rule and f.message == finding.message for f in self.findings):
            self.findings.append(finding)
            self._steps.append((Step(actor, "finding", finding.message, finding.spec,
                                     finding=finding), _clock(), None))
        return finding

    def __len__(self) -> int:
        return len(self._events) + len(self._steps)

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
