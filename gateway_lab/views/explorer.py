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
its results are written with the Output widget's append methods.  The status
line says "done" only once the chart is drawn and shown (drawing a big run
takes a while).  The latest run is also kept in the explorer's static copy,
which a saved notebook shows (views.static).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import replace

import ipywidgets as widgets

from ..concurrency import apps
from ..concurrency.cli import MODELS
from .static import LIVE, Survives

__all__ = ["ConcurrencyExplorer"]

# The models are `gateway-lab race`'s (concurrency.cli.MODELS); the pools get the
# size the workers slider says, through the field that holds it.
SIZE_FIELD = {"threads": "n", "processes": "n", "cgi": "limit"}
REAL_MAX_REQUESTS = 40      # a real run must finish in seconds on a shared laptop
SIM_MAX_REQUESTS = 100_000


def make_model(name: str, workers: int):
    """The worker model the controls describe: a race model, resized."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    field = SIZE_FIELD.get(name)
    return replace(MODELS[name], **{field: workers}) if field else MODELS[name]


def run_choice(model_name: str, workers: int, workload: str, requests: int, mode: str):
    """Run what the controls say; returns a Timeline.  Raises ValueError for bad input."""
    from .. import concurrency as c

    if workload not in apps.WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}")
    model = make_model(model_name, workers)
    if mode == "simulated":
        if not 1 <= requests <= SIM_MAX_REQUESTS:
            raise ValueError(f"simulate between 1 and {SIM_MAX_REQUESTS:,} requests")
        return c.simulate(model, apps.workload(workload, requests))
    if not 1 <= requests <= REAL_MAX_REQUESTS:
        raise ValueError(f"a real run takes 1 to {REAL_MAX_REQUESTS} requests here; "
                         "simulate for more")
    # As `gateway-lab race` does: the event loop gets the ASGI app (it awaits), the
    # others the WSGI app (which waits by blocking its worker, whatever the workload).
    asgi = isinstance(model, c.EventLoop)
    app = "gateway_lab.concurrency.apps:" + ("asgi_app" if asgi else "wsgi_app")
    return c.run_many(app, apps.requests_for(workload, requests, websocket=asgi), model=model,
                      timeout=10.0, deadline=60.0)


def _png(timeline) -> bytes | None:
    """The Gantt chart as PNG bytes, or None without matplotlib."""
    try:
        figure = timeline.plot()
    except ImportError:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


class ConcurrencyExplorer(Survives, widgets.VBox):
    """Model, workers, workload, size, real or simulated -> Gantt chart and summary."""

    STATIC_WHAT = "concurrency explorer"

    def __init__(self, *, model: str = "threads", workers: int = 4,
                 workload: str = "io", requests: int = 12, mode: str = "simulated"):
        self.timeline = None
        self.png = None
        # (label, value) pairs: the class name shows, the race's model name is the value.
        self.model = widgets.Dropdown(options=[(type(m).__name__, name)
                                               for name, m in MODELS.items()],
                                      value=model, description="model")
        self.workers = widgets.IntSlider(value=workers, min=1, max=16, description="workers")
        self.workers_note = widgets.HTML()
        self.workload = widgets.Dropdown(options=[(f"{name}: {what}", name) for name, (_, what)
                                                  in apps.WORKLOADS.items()], value=workload,
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
                            (self.workers_note, "gl-workers-note"),
                            (self.workload, "gl-workload"), (self.requests, "gl-requests"),
                            (self.mode, "gl-mode"), (self.run_button, "gl-run"),
                            (self.status, "gl-status"), (self.output, "gl-output")):
            widget.add_class(css)
        self.model.observe(self._sync_workers, names="value")
        self.run_button.on_click(lambda _: self.run())
        self._sync_workers()
        super().__init__([widgets.HBox([self.model, self.workers, self.workers_note]),
                          widgets.HBox([self.workload, self.requests]), self.mode,
                          widgets.HBox([self.run_button, self.status]), self.output])
        self.add_class("gl-explorer")
        self.add_class(LIVE)

    def _sync_workers(self, change=None) -> None:
        # Only pools have a size; a sequential server or an event loop has one worker.
        # Then the slider is greyed out *and* shows no number: a greyed-out 8 would
        # still read as "8 workers".
        sized = self.model.value in SIZE_FIELD
        self.workers.disabled = not sized
        self.workers.readout = sized
        self.workers.style.handle_color = None if sized else "#dddddd"
        one = {"sequential": "one worker: a request at a time",
               "eventloop": "one thread: the event loop runs every request"}
        self.workers_note.value = ("" if sized else
                                   f"<span style='color:#666'>{one.get(self.model.value, '')}"
                                   "</span>")

    def run(self):
        """Run the chosen model on the chosen workload; show and return the Timeline."""
        self.output.outputs = ()
        self.run_button.disabled = True
        self._say("running…")
        try:
            return self._run()
        finally:
            self.run_button.disabled = False

    def _run(self):
        from ..concurrency import RunError

        try:
            tl = run_choice(self.model.value, self.workers.value, self.workload.value,
                            self.requests.value, self.mode.value)
        except (ValueError, TypeError, RunError) as error:
            return self._say(str(error), error=True)
        self.timeline = tl
        self._say(f"{self.mode.value}: {tl.model} ran; drawing the chart…")
        from IPython.display import HTML, Image

        # The timeline's own HTML: the summary table and the run's notes
        # (such as "the event loop was blocked ...").
        self.output.append_display_data(HTML(tl._repr_html_()))
        self.png = _png(tl)
        if self.png is not None:
            self.output.append_display_data(Image(data=self.png, format="png"))
        # Only now: the chart is on its way to the page with this message's predecessors.
        self._say(f"done: {self.mode.value} {tl.model}, {len(tl):,} requests")
        self.refresh_static()
        return tl

    def static_inner(self) -> str:
        if self.timeline is None:
            return "<div>No run yet.</div>"
        chart = ""
        if self.png is not None:
            chart = ("<img alt='Gantt chart' src='data:image/png;base64,"
                     f"{base64.b64encode(self.png).decode()}'>")
        return (f"<div><b>{html.escape(self.mode.value)}: {html.escape(self.timeline.model)}"
                f"</b></div>{self.timeline._repr_html_()}{chart}")

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#333"
        self.status.value = (f"<span class='gl-status-text' style='color:{color}'>"
                             f"{html.escape(text)}</span>")
