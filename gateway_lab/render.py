"""Text and HTML renderings of traces and exchanges (terminal and notebook).

Views read traces and nothing else: these functions take a Trace or an
Exchange and return a string.
"""

from __future__ import annotations

import html
import shutil

ARROW = "→"


def _who(event) -> str:
    return f"{event.actor} {ARROW} {event.target}" if event.target else event.actor


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def trace_table(trace, width: int | None = None) -> str:
    """The trace as a fixed-width table: step, time, who, what, detail, spec."""
    width = width or max(100, min(shutil.get_terminal_size((120, 20)).columns, 160))
    rows = [("#", "ms", "who", "step", "detail", "spec")]
    for i, e in enumerate(trace.events, 1):
        mark = "!" if e.finding is not None else ""
        rows.append((f"{mark}{i}", f"{e.t * 1000:.2f}", _who(e), e.kind, e.detail, e.spec))
    fixed = [max(len(r[c]) for r in rows) for c in range(4)]
    spec_w = min(34, max(len(r[5]) for r in rows))
    detail_w = max(20, width - sum(fixed) - spec_w - 10)
    lines = []
    for n, (a, b, c, d, e_, f) in enumerate(rows):
        lines.append(f"{a:>{fixed[0]}}  {b:>{fixed[1]}}  {c:<{fixed[2]}}  {d:<{fixed[3]}}  "
                     f"{_clip(e_, detail_w):<{detail_w}}  {_clip(f, spec_w)}".rstrip())
        if n == 0:
            lines.append("-" * min(width, len(lines[0]) + 8))
    return "\n".join(lines)


def findings_text(findings) -> str:
    if not findings:
        return "No findings: every rule the lab checks was kept."
    out = [f"{len(findings)} finding(s):"]
    for f in findings:
        out.append(f"  ✗ {f.rule}\n      {f.message}\n      spec: {f.spec}  {f.url}\n"
                   f"      hint: {f.hint}")
    return "\n".join(out)


def response_text(response) -> str:
    lines = [f"HTTP/1.1 {response.status} {response.reason}".rstrip()]
    lines += [f"{k}: {v}" for k, v in response.headers]
    body = response.body.decode("utf-8", "replace")
    if len(body) > 2000:
        body = body[:2000] + f"\n… ({len(response.body)} bytes in all)"
    text = "\n".join(lines) + "\n\n" + body
    if not response.complete:
        text += "\n[connection closed before the response was complete]"
    return text


def exchange_text(ex) -> str:
    title = f"== {ex.interface.upper()}: {ex.request.method} {ex.request.target} " \
        if ex.request is not None else f"== {ex.interface.upper()} "
    parts = [title.ljust(60, "="), response_text(ex.response)]
    if ex.messages:
        parts.append("WebSocket messages from the app: " + ", ".join(map(repr, ex.messages)))
    parts += ["", "trace:", trace_table(ex.trace), "", findings_text(ex.findings)]
    return "\n".join(parts)


# -- HTML ----------------------------------------------------------------------

_COLORS = {"client": "#1f77b4", "server": "#2ca02c", "gateway": "#9467bd", "app": "#d62728"}
FINDING_COLOR = "#b00020"


def trace_html(trace) -> str:
    rows = []
    for i, e in enumerate(trace.events, 1):
        style = ' style="background:#fde8e8"' if e.finding is not None else ""
        color = _COLORS.get(e.actor, "#333")
        rows.append(
            f"<tr{style}><td>{i}</td><td>{e.t * 1000:.2f}</td>"
            f"<td style='color:{color}'><b>{html.escape(_who(e))}</b></td>"
            f"<td>{html.escape(e.kind)}</td><td>{html.escape(_clip(e.detail, 200))}</td>"
            f"<td><small>{html.escape(e.spec)}</small></td></tr>")
    head = "<tr><th>#</th><th>ms</th><th>who</th><th>step</th><th>detail</th><th>spec</th></tr>"
    return f"<table class='gateway-lab-trace'>{head}{''.join(rows)}</table>"


def finding_html(finding) -> str:
    """A broken rule, in red: id, message, spec link, hint."""
    return (f"<div class='gl-finding' style='color:{FINDING_COLOR};border-left:4px solid "
            f"{FINDING_COLOR};padding:2px 8px;margin:4px 0'>"
            f"<b>✗ <span class='gl-rule'>{html.escape(finding.rule)}</span></b>: "
            f"{html.escape(finding.message)}<br><small>spec: "
            f"<a href='{html.escape(finding.url)}' target='_blank' rel='noopener'>"
            f"{html.escape(finding.spec)}</a> · hint: {html.escape(finding.hint)}</small></div>")


def findings_html(findings) -> str:
    if not findings:
        return "<p style='color:#2ca02c'>✓ No findings.</p>"
    return f"<div class='gateway-lab-findings'>{''.join(map(finding_html, findings))}</div>"


def exchange_html(ex) -> str:
    r = ex.response
    head = html.escape(f"{r.status} {r.reason}".strip())
    hdrs = "<br>".join(html.escape(f"{k}: {v}") for k, v in r.headers)
    body = html.escape(r.body[:2000].decode("utf-8", "replace"))
    cut = "" if r.complete else "<p><i>connection closed before the response was complete</i></p>"
    return (f"<div class='gateway-lab-exchange'>{findings_html(ex.findings)}"
            f"<p><b>{ex.interface.upper()}</b> → <b>{head}</b></p>"
            f"<pre>{hdrs}\n\n{body}</pre>{cut}{trace_html(ex.trace)}</div>")
