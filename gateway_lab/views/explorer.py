"""ConcurrencyExplorer: pick a worker model and a workload, run it, read the Gantt chart.

    from gateway_lab.views import ConcurrencyExplorer
    ConcurrencyExplorer()

The controls map one to one onto the concurrency lab's API: the model is
`gl.Sequential()`, `gl.Threads(n)`, `gl.Processes(n)`, `gl.ProcessPerRequest(limit=n)` or
`gl.EventLoop()`; the workload is what each request costs.  "simulated" runs
`gl.simulate(model, gl.Workload(...))` on a virtual clock (exact, any size);
"real" runs `gl.run_many(app, requests, model=...)` with real threads,
processes or asyncio, on the lab's ready-made apps
(`gateway_lab.concurrency.apps`), so it is capped at a size this machine runs
in seconds.

As with every widget here, the work happens in the Run button's callback and
its results are written with the Output widget's append methods.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets

__all__ = ["ConcurrencyExplorer"]

MODELS = ("Sequential", "Threads", "Processes", "ProcessPerRequest", "EventLoop")
# name -> (query string for the ready-made apps, Workload fields for simulate())
WORKLOADS = {
    "io: wait 50 ms": ("io=0.05", {"io": 0.05, "cpu": 0.0, "style": "async"}),
    "cpu: compute 20 ms": ("cpu=0.02", {"io": 0.0, "cpu": 0.02, "style": "async"}),
    "mixed: 5 ms cpu + 50 ms io": ("cpu=0.005&io=0.05",
                                   {"io": 0.05, "cpu": 0.005, "style": "async"}),
    "blocking: time.sleep(0.05) in async def": ("block=0.05",
                                                {"io": 0.05, "cpu": 0.0, "style": "blocking"}),
}
REAL_MAX_REQUESTS = 40      # a real run must finish in seconds on a shared laptop
SIM_MAX_REQUESTS = 100_000


def make_model(name: str, workers: int):
    """The worker model the controls describe."""
    from .. import concurrency as c

    if name == "Sequential":
        return c.Sequential()
    if name == "Threads":
        return c.Threads(workers)
    if name == "Processes":
        return c.Processes(workers)
    if name == "ProcessPerRequest":
        return c.ProcessPerRequest(limit=workers)
    if name == "EventLoop":
        return c.EventLoop()
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def run_choice(model_name: str, workers: int, workload: str, requests: int, mode: str):
    """Run what the controls say; returns a Timeline.  Raises ValueError for bad input."""
    from .. import concurrency as c
    from ..request import Request

    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}")
    query, fields = WORKLOADS[workload]
    model = make_model(model_name, workers)
    if mode == "simulated":
        if not 1 <= requests <= SIM_MAX_REQUESTS:
            raise ValueError(f"simulate between 1 and {SIM_MAX_REQUESTS:,} requests")
        return c.simulate(model, c.Workload(requests=requests, **fields))
    if not 1 <= requests <= REAL_MAX_REQUESTS:
        raise ValueError(f"a real run takes 1 to {REAL_MAX_REQUESTS} requests here; "
                         "simulate for more")
    # The event loop gets the ASGI app (it awaits); the others the WSGI app.  Blocking
    # only means something on an event loop.
    asgi = model_name == "EventLoop"
    if fields["style"] == "blocking" and not asgi:
        query = "io=0.05"
    app = "gateway_lab.concurrency.apps:" + ("asgi_app" if asgi else "wsgi_app")
    reqs = [Request("GET", f"/?{query}&n={i}") for i in range(requests)]
    return c.run_many(app, reqs, model=model, timeout=10.0, deadline=60.0)


def _png(timeline) -> bytes | None:
    """The Gantt chart as PNG bytes, or None when matplotlib or the chart is unavailable."""
    try:
        figure = timeline.plot()
    except ImportError:
        return None
    figure = getattr(figure, "figure", figure)   # an Axes knows its Figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


class ConcurrencyExplorer(widgets.VBox):
    """Model, workers, workload, size, real or simulated -> Gantt chart and summary."""

    def __init__(self, *, model: str = "Threads", workers: int = 4,
                 workload: str = "io: wait 50 ms", requests: int = 12,
                 mode: str = "simulated"):
        self.timeline = None
        self.model = widgets.Dropdown(options=MODELS, value=model, description="model")
        self.workers = widgets.IntSlider(value=workers, min=1, max=16, description="workers")
        self.workload = widgets.Dropdown(options=list(WORKLOADS), value=workload,
                                         description="workload",
                                         layout=widgets.Layout(width="420px"))
        self.requests = widgets.BoundedIntText(value=requests, min=1, max=SIM_MAX_REQUESTS,
                                               description="requests")
        self.mode = widgets.ToggleButtons(options=["simulated", "real"], value=mode,
                                          description="run")
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        for widget, css in ((self.model, "gl-model"), (self.workers, "gl-workers"),
                            (self.workload, "gl-workload"), (self.requests, "gl-requests"),
                            (self.mode, "gl-mode"), (self.run_button, "gl-run"),
                            (self.status, "gl-status"), (self.output, "gl-output")):
            widget.add_class(css)
        self.model.observe(self._sync_workers, names="value")
        self.run_button.on_click(lambda _: self.run())
        self._sync_workers()
        super().__init__([widgets.HBox([self.model, self.workers]),
                          widgets.HBox([self.workload, self.requests]), self.mode,
                          widgets.HBox([self.run_button, self.status]), self.output])
        self.add_class("gl-explorer")

    def _sync_workers(self, change=None) -> None:
        # Only pools have a size; a sequential server or an event loop has one worker.
        self.workers.disabled = self.model.value in ("Sequential", "EventLoop")

    def run(self):
        """Run the chosen model on the chosen workload; show and return the Timeline."""
        self.output.outputs = ()
        self._say("running…")
        from ..concurrency import RunError

        try:
            tl = run_choice(self.model.value, self.workers.value, self.workload.value,
                            self.requests.value, self.mode.value)
        except (ValueError, TypeError, RunError) as error:
            return self._say(str(error), error=True)
        self.timeline = tl
        self._say(f"{self.mode.value}: {tl.model if hasattr(tl, 'model') else ''}")
        from IPython.display import HTML, Image

        summary = tl.summary()
        self.output.append_display_data(HTML(summary._repr_html_()
                                             if hasattr(summary, "_repr_html_")
                                             else f"<pre>{html.escape(str(summary))}</pre>"))
        png = _png(tl)
        if png is not None:
            self.output.append_display_data(Image(data=png, format="png"))
        return tl

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#333"
        self.status.value = (f"<span class='gl-status-text' style='color:{color}'>"
                             f"{html.escape(text)}</span>")
