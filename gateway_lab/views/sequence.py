"""A sequence diagram of one trace: who talked to whom, in what order.

A trace is a list of events, each done by an `actor` and, when it is a
message, addressed to a `target`.  A UML sequence diagram draws exactly that:
one vertical lane (a "lifeline") per actor, in the order a request travels
(client · server · gateway · app), and one row per event, an arrow from the
actor's lane to the target's lane.  An event without a target (a log line, a
finding) is a note on its actor's lane.

Two renderings, both made from the trace alone:

* `sequence_svg(trace, current=i)`: SVG, which every front end shows (JupyterLab,
  VS Code, a static HTML export, a browser).  Step `current` (0-based) is
  highlighted, and findings are drawn in red.  Rows carry stable CSS classes
  (`gl-step`, `gl-step-current`, `gl-finding`) and a `data-step` attribute so
  a test, or a stylesheet, can find them.
* `sequence_mermaid(trace, current=i)`: the same diagram as Mermaid source,
  which JupyterLab 4 renders natively (mime type `text/vnd.mermaid`).

`SequenceDiagram` bundles both (plus a text table) in one display bundle, so
each front end picks what it can show.  Nothing here imports Jupyter.
"""

from __future__ import annotations

import html
from functools import cache

from ..render import _COLORS as COLORS
from ..render import FINDING_COLOR
from ..render import _clip as _one_line
from ..trace import ACTORS as LANES

__all__ = ["LANES", "SequenceDiagram", "sequence", "sequence_mermaid", "sequence_svg",
           "spec_url"]

# LANES (trace.ACTORS) is the order a request travels, left to right; traces may name
# other actors (say, a front-end proxy), which get lanes after these.  COLORS are the
# actors' colours in every view, and _one_line the clipping, both from gateway_lab.render.
CURRENT_FILL = "#fff3b0"

# Geometry, in SVG user units (pixels at 100 %).
_LEFT = 44          # room for the step numbers
_LANE_GAP = 200     # distance between two lifelines
_HEAD = 46          # height of the lane titles
_ROW = 30           # height of one event row
_NOTE_ROOM = 230    # room right of the last lane for notes
_CHAR = 6.0         # average width of one 11px character, to clip labels


# -- shared helpers -------------------------------------------------------------

def _trace_of(obj):
    """Accept a Trace or anything that carries one (an Exchange)."""
    trace = getattr(obj, "trace", obj)
    if not hasattr(trace, "events"):
        raise TypeError(f"expected a gateway_lab Trace or Exchange, got {type(obj).__name__}")
    return trace


def _is_cgi(trace) -> bool:
    return (trace.interface or "").lower() == "cgi"


def lanes_of(trace) -> list[str]:
    """The lanes to draw: the four standard ones, then any other actor, in order.

    A CGI trace has no gateway lane: in CGI the server is the gateway (it sets the
    meta-variables and runs the script itself, RFC 3875 §1.4), so that lane would
    stay empty; the server's lane is titled "server (gateway)" instead."""
    lanes = list(LANES)
    seen = {who for event in trace.events for who in (event.actor, event.target) if who}
    if _is_cgi(trace) and "gateway" not in seen:
        lanes.remove("gateway")
    for event in trace.events:
        for who in (event.actor, event.target):
            if who and who not in lanes:
                lanes.append(who)
    return lanes


def lane_title(trace, name: str) -> str:
    """A lane's heading: its actor, and for CGI's server the role it also plays."""
    if name == "server" and _is_cgi(trace) and "gateway" not in lanes_of(trace):
        return "server (gateway)"
    return name


def label_of(event) -> str:
    """What a row says: the step's kind and detail, or the broken rule."""
    if event.finding is not None:
        return f"✗ {event.finding.rule}"
    return f"{event.kind}: {event.detail}" if event.detail else event.kind


def _anchor(title: str) -> str:
    """A section title as docutils makes its id: 'The start_response() Callable' ->
    'the-start-response-callable' (peps.python.org is built with docutils)."""
    words = "".join(c if c.isalnum() else " " for c in title.lower()).split()
    return "-".join(words)


@cache
def _rule_urls() -> dict[str, str]:
    """spec text -> url, from the rules, whose links were chosen by hand (loaded once)."""
    from ..rules import all_rules

    return {rule.spec: rule.url for rule in all_rules().values()}


def spec_url(spec: str) -> str | None:
    """A link for a spec reference: 'PEP 3333 §environ Variables', 'RFC 3875 §4.1.7', 'ASGI ...'.

    A spec a rule cites gets that rule's link.  Otherwise (the spec of a trace step)
    PEP and RFC sections get their anchor, and other specs link to their start.
    """
    if spec in _rule_urls():
        return _rule_urls()[spec]
    head, _, section = spec.partition("§")
    words = head.split()
    if len(words) >= 2 and words[0] in ("PEP", "RFC") and words[1].isdigit():
        number = int(words[1])
        if words[0] == "PEP":
            url = f"https://peps.python.org/pep-{number:04d}/"
            return url + (f"#{_anchor(section)}" if section.strip() else "")
        url = f"https://www.rfc-editor.org/rfc/rfc{number}"
        number_part = section.strip().split(" ")[0].rstrip(".")
        if number_part and all(p.isdigit() for p in number_part.split(".")):
            url += f"#section-{number_part}"
        return url
    if spec.startswith("ASGI"):
        # The HTTP and WebSocket sub-specs are one page ("www"), lifespan another.
        page = ("www" if ("HTTP" in head or "WebSocket" in head)
                else "lifespan" if "ifespan" in head else "main")
        return f"https://asgi.readthedocs.io/en/latest/specs/{page}.html"
    return None


# -- SVG ------------------------------------------------------------------------

def _lane_x(index: int) -> int:
    return _LEFT + 60 + index * _LANE_GAP


def _svg_row(i: int, event, y: int, xs: dict[str, int], width: int, current: bool) -> str:
    """One event as an SVG group: highlight, arrow or note, label, tooltip."""
    finding = event.finding is not None
    color = FINDING_COLOR if finding else COLORS.get(event.actor, "#444")
    classes = "gl-step" + (" gl-step-current" if current else "") + (
        " gl-finding" if finding else "")
    mid = y + _ROW // 2
    parts = [f'<g class="{classes}" data-step="{i}">']
    tip = f"{i + 1}. {event.actor}" + (f" → {event.target}" if event.target else "")
    tip += f" · {event.kind}: {event.detail}" + (f"  [{event.spec}]" if event.spec else "")
    parts.append(f"<title>{html.escape(tip)}</title>")
    if current:
        parts.append(f'<rect class="gl-highlight" x="2" y="{y + 1}" width="{width - 4}" '
                     f'height="{_ROW - 2}" rx="4" fill="{CURRENT_FILL}" stroke="#e0b000"/>')
    elif finding:
        parts.append(f'<rect x="2" y="{y + 1}" width="{width - 4}" height="{_ROW - 2}" '
                     f'rx="4" fill="#fde8e8"/>')
    weight = ' font-weight="bold"' if current else ""
    parts.append(f'<text x="{_LEFT - 8}" y="{mid + 4}" text-anchor="end" font-size="11" '
                 f'fill="#666"{weight}>{i + 1}</text>')
    x1 = xs[event.actor]
    x2 = xs.get(event.target) if event.target and event.target != event.actor else None
    if x2 is not None:
        # A message: an arrow between two lifelines, the label centred above it.
        marker = "gl-arrow-red" if finding else "gl-arrow"
        parts.append(f'<line x1="{x1}" y1="{mid + 5}" x2="{x2}" y2="{mid + 5}" '
                     f'stroke="{color}" stroke-width="{2 if current else 1.4}" '
                     f'marker-end="url(#{marker})"/>')
        room = int(abs(x2 - x1) / _CHAR)
        label = _one_line(label_of(event), room)
        parts.append(f'<text x="{(x1 + x2) / 2:.0f}" y="{mid - 1}" text-anchor="middle" '
                     f'font-size="11" fill="{color}"{weight}>{html.escape(label)}</text>')
    else:
        # A note on the actor's own lane (a log line, a finding).
        room = int((width - x1 - 14) / _CHAR)
        label = _one_line(label_of(event), room)
        parts.append(f'<circle cx="{x1}" cy="{mid}" r="5" fill="{color}"/>')
        parts.append(f'<text x="{x1 + 10}" y="{mid + 4}" font-size="11" fill="{color}"'
                     f'{weight}>{html.escape(label)}</text>')
    parts.append("</g>")
    return "".join(parts)


def sequence_svg(trace_or_exchange, current: int | None = None) -> str:
    """The trace as an SVG sequence diagram; step `current` (0-based) highlighted."""
    trace = _trace_of(trace_or_exchange)
    lanes = lanes_of(trace)
    xs = {name: _lane_x(i) for i, name in enumerate(lanes)}
    width = _lane_x(len(lanes) - 1) + _NOTE_ROOM
    n = len(trace.events)
    title = f"{trace.interface or 'trace'}: {n} steps"
    height = _HEAD + max(n, 1) * _ROW + 12
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="gl-sequence" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="Helvetica, Arial, sans-serif" role="img">'),
           f"<title>{html.escape(title)}</title>",
           "<defs>"]
    for name, color in (("gl-arrow", "#444"), ("gl-arrow-red", FINDING_COLOR)):
        # context-stroke is not supported everywhere; one marker per colour family.
        out.append(f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                   'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                   f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>')
    out.append("</defs>")
    for name, x in xs.items():
        color = COLORS.get(name, "#444")
        out.append(f'<line x1="{x}" y1="{_HEAD - 8}" x2="{x}" y2="{height - 4}" '
                   'stroke="#bbb" stroke-dasharray="4 3"/>')
        title = lane_title(trace, name)
        half = max(50, len(title) * 4 + 10)       # about 8 px a bold 13 px character
        out.append(f'<rect x="{x - half}" y="6" width="{2 * half}" height="26" rx="5" '
                   f'fill="white" stroke="{color}" stroke-width="1.5"/>')
        out.append(f'<text class="gl-lane" x="{x}" y="23" text-anchor="middle" '
                   f'font-size="13" font-weight="bold" fill="{color}">'
                   f'{html.escape(title)}</text>')
    for i, event in enumerate(trace.events):
        out.append(_svg_row(i, event, _HEAD + i * _ROW, xs, width, current == i))
    if not trace.events:
        out.append(f'<text x="{_LEFT}" y="{_HEAD + 18}" font-size="12" fill="#666">'
                   "(no events)</text>")
    out.append("</svg>")
    return "".join(out)


# -- Mermaid --------------------------------------------------------------------

def _mermaid_text(text: str) -> str:
    # Mermaid reads ';' and '#' as syntax and may read '<...>' as HTML; it
    # accepts entity codes such as #59; for them.  '#' first, or we escape our own.
    text = text.replace("#", "#35;").replace(";", "#59;")
    return text.replace("<", "#60;").replace(">", "#62;").replace(":", "#58;")


def sequence_mermaid(trace_or_exchange, current: int | None = None) -> str:
    """The trace as Mermaid `sequenceDiagram` source (JupyterLab renders it natively)."""
    trace = _trace_of(trace_or_exchange)
    lines = ["sequenceDiagram"]
    for name in lanes_of(trace):
        title = lane_title(trace, name)
        lines.append(f"    participant {name}" + (f" as {title}" if title != name else ""))
    for i, event in enumerate(trace.events):
        text = _mermaid_text(_one_line(f"{i + 1}. {label_of(event)}", 70))
        if event.target and event.target != event.actor:
            row = f"{event.actor}->>{event.target}: {text}"
        else:
            row = f"Note over {event.actor}: {text}"
        if i == current or event.finding is not None:
            fill = "rgb(255, 243, 176)" if i == current else "rgb(253, 232, 232)"
            lines += [f"    rect {fill}", f"        {row}", "    end"]
        else:
            lines.append(f"    {row}")
    return "\n".join(lines)


# -- a displayable object ---------------------------------------------------------

class SequenceDiagram:
    """A trace's sequence diagram for `display()`: SVG, Mermaid and a text table.

    JupyterLab shows the richest type it knows; a static export falls back to
    the SVG, a terminal to the table.
    """

    def __init__(self, trace_or_exchange, current: int | None = None):
        self.trace = _trace_of(trace_or_exchange)
        self.current = current

    @property
    def svg(self) -> str:
        return sequence_svg(self.trace, self.current)

    @property
    def mermaid(self) -> str:
        return sequence_mermaid(self.trace, self.current)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        from ..render import trace_table

        return {"image/svg+xml": self.svg, "text/vnd.mermaid": self.mermaid,
                "text/plain": trace_table(self.trace)}

    def __repr__(self) -> str:
        return f"<SequenceDiagram {self.trace.interface} {len(self.trace.events)} steps>"


def sequence(trace_or_exchange, current: int | None = None) -> SequenceDiagram:
    """`display(sequence(ex))` draws the exchange's sequence diagram."""
    return SequenceDiagram(trace_or_exchange, current)
