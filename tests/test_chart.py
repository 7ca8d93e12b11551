"""The Gantt charts' colours and borders, the blocked loop in its own colour, and the
concurrency package's imports (no circle: chart.py reads a timeline, never imports it)."""

import ast
from pathlib import Path

import pytest

import gateway_lab as gl
from gateway_lab.concurrency import chart
from gateway_lab.concurrency.apps import asgi_app, wsgi_app

pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

PACKAGE = Path(gl.__file__).parent / "concurrency"


def _distance(a: str, b: str) -> float:
    return sum((x - y) ** 2 for x, y in zip(to_rgb(a), to_rgb(b), strict=True)) ** 0.5 * 255


def test_every_phase_has_a_colour_far_from_every_other():
    colours = list(chart.COLOURS.items())
    for i, (kind, colour) in enumerate(colours):
        for other, second in colours[i + 1:]:
            assert _distance(colour, second) > 60, (kind, other)
    # waiting for a worker and running unmarked were two greys: no longer
    assert _distance(chart.COLOURS["waiting"], chart.COLOURS["running"]) > 100
    r, g, b = to_rgb(chart.COLOURS["blocked"])    # an alarm: red, and nothing else is
    assert r > 0.8 and g < 0.2 and b < 0.2


def _bars(fig):
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle)]


def _colour_of(patch) -> str:
    from matplotlib.colors import to_hex

    return to_hex(patch.get_facecolor(), keep_alpha=False).upper()


def test_every_bar_has_a_border():
    tl = gl.simulate(gl.Threads(2), gl.Workload(requests=6, io=0.05, cpu=0.01))
    bars = _bars(tl.plot())
    assert len(bars) >= 6
    for bar in bars:
        assert bar.get_linewidth() > 0 and bar.get_edgecolor()[3] > 0
        assert _distance(bar.get_edgecolor()[:3], bar.get_facecolor()[:3]) > 30


def test_a_blocked_loop_is_drawn_in_its_own_colour_simulated_and_real():
    blocked = chart.COLOURS["blocked"].upper()
    sim = gl.simulate(gl.EventLoop(), gl.Workload(requests=6, io=0.05, style="blocking"))
    assert all("blocked" in [k for k, _, _ in span.phases] for span in sim)
    assert blocked in {_colour_of(b) for b in _bars(sim.plot())}
    real = gl.run_many(asgi_app, [gl.Request("GET", "/?block=0.05")] * 3,
                       model=gl.EventLoop())
    assert blocked in {_colour_of(b) for b in _bars(real.plot())}
    # the same wait, awaited, frees the loop: waiting on I/O, not blocked
    awaited = gl.run_many(asgi_app, [gl.Request("GET", "/?io=0.05")] * 3,
                          model=gl.EventLoop())
    colours = {_colour_of(b) for b in _bars(awaited.plot())}
    assert blocked not in colours and chart.COLOURS["io"].upper() in colours


def test_a_blocking_wait_in_a_thread_is_plain_waiting():
    tl = gl.run_many(wsgi_app, [gl.Request("GET", "/?io=0.05")] * 2, model=gl.Threads(2))
    assert [k for s in tl for k, _, _ in s.phases] == ["io", "io"]


def test_only_requests_that_found_every_worker_busy_are_drawn_queued():
    # Two threads, four requests: two start at once (a thread was waiting for each, even
    # if it took a moment to wake and get the GIL); two wait for a thread, about 50 ms.
    tl = gl.run_many(wsgi_app, [gl.Request("GET", "/?io=0.05")] * 4, model=gl.Threads(2))
    queued = sorted(e - s for span in tl for k, s, e in span.phases if k == "queued")
    assert len(queued) == 2 and all(0.04 < q < 0.5 for q in queued), queued


def _imports(path: Path) -> set[str]:
    """The concurrency modules `path` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & {p.stem for p in PACKAGE.glob("*.py")}


def test_the_concurrency_modules_import_each_other_without_a_circle():
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert graph["chart"] == {"phases"}       # a chart reads a timeline, never imports it

    def visit(node, path):
        assert node not in path, " -> ".join([*path, node])
        for nxt in graph.get(node, ()):
            visit(nxt, [*path, node])

    for module in graph:
        visit(module, [])
