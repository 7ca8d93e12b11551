"""TraceStepper: walk through a trace one event at a time.

    from gateway_lab.views import TraceStepper
    TraceStepper(gl.run_wsgi(app, req))      # the last line of a cell displays it

Prev / Next buttons, a Play button and a slider choose the step; the sequence
diagram highlights it and the detail panel shows what travelled at that step
(the environ, the scope, a message, the CGI variables, the response) and any
rule broken there, in red.

How it stays responsive: everything is driven by widget callbacks.  The
slider's value is the single source of truth; the buttons change it, and an
`observe` on it redraws.  `Play` is linked to the slider in the browser
(`jslink`), so playing needs no loop in the kernel and a cell never blocks
waiting for a click.

When the trace has findings, a red button per finding jumps to its step.

Displayed, it also leaves a static copy (views.static): the whole sequence diagram and
the findings, which a saved notebook shows when the kernel that held the widget is gone.

The DOM carries stable classes (`gl-stepper`, `gl-prev`, `gl-next`, `gl-play`,
`gl-slider`, `gl-diagram`, `gl-detail`, `gl-finding-jump`, and `gl-step-current`
on the highlighted row of the diagram) for tests and stylesheets.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..render import findings_html
from .panels import step_html
from .sequence import _trace_of, sequence_svg
from .static import LIVE, Survives

__all__ = ["TraceStepper"]

PLAY_INTERVAL_MS = 900   # slow enough to read a step aloud in class


class TraceStepper(Survives, widgets.VBox):
    """Prev / Next / Play / slider over a trace's events, with diagram and details."""

    STATIC_WHAT = "trace stepper"

    def __init__(self, trace_or_exchange, *, step: int = 0, interval: int = PLAY_INTERVAL_MS):
        self.trace = _trace_of(trace_or_exchange)
        self.exchange = trace_or_exchange if trace_or_exchange is not self.trace else None
        last = max(len(self.trace.events) - 1, 0)

        self.prev_button = widgets.Button(description="Prev", icon="step-backward",
                                          tooltip="previous step")
        self.next_button = widgets.Button(description="Next", icon="step-forward",
                                          tooltip="next step")
        self.play = widgets.Play(min=0, max=last, step=1, interval=interval,
                                 description="Play", show_repeat=False)
        self.slider = widgets.IntSlider(min=0, max=last, value=min(max(step, 0), last),
                                        description="step", readout=False,
                                        continuous_update=True)
        self.counter = widgets.HTML()
        # Play moves the slider in the browser; the kernel only hears about the slider.
        self.play_link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.diagram = widgets.HTML(layout=widgets.Layout(overflow="auto"))
        self.detail = widgets.HTML(layout=widgets.Layout(max_height="360px", overflow="auto"))

        for widget, css in ((self.prev_button, "gl-prev"), (self.next_button, "gl-next"),
                            (self.play, "gl-play"), (self.slider, "gl-slider"),
                            (self.counter, "gl-counter"), (self.diagram, "gl-diagram"),
                            (self.detail, "gl-detail")):
            widget.add_class(css)

        self.prev_button.on_click(lambda _: self.go(self.step - 1))
        self.next_button.on_click(lambda _: self.go(self.step + 1))
        self.slider.observe(self._redraw, names="value")

        controls = widgets.HBox([self.prev_button, self.next_button, self.play, self.slider,
                                 self.counter])
        rows = [controls, self.diagram, self.detail]
        jumps = self._finding_buttons()
        if jumps:
            rows.insert(1, widgets.HBox(jumps))
        super().__init__(rows)
        self.add_class("gl-stepper")
        self.add_class(LIVE)
        self._redraw()

    # -- driving it (also from code: stepper.go(3)) ----------------------------

    @property
    def step(self) -> int:
        """The current step, 0-based."""
        return self.slider.value

    def go(self, step: int) -> None:
        """Show step `step` (clamped to the trace)."""
        self.slider.value = min(max(step, self.slider.min), self.slider.max)

    def next(self) -> None:
        self.go(self.step + 1)

    def prev(self) -> None:
        self.go(self.step - 1)

    def _finding_buttons(self) -> list:
        """One red button per finding, jumping to the step where it was noticed."""
        buttons = []
        for i, event in enumerate(self.trace.events):
            if event.finding is None:
                continue
            button = widgets.Button(description=f"✗ {event.finding.rule}", button_style="danger",
                                    tooltip=event.finding.message,
                                    layout=widgets.Layout(width="auto"))
            button.add_class("gl-finding-jump")
            button.on_click(lambda _, step=i: self.go(step))
            buttons.append(button)
        return buttons

    # -- drawing -------------------------------------------------------------------

    def _redraw(self, change=None) -> None:
        n = len(self.trace.events)
        i = self.step
        self.counter.value = f"<span>{i + 1 if n else 0} / {n}</span>"
        self.prev_button.disabled = i <= 0
        self.next_button.disabled = i >= n - 1
        self.diagram.value = sequence_svg(self.trace, current=i if n else None)
        self.detail.value = step_html(self.trace, i)

    def static_inner(self) -> str:
        """Every step at once: the diagram, and the findings when there are any."""
        found = findings_html(self.exchange.findings) if self.exchange is not None else ""
        return (f"<div class='gl-static-diagram' style='overflow:auto'>"
                f"{sequence_svg(self.trace)}</div>{found}")

    def __repr__(self) -> str:
        return (f"<TraceStepper {self.trace.interface} step {self.step + 1}/"
                f"{len(self.trace.events)}>")
