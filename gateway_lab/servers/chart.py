"""Curves of a showdown: throughput and p99 latency against concurrency, per workload.

One column per workload; the top row is throughput (answers per second), the
bottom row p99 latency.  Each server setup has one colour: its measured
points are dots joined by a solid line; the simulator's prediction for the
same worker model and closed loop of clients is a dashed line over the
powers of two from 1 to the highest measured level (a simulation costs
milliseconds, so a quick run with one measured level still gets a curve to
read its dot against).  matplotlib is imported only here, and the Figure is made
without pyplot (no window opens).
"""

from __future__ import annotations

from ..concurrency.chart import _figure
from .catalog import predict

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
           "#666666", "#1f78b4")


def curves(run, *, predicted: bool = True, width: float = 11.0):
    """A Figure: per workload, throughput and p99 vs connections, measured and predicted."""
    workloads = [w for w in run.workloads if any(p.workload == w for p in run.points)]
    if not workloads:
        raise ValueError("this showdown has no measured points to draw")
    fig = _figure(width, 6.0)
    axes = fig.subplots(2, len(workloads), squeeze=False, sharex=True)
    for col, w in enumerate(workloads):
        top, bottom = axes[0][col], axes[1][col]
        for k, setup in enumerate(run.setups):
            pts = sorted((p for p in run.points if p.setup == setup and p.workload == w),
                         key=lambda p: p.connections)
            if not pts:
                continue
            colour = PALETTE[k % len(PALETTE)]
            xs = [p.connections for p in pts]
            measured = [p.measured.summary() for p in pts]
            top.plot(xs, [m.throughput for m in measured], "o-", color=colour,
                     label=setup.label)
            bottom.plot(xs, [m.p99 * 1000 for m in measured], "o-", color=colour)
            if predicted:
                levels = _levels(run.connections)
                guesses = [predict(setup, w, c, 20 * c) for c in levels]
                top.plot(levels, [g.throughput for g in guesses], "--", color=colour,
                         alpha=0.7)
                bottom.plot(levels, [g.p99 * 1000 for g in guesses], "--", color=colour,
                            alpha=0.7)
        top.set_title(f"{w}: {_describe(w)}", fontsize=9)
        top.set_ylabel("throughput (req/s)" if col == 0 else "")
        bottom.set_ylabel("p99 latency (ms)" if col == 0 else "")
        bottom.set_xlabel("concurrent connections (wrk -c)")
        for ax in (top, bottom):
            ax.set_xscale("log", base=2)
            ticks = _levels(run.connections) if predicted else list(run.connections)
            ax.set_xticks(ticks, [str(c) for c in ticks])
            ax.minorticks_off()
            ax.grid(True, alpha=0.3)
            ax.set_ylim(bottom=0)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if predicted:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="#444", linestyle="--"))
        labels.append("dashed: gl.simulate's prediction")
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)),
               fontsize=8)
    return fig


def _levels(measured) -> list[int]:
    """1, 2, 4, ... up to the highest measured level, plus the measured ones."""
    top, out, c = max(measured), set(measured), 1
    while c <= top:
        out.add(c)
        c *= 2
    return sorted(out)


def _describe(workload: str) -> str:
    from ..concurrency.apps import WORKLOADS

    return WORKLOADS[workload][1]
