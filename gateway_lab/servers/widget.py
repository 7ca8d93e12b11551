"""ServersExplorer: pick real servers, workloads and concurrency; run; read the curves.

    from gateway_lab.servers import ServersExplorer
    ServersExplorer()               # choose, press Run
    ServersExplorer(run=run)        # show a showdown already made (no new run)

The controls are `showdown()`'s arguments one to one: the server setups
(only those installed here are offered; the others are listed with how to
install them), the workloads, the concurrency levels (wrk -c), the seconds
per point and the number of idle long-lived streams.  Pressing Run starts
each server for real, loads it with wrk and stops it; the results are the
table, the curves (measured solid, predicted dashed) and the verdicts.

As in the lab's other widgets, the work happens in the button's callback and
the results are written with the Output widget's append methods.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets

from .server import available
from .showdown import DEFAULT_SETUPS, EVERY_SETUP, WORKLOADS, Showdown, showdown

LEVELS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MAX_POINTS = 60   # setups x workloads x levels a click may start (each is `duration` s)


def _png(run: Showdown) -> bytes | None:
    try:
        figure = run.curves()
    except (ImportError, ValueError):
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=85, bbox_inches="tight")
    return buffer.getvalue()


class ServersExplorer(widgets.VBox):
    """Setups, workloads, concurrency, seconds, idle streams -> curves and verdicts."""

    def __init__(self, *, setups=DEFAULT_SETUPS, workloads=WORKLOADS, connections=(1, 16),
                 duration: int = 1, idle: int = 1000, run: Showdown | None = None):
        # The usual setups, plus any other the caller asked for, as long as installed.
        ok, missing = available(list(dict.fromkeys([*EVERY_SETUP, *setups])))
        self.missing = missing
        self.by_label = {s.label: s for s in ok}
        chosen = [s.label for s in setups if s.label in self.by_label]
        self.setups = widgets.SelectMultiple(options=list(self.by_label), value=chosen,
                                             rows=min(9, max(3, len(ok))),
                                             description="servers")
        self.workloads = widgets.SelectMultiple(options=list(WORKLOADS),
                                                value=tuple(workloads), rows=3,
                                                description="workloads")
        self.connections = widgets.SelectMultiple(options=list(LEVELS),
                                                  value=tuple(connections), rows=5,
                                                  description="connections")
        self.duration = widgets.IntSlider(value=duration, min=1, max=30,
                                          description="seconds")
        self.idle = widgets.BoundedIntText(value=idle, min=0, max=5000,
                                           description="idle streams")
        self.run_button = widgets.Button(description="Run", icon="play",
                                         button_style="primary")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        for widget, css in ((self.setups, "gl-setups"), (self.workloads, "gl-workloads"),
                            (self.connections, "gl-connections"),
                            (self.duration, "gl-duration"), (self.idle, "gl-idle"),
                            (self.run_button, "gl-run"), (self.status, "gl-status"),
                            (self.output, "gl-output")):
            widget.add_class(css)
        self.run_button.on_click(lambda _: self.run())
        note = widgets.HTML("".join(f"<div>not installed: {html.escape(text)}</div>"
                                    for text in missing.values()))
        super().__init__([widgets.HBox([self.setups, self.workloads, self.connections]),
                          widgets.HBox([self.duration, self.idle]),
                          widgets.HBox([self.run_button, self.status]), note, self.output])
        self.add_class("gl-servers-explorer")
        self.result = run
        if run is not None:
            self.show(run)

    def points(self) -> int:
        return len(self.setups.value) * len(self.workloads.value) * len(self.connections.value)

    def run(self) -> Showdown | None:
        """Run what the controls say; show and return the Showdown."""
        if not self.setups.value or not self.workloads.value or not self.connections.value:
            return self._say("choose at least one server, one workload and one level",
                             error=True)
        if self.points() > MAX_POINTS:
            return self._say(f"{self.points()} points of {self.duration.value} s each is too "
                             f"long for one click (at most {MAX_POINTS})", error=True)
        self.output.outputs = ()
        try:
            run = showdown([self.by_label[label] for label in self.setups.value],
                           workloads=self.workloads.value,
                           connections=self.connections.value,
                           duration=self.duration.value, idle=self.idle.value,
                           progress=self._say)
        except Exception as error:  # noqa: BLE001 - a widget shows errors, it does not raise
            return self._say(f"{type(error).__name__}: {error}", error=True)
        self.result = run
        self.show(run)
        return run

    def show(self, run: Showdown) -> None:
        from IPython.display import HTML, Image

        self._say(f"{len(run.points)} points on {len(run.setups)} servers")
        self.output.append_display_data(HTML(run._repr_html_()))
        png = _png(run)
        if png is not None:
            self.output.append_display_data(Image(data=png, format="png"))

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#333"
        self.status.value = (f"<span class='gl-status-text' style='color:{color}'>"
                             f"{html.escape(text)}</span>")
