"""Timelines as Gantt charts in SVG, with no plotting library.

The same picture as chart.py (its lanes, rows, phase colours, queue band and
arrival ticks; the layout helpers are chart.py's own), written as SVG text.
It is what `tl.plot()` draws where matplotlib cannot be imported: in a browser
(Pyodide has no pure-Python matplotlib) or in a lean install.  The result shows
itself in Jupyter (`_repr_svg_`) and its text is `str(chart)`.

    from gateway_lab.concurrency import svgchart
    svgchart.gantt(tl)
    svgchart.compare([seq, threads, loop])
"""

from __future__ import annotations

from html import escape

from .chart import (
    COLOURS,
    DEFAULT_LIMIT,
    DRAW_ORDER,
    EDGE,
    HATCHES,
    LABELS,
    QUEUE_BAND,
    WAITING,
    Timeline,
    _right_edge,
    _rows,
    _shown,
    waiting,
)

ROW = 14          # px per row of a lane
LEFT = 170        # px for the lane names
GAP = 0.6         # rows between lanes, as in chart.py
TITLE = 22        # px above a chart for its title


class SVGChart:
    """An SVG picture: Jupyter shows it; `str()` is its text; `.save(path)` writes it."""

    def __init__(self, svg: str):
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg)


def _ticks(right: float) -> list[float]:
    """About six round ticks from 0 to `right` seconds."""
    raw = right / 6
    step = next(m * 10 ** e for e in range(-6, 6) for m in (1, 2, 5) if m * 10 ** e >= raw)
    return [i * step for i in range(int(right / step) + 1)]


def _patterns() -> str:
    lines = []
    for kind, hatch in HATCHES.items():
        cross = "" if hatch == "///" else '<path d="M0,0 l6,6" stroke="#333" stroke-width="1"/>'
        lines.append(f'<pattern id="hatch-{kind}" width="6" height="6" '
                     f'patternUnits="userSpaceOnUse"><rect width="6" height="6" '
                     f'fill="{COLOURS[kind]}"/><path d="M0,6 l6,-6" stroke="#333" '
                     f'stroke-width="1"/>{cross}</pattern>')
    return "<defs>" + "".join(lines) + "</defs>"


def _fill(kind: str) -> str:
    return f"url(#hatch-{kind})" if kind in HATCHES else COLOURS[kind]


def _panel(tl: Timeline, spans: list, top: float, width: float, right: float,
           kinds: set, title: str | None = None) -> tuple[list[str], float]:
    """One timeline's bands from y=`top`; returns the SVG parts and the height used."""
    row_of, rows_in = _rows(spans)
    lanes = sorted(rows_in)
    plot_w = width - LEFT - 10

    def x(t: float) -> float:
        return LEFT + plot_w * t / right

    s = tl.summary()
    shown = "" if len(spans) == len(tl) else f" (first {len(spans):,} of {len(tl):,} requests)"
    title = title or (f"{tl.model}, {tl.source}: makespan {s['makespan']:.3f} s, "
                      f"{s['throughput']:,.0f} req/s{shown}")
    parts = [f'<text x="{LEFT}" y="{top + 15}" font-size="13">{escape(title)}</text>']
    y = top + TITLE
    # The queue band first (on top, as in chart.py), then the lanes in order.
    xs, counts = waiting(spans)
    most = max(counts) or 1
    band = QUEUE_BAND * ROW
    points = [f"{x(xs[0]):.1f},{y + band:.1f}"]
    for i, (t, c) in enumerate(zip(xs, counts, strict=True)):
        nxt = xs[i + 1] if i + 1 < len(xs) else right
        level = y + band - band * c / most
        points += [f"{x(t):.1f},{level:.1f}", f"{x(nxt):.1f},{level:.1f}"]
    points.append(f"{x(right):.1f},{y + band:.1f}")
    parts.append(f'<polygon points="{" ".join(points)}" fill="{COLOURS[WAITING]}" '
                 f'stroke="{EDGE}" stroke-width="0.6"/>')
    kinds.add(WAITING)
    parts += [f'<line x1="{x(sp.arrival):.1f}" x2="{x(sp.arrival):.1f}" y1="{y + band - 5:.1f}" '
              f'y2="{y + band:.1f}" stroke="#222"/>' for sp in spans]
    parts.append(f'<text x="{LEFT - 6}" y="{y + band / 2 + 4:.1f}" text-anchor="end" '
                 f'font-size="11">queue (max {max(counts)})</text>')
    y += band + GAP * ROW
    for lane in lanes:
        height = rows_in[lane] * ROW
        parts.append(f'<text x="{LEFT - 6}" y="{y + height / 2 + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{escape(tl.lane_name(lane))}</text>')
        for sp in (sp for sp in spans if sp.lane == lane):
            row_y = y + row_of[sp.index] * ROW + 1
            pieces = [("running", sp.start, sp.end)] + [
                (k if k in COLOURS and k != WAITING else "running", max(a, sp.start), b)
                for k, a, b in sp.phases]
            for kind in DRAW_ORDER:
                for k, a, b in pieces:
                    if k == kind and b > a:
                        kinds.add(k)
                        parts.append(f'<rect x="{x(a):.1f}" y="{row_y:.1f}" '
                                     f'width="{max(x(b) - x(a), 0.5):.1f}" height="{ROW - 2}" '
                                     f'fill="{_fill(k)}" stroke="{EDGE}" stroke-width="0.6"/>')
        y += height + GAP * ROW
    return parts, y - top


def _axis(top: float, width: float, right: float) -> list[str]:
    plot_w = width - LEFT - 10
    parts = [f'<line x1="{LEFT}" x2="{width - 10}" y1="{top}" y2="{top}" stroke="#333"/>']
    for t in _ticks(right):
        px = LEFT + plot_w * t / right
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{top + 4}" '
                     f'stroke="#333"/><text x="{px:.1f}" y="{top + 16}" text-anchor="middle" '
                     f'font-size="10">{t:g}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{top + 30}" text-anchor="middle" '
                 'font-size="11">seconds since the run started</text>')
    return parts


def _legend(top: float, kinds: set) -> list[str]:
    parts, x = [], LEFT
    for kind in [*DRAW_ORDER, WAITING]:
        if kind not in kinds:
            continue
        parts.append(f'<rect x="{x}" y="{top}" width="12" height="10" fill="{_fill(kind)}" '
                     f'stroke="{EDGE}" stroke-width="0.6"/><text x="{x + 16}" y="{top + 9}" '
                     f'font-size="10">{escape(LABELS[kind])}</text>')
        x += 22 + 5.5 * len(LABELS[kind])
    return parts


def _chart(timelines: list, limit: int, width: float, title: str | None = None) -> SVGChart:
    shown = [_shown(t, limit) for t in timelines]
    right = _right_edge(shown)
    body, y, kinds = [], 4.0, set()
    for tl, spans in zip(timelines, shown, strict=True):
        parts, used = _panel(tl, spans, y, width, right, kinds, title)
        body += parts
        y += used + 6
    body += _axis(y, width, right)
    body += _legend(y + 42, kinds)
    height = y + 60
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif">'
           f'<rect width="100%" height="100%" fill="white"/>{_patterns()}'
           + "".join(body) + "</svg>")
    return SVGChart(svg)


def gantt(tl: Timeline, *, limit: int = DEFAULT_LIMIT, title: str | None = None,
          width: float = 900) -> SVGChart:
    """A Gantt chart of one timeline (as chart.gantt draws it), in SVG."""
    if not isinstance(tl, Timeline):
        raise TypeError(f"gantt() takes a Timeline (from run_many or simulate), not {tl!r}")
    return _chart([tl], limit, width, title)


def compare(timelines, *, limit: int = DEFAULT_LIMIT, width: float = 900) -> SVGChart:
    """Several timelines stacked on one shared time axis, in SVG."""
    timelines = list(timelines)
    if not timelines or not all(isinstance(t, Timeline) for t in timelines):
        raise TypeError("compare() takes a list of Timelines")
    return _chart(timelines, limit, width)
