"""Timelines as Gantt charts (matplotlib, imported only when a chart is drawn).

    from gateway_lab.concurrency import chart
    chart.gantt(tl)                          # one run
    chart.compare([seq, threads, loop])      # several runs on one time axis
    chart.save(fig, "race.png")

One band per *lane* (a worker: a thread, a process, the event loop).  When a
worker serves several requests at once (an event loop's tasks, overlapping
spans) the band splits into rows, one per request in flight.  Every phase has
its own colour (COLOURS): computing, waiting on I/O, queued for the CPU (the
GIL, the loop), running but not marked, and, in alarm red, a blocking wait that
held an event loop.  Each bar has a dark border, so neighbouring requests stay
apart.  The band on top counts the requests waiting for a worker (in purple);
its ticks mark when each request arrived.

This module reads a timeline and imports no other module of the lab but the
phase names: the Timeline imports it (lazily, for `tl.plot()`), never the
other way round.  The figures are plain `matplotlib.figure.Figure` objects,
made without pyplot, so a library call never opens a window; Jupyter shows
them inline.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .phases import BLOCKED, CPU, IO, QUEUED

if TYPE_CHECKING:  # matplotlib loads only when a chart is drawn
    from matplotlib.figure import Figure


@runtime_checkable
class Timeline(Protocol):
    """What a chart reads of a timeline (gateway_lab.concurrency.timeline.Timeline)."""

    model: str
    source: str

    def summary(self): ...
    def lane_name(self, lane: int) -> str: ...
    def __getitem__(self, index): ...
    def __len__(self) -> int: ...

RUNNING, WAITING = "running", "waiting"   # a span's unmarked time; the queue band
# One colour per phase, far apart (most from Okabe and Ito's palette, safe for colour-blind
# readers), and the blocked loop in an alarm red, cross-hatched.
COLOURS = {CPU: "#E69F00", IO: "#56B4E9", QUEUED: "#F0E442", RUNNING: "#BDBDBD",
           BLOCKED: "#D7191C", WAITING: "#9B59B6"}
HATCHES = {QUEUED: "///", BLOCKED: "xx"}
LABELS = {CPU: "computing (cpu)", IO: "waiting on I/O (io)",
          QUEUED: "queued for the CPU (GIL, loop)", RUNNING: "running (not marked)",
          BLOCKED: "blocking wait: the event loop is stuck",
          WAITING: "waiting for a worker"}
EDGE = "#333333"          # every bar's border
DRAW_ORDER = (RUNNING, QUEUED, IO, BLOCKED, CPU)
MAX_ROWS_PER_LANE = 40   # an event loop with 10,000 tasks still fits on a slide
DEFAULT_LIMIT = 400      # spans drawn per chart (a simulation may have 100,000)


def _rows(spans) -> tuple[dict, dict]:
    """Pack each lane's spans into rows so that spans in one row never overlap.

    Greedy by start time, like assigning meeting rooms; returns the row of each
    span (by index) and the number of rows of each lane.
    """
    row_of: dict[int, int] = {}
    ends_by_lane: dict[int, list[float]] = {}
    for span in sorted(spans, key=lambda s: (s.lane, s.start, s.index)):
        ends = ends_by_lane.setdefault(span.lane, [])
        row = next((r for r, end in enumerate(ends) if end <= span.start + 1e-9), None)
        if row is None:
            if len(ends) < MAX_ROWS_PER_LANE:
                row = len(ends)
                ends.append(span.end)
            else:  # full: share the row that frees first
                row = min(range(len(ends)), key=ends.__getitem__)
        ends[row] = max(ends[row], span.end)
        row_of[span.index] = row
    return row_of, {lane: len(ends) for lane, ends in ends_by_lane.items()}


def waiting(spans) -> tuple[list[float], list[int]]:
    """The number of requests that arrived but have no worker yet, as a step function."""
    changes = sorted([(s.arrival, 1) for s in spans if s.start > s.arrival]
                     + [(s.start, -1) for s in spans if s.start > s.arrival])
    xs, ys, now = [0.0], [0], 0
    for t, d in changes:
        now += d
        xs.append(t)
        ys.append(now)
    return xs, ys


QUEUE_BAND = 3.0  # rows of height given to the "waiting for a worker" band


def _shown(tl: Timeline, limit: int) -> list:
    """The spans a chart draws: only the first `limit` are built (a simulation's
    other 99,600 stay numbers in the timeline's columns)."""
    return tl[:limit]


def _draw(ax, tl: Timeline, spans: list, title: str | None) -> None:
    """Draw `spans` (the shown part of `tl`) on `ax`."""
    row_of, rows_in = _rows(spans)
    lanes = sorted(rows_in)
    # y positions from the bottom up: the lanes (last lane lowest), then the queue band
    base, y_lane, y = {}, {}, 0.0
    for lane in reversed(lanes):
        base[lane] = y
        y_lane[lane] = y + rows_in[lane] / 2
        y += rows_in[lane] + 0.6  # a gap between bands
    bars: dict[str, tuple[list, list, list]] = {k: ([], [], []) for k in DRAW_ORDER}

    def bar(kind, row_y, left, right):
        if right > left:
            ys, lefts, widths = bars[kind]
            ys.append(row_y)
            lefts.append(left)
            widths.append(right - left)

    for span in spans:
        row_y = base[span.lane] + rows_in[span.lane] - row_of[span.index] - 0.5
        bar(RUNNING, row_y, span.start, span.end)
        for kind, start, end in span.phases:
            # Waiting for a worker is drawn in the queue band above, not in a lane.
            bar(kind if kind in bars else RUNNING, row_y, max(start, span.start), end)
    for kind in DRAW_ORDER:  # unmarked time first, so the phases are drawn over it
        ys, lefts, widths = bars[kind]
        if ys:
            ax.barh(ys, widths, left=lefts, height=0.8, color=COLOURS[kind],
                    edgecolor=EDGE, linewidth=0.6, hatch=HATCHES.get(kind),
                    label=LABELS[kind])
    # The queue band: how many requests wait for a worker, and when each arrived.
    xs, counts = waiting(spans)
    top = max(counts) or 1
    floor = y
    ax.fill_between(xs, [floor + QUEUE_BAND * c / top for c in counts], floor, step="post",
                    facecolor=COLOURS[WAITING], edgecolor=EDGE, linewidth=0.6,
                    label=LABELS[WAITING])
    ax.scatter([s.arrival for s in spans], [floor + 0.2] * len(spans), marker="|", s=60,
               color="#222222", linewidths=1, label="arrival", zorder=3)
    ticks = [y_lane[lane] for lane in lanes] + [floor + QUEUE_BAND / 2]
    names = [tl.lane_name(lane) for lane in lanes] + [f"queue (max {max(counts)})"]
    ax.set_yticks(ticks)
    ax.set_yticklabels(names)
    ax.set_ylim(-0.5, floor + QUEUE_BAND + 0.3)
    ax.set_xlim(0, _right_edge([spans]))
    ax.grid(axis="x", alpha=0.3)
    shown = "" if len(spans) == len(tl) else f" (first {len(spans):,} of {len(tl):,} requests)"
    s = tl.summary()
    ax.set_title(title or f"{tl.model}, {tl.source}: makespan {s['makespan']:.3f} s, "
                          f"{s['throughput']:,.0f} req/s{shown}", loc="left", fontsize=10)


def _right_edge(span_lists) -> float:
    ends = [s.end for spans in span_lists for s in spans]
    return max(max(ends, default=0.0) * 1.02, 1e-3)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    _inline_in_ipython(Figure)
    return Figure(figsize=(width, height), layout="constrained")


def _inline_in_ipython(figure_class) -> None:
    """A bare Figure (no pyplot) has no notebook picture until `%matplotlib inline`
    registers one; register the same PNG formatter, so a returned chart shows."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    from IPython.core.pylabtools import print_figure

    png = shell.display_formatter.formatters["image/png"]
    png.for_type(figure_class, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def _band_height(spans: list) -> float:
    _, rows_in = _rows(spans)
    return sum(rows_in.values()) + 0.6 * len(rows_in) + QUEUE_BAND


def gantt(tl: Timeline, *, limit: int = DEFAULT_LIMIT, title: str | None = None,
          width: float = 10.0) -> Figure:
    """A Gantt chart of one timeline: lanes = workers, colours = phases."""
    if not isinstance(tl, Timeline):
        raise TypeError(f"gantt() takes a Timeline (from run_many or simulate), not {tl!r}")
    spans = _shown(tl, limit)
    rows = _band_height(spans)
    fig = _figure(width, min(2.0 + 0.22 * rows, 14))
    ax = fig.add_subplot()
    _draw(ax, tl, spans, title)
    ax.set_xlabel("seconds since the run started")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return fig


def compare(timelines, *, limit: int = DEFAULT_LIMIT, width: float = 10.0) -> Figure:
    """Several timelines stacked on one shared time axis, so their lengths compare."""
    timelines = list(timelines)
    if not timelines or not all(isinstance(t, Timeline) for t in timelines):
        raise TypeError("compare() takes a list of Timelines")
    shown = [_shown(t, limit) for t in timelines]
    heights = [max(_band_height(spans), 1.5) for spans in shown]
    fig = _figure(width, min(1.2 * len(timelines) + 0.2 * sum(heights), 24))
    axes = fig.subplots(len(timelines), 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, tl, spans in zip(axes, timelines, shown, strict=True):
        _draw(ax, tl, spans, None)
    axes[-1].set_xlim(0, _right_edge(shown))  # the axis is shared: one scale
    axes[-1].set_xlabel("seconds since the run started")
    handles, labels = {}, {}
    for ax in axes:  # one legend for the whole figure, every kind that appears
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
            labels[label] = label
    fig.legend(list(handles.values()), list(labels), loc="outside lower center",
               ncols=min(5, len(labels)), fontsize=8)
    return fig


def save(fig: Figure, path) -> None:
    """Write a figure as PNG (or any format matplotlib knows from the suffix)."""
    fig.savefig(path, dpi=110)
