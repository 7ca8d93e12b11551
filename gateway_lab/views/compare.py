"""Two exchanges side by side, aligned step by step, the differences marked.

    from gateway_lab.views import compare
    compare(wsgi_ex, asgi_ex)                 # the same request through two gateways
    compare(before, after, labels=("before the fix", "after"))

Steps are aligned by what they are (who → whom, and the kind of step), the way
`diff` aligns lines (difflib.SequenceMatcher): steps both traces have sit on one
row; where the traces do different things (a WSGI environ where ASGI has a scope),
the steps are paired in order on the rows between.  Each row is marked:

    =   the same step with the same detail
    ≠   a step on both sides that differs (its kind, its detail, a finding)
    ←   only in the first trace
    →   only in the second

Times are left out: they always differ.  Plain Python, no Jupyter import.
"""

from __future__ import annotations

import html
from difflib import SequenceMatcher

from ..render import FINDING_COLOR
from ..render import _clip as _one_line

SAME, CHANGED, ONLY_A, ONLY_B = "=", "≠", "←", "→"
_ROW_STYLE = {SAME: "", CHANGED: "background:#fff3b0", ONLY_A: "background:#fde8e8",
              ONLY_B: "background:#e3f4e1"}
_CLASS = {SAME: "gl-same", CHANGED: "gl-changed", ONLY_A: "gl-only-a", ONLY_B: "gl-only-b"}


def _key(event) -> tuple:
    return (event.actor, event.target, event.kind)


def _what(event) -> tuple:
    """What a step says, for comparing: its key, detail and broken rule (not its time)."""
    return (*_key(event), str(event.detail),
            event.finding.rule if event.finding is not None else None)


def align(a, b) -> list[tuple[int | None, int | None, str]]:
    """Rows (index in a, index in b, mark) pairing the steps of two traces."""
    ea, eb = a.events, b.events
    matcher = SequenceMatcher(a=[_key(e) for e in ea], b=[_key(e) for e in eb],
                              autojunk=False)
    rows: list[tuple[int | None, int | None, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i = i1 + k if i1 + k < i2 else None
            j = j1 + k if j1 + k < j2 else None
            if i is None:
                mark = ONLY_B
            elif j is None:
                mark = ONLY_A
            else:
                mark = SAME if tag == "equal" and _what(ea[i]) == _what(eb[j]) else CHANGED
            rows.append((i, j, mark))
    return rows


def _trace(obj):
    trace = getattr(obj, "trace", obj)
    if not hasattr(trace, "events"):
        raise TypeError(f"compare() takes Exchanges or Traces, not {type(obj).__name__}")
    return trace


def _label(obj, fallback: str) -> str:
    request = getattr(obj, "request", None)
    interface = (getattr(obj, "interface", "") or _trace(obj).interface or "").upper()
    if request is not None:
        return f"{fallback}: {interface} {request.method} {request.target}"
    return f"{fallback}: {interface}"


class TraceComparison:
    """Two exchanges (or traces) aligned; shows as an HTML table, prints as text."""

    def __init__(self, a, b, labels: tuple[str, str] | None = None):
        self.a, self.b = a, b
        self.trace_a, self.trace_b = _trace(a), _trace(b)
        self.labels = labels or (_label(a, "A"), _label(b, "B"))
        self.rows = align(self.trace_a, self.trace_b)

    @property
    def differences(self) -> int:
        return sum(mark != SAME for _, _, mark in self.rows)

    def _responses(self) -> list[tuple[str, str, str, bool]]:
        """(what, in A, in B, same?) for the responses and the findings."""
        ra, rb = getattr(self.a, "response", None), getattr(self.b, "response", None)
        out = []
        if ra is not None and rb is not None:
            out.append(("status", f"{ra.status} {ra.reason}".strip(),
                        f"{rb.status} {rb.reason}".strip(), ra.status == rb.status))
            heads = [sorted((k.lower(), v) for k, v in r.headers) for r in (ra, rb)]
            out.append(("headers", "; ".join(f"{k}: {v}" for k, v in heads[0]),
                        "; ".join(f"{k}: {v}" for k, v in heads[1]), heads[0] == heads[1]))
            out.append(("body", f"{len(ra.body)} bytes", f"{len(rb.body)} bytes",
                        ra.body == rb.body))
        fa = sorted(f.rule for f in getattr(self.a, "findings", ()) or ())
        fb = sorted(f.rule for f in getattr(self.b, "findings", ()) or ())
        out.append(("findings", ", ".join(fa) or "none", ", ".join(fb) or "none", fa == fb))
        return out

    def __str__(self) -> str:
        width = 36
        lines = [f"{self.labels[0]:<{width + 4}}   {self.labels[1]}"]
        for what, va, vb, same in self._responses():
            lines.append(f"{what:>8}: {_one_line(va, width - 6):<{width - 6}}  "
                         f"{'=' if same else '≠'}  {_one_line(vb, width)}")
        lines.append("")
        for i, j, mark in self.rows:
            left = self._step_text(self.trace_a, i)
            right = self._step_text(self.trace_b, j)
            lines.append(f"{_one_line(left, width + 4):<{width + 4}} {mark} {right}".rstrip())
        return "\n".join(lines)

    @staticmethod
    def _step_text(trace, index) -> str:
        if index is None:
            return ""
        e = trace.events[index]
        who = f"{e.actor}→{e.target}" if e.target else e.actor
        return f"{index + 1:>2} {who} {e.kind}: {e.detail}"

    def _cell(self, trace, index, other) -> str:
        if index is None:
            return "<td></td><td></td>"
        e = trace.events[index]
        who = f"{e.actor} → {e.target}" if e.target else e.actor
        differs = other is not None and _what(e) != _what(other)
        kind_style = "font-weight:bold" if other is not None and e.kind != other.kind else ""
        detail_style = ("font-weight:bold" if differs and str(e.detail) != str(other.detail)
                        else "")
        finding = (f"<div style='color:{FINDING_COLOR}'>✗ {html.escape(e.finding.rule)}</div>"
                   if e.finding is not None else "")
        return (f"<td style='color:#666;text-align:right'>{index + 1}</td>"
                f"<td style='text-align:left'><span style='color:#555'>{html.escape(who)}</span>"
                f" · <code style='{kind_style}'>{html.escape(e.kind)}</code><br>"
                f"<span style='{detail_style}'>{html.escape(_one_line(e.detail, 90))}</span>"
                f"{finding}</td>")

    def _repr_html_(self) -> str:
        ea, eb = self.trace_a.events, self.trace_b.events
        head = (f"<tr><th colspan=2 style='text-align:left'>{html.escape(self.labels[0])}</th>"
                f"<th></th><th colspan=2 style='text-align:left'>"
                f"{html.escape(self.labels[1])}</th></tr>")
        summary = []
        for what, va, vb, same in self._responses():
            mark = SAME if same else CHANGED
            summary.append(f"<tr class='gl-response-row {_CLASS[mark]}' "
                           f"style='{_ROW_STYLE[mark]}'><td><b>{what}</b></td>"
                           f"<td style='text-align:left'>{html.escape(_one_line(va, 120))}</td>"
                           f"<td><b>{mark}</b></td><td></td>"
                           f"<td style='text-align:left'>{html.escape(_one_line(vb, 120))}</td>"
                           "</tr>")
        rows = []
        for i, j, mark in self.rows:
            a_event = ea[i] if i is not None else None
            b_event = eb[j] if j is not None else None
            rows.append(f"<tr class='gl-compare-row {_CLASS[mark]}' style='{_ROW_STYLE[mark]}'>"
                        + self._cell(self.trace_a, i, b_event)
                        + f"<td style='text-align:center'><b>{mark}</b></td>"
                        + self._cell(self.trace_b, j, a_event) + "</tr>")
        n = self.differences
        verdict = ("every step the same" if n == 0
                   else f"{n} of {len(self.rows)} rows differ")
        legend = ("<div style='font-size:12px;color:#555'>= same step and detail · "
                  "≠ differs (in bold) · ← only in the first · → only in the second · "
                  f"{html.escape(verdict)}</div>")
        return (f"<div class='gl-compare'>{legend}<table class='gl-compare-table'>"
                f"{head}{''.join(summary)}<tr><td colspan=5><hr></td></tr>{''.join(rows)}"
                "</table></div>")

    def __repr__(self) -> str:
        return f"<TraceComparison {self.labels[0]!r} vs {self.labels[1]!r}: " \
               f"{self.differences} differences>"


def compare(a, b, labels: tuple[str, str] | None = None) -> TraceComparison:
    """`display(compare(ex1, ex2))`: two exchanges side by side, aligned step by step."""
    return TraceComparison(a, b, labels)
