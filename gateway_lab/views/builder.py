"""RequestBuilder: compose a request, send it through a gateway, step through the result.

    from gateway_lab.views import RequestBuilder
    RequestBuilder(app)                          # a WSGI app
    RequestBuilder(app, gateway="asgi")          # an ASGI app
    RequestBuilder({"wsgi": wsgi_app, "asgi": asgi_app, "cgi": "hello.py"})

With no app it serves the lab's guestbook demo, written once per interface,
so the same request can be sent through CGI, WSGI and ASGI and compared.

Everything happens in the Run button's callback: the request is built, run
(with a timeout, like every run of learner code), and the response and a
TraceStepper are written to an Output widget by setting its outputs, never
with `with out:` (a callback may run where that context is not the cell's).

The builder keeps its runs (`builder.runs`).  Pick two of them, say the same
request through WSGI and through ASGI, or before and after a fix, and Compare
shows their traces side by side, aligned step by step, the differences marked
(gateway_lab.views.compare).  The latest run and comparison are also kept in
the builder's static copy, which a saved notebook shows (views.static).
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from .compare import compare
from .panels import exchange_summary_html
from .requests import GATEWAYS, METHODS, InputError, build_request, run_through
from .sequence import sequence_svg
from .static import LIVE, Survives, widget_output
from .stepper import TraceStepper

__all__ = ["RequestBuilder"]


def _demo_apps() -> dict:
    """The guestbook, once per interface (loaded when first needed)."""
    from ..demo import CGI_SCRIPT
    from ..demo.guestbook_asgi import app as asgi_app
    from ..demo.guestbook_wsgi import app as wsgi_app

    return {"wsgi": wsgi_app, "asgi": asgi_app, "cgi": str(CGI_SCRIPT)}


class RequestBuilder(Survives, widgets.VBox):
    """Method, path, headers, body and gateway in; response and a stepper out."""

    STATIC_WHAT = "request builder"

    def __init__(self, app=None, gateway: str = "wsgi", *, method: str = "GET",
                 path: str = "/", headers: str = "", body: str = "", timeout: float = 5.0):
        if gateway not in GATEWAYS:
            raise ValueError(f"gateway must be one of {', '.join(GATEWAYS)}, not {gateway!r}")
        if app is None:
            self.apps = _demo_apps()
        elif isinstance(app, dict):
            self.apps = dict(app)
        else:
            self.apps = {gateway: app}
        self.timeout = timeout
        self.exchange = None     # the last Exchange, for code that wants it
        self.stepper = None      # and its TraceStepper
        self.runs: list = []     # every Exchange this builder made, in order
        self.comparison = None   # the last TraceComparison shown

        self.method = widgets.Dropdown(options=METHODS, value=method.upper()
                                       if method.upper() in METHODS else "GET",
                                       description="method")
        self.path = widgets.Text(value=path, description="path",
                                 placeholder="/path?query=string")
        self.headers = widgets.Textarea(value=headers, description="headers",
                                        placeholder="Content-Type: text/plain\nX-Name: value",
                                        rows=3)
        self.body = widgets.Textarea(value=body, description="body", rows=3)
        choices = [g for g in GATEWAYS if g in self.apps]
        if not choices:
            raise ValueError("the app dict maps gateway names (wsgi, asgi, cgi) to apps")
        self.gateway = widgets.ToggleButtons(options=choices, description="gateway",
                                             value=gateway if gateway in choices else choices[0])
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        # Two runs to compare: the first and the second (by default the last two).
        self.pick_a = widgets.Dropdown(options=[], description="compare",
                                       layout=widgets.Layout(width="360px"))
        self.pick_b = widgets.Dropdown(options=[], description="with",
                                       layout=widgets.Layout(width="360px"))
        self.compare_button = widgets.Button(description="Compare", icon="columns",
                                             disabled=True,
                                             tooltip="the two runs' traces side by side")
        self.compared = widgets.HTML()
        for widget, css in ((self.method, "gl-method"), (self.path, "gl-path"),
                            (self.headers, "gl-headers"), (self.body, "gl-body"),
                            (self.gateway, "gl-gateway"), (self.run_button, "gl-run"),
                            (self.status, "gl-status"), (self.output, "gl-output"),
                            (self.pick_a, "gl-pick-a"), (self.pick_b, "gl-pick-b"),
                            (self.compare_button, "gl-compare-button"),
                            (self.compared, "gl-compared")):
            widget.add_class(css)
        self.run_button.on_click(lambda _: self.run())
        self.compare_button.on_click(lambda _: self.compare())
        form = widgets.VBox([widgets.HBox([self.method, self.path]), self.headers, self.body,
                             self.gateway, widgets.HBox([self.run_button, self.status])])
        picks = widgets.HBox([self.pick_a, self.pick_b, self.compare_button])
        super().__init__([form, self.output, picks, self.compared])
        self.add_class("gl-builder")
        self.add_class(LIVE)

    def run(self):
        """Send the request as the form describes it; show and return the Exchange
        (None when the input was wrong: the status line says why)."""
        gateway = self.gateway.value
        try:
            request = build_request(self.method.value, self.path.value, self.headers.value,
                                    self.body.value)
            exchange = run_through(gateway, self.apps.get(gateway), request,
                                   timeout=self.timeout)
        except InputError as error:
            return self._say(str(error), error=True)
        self.exchange = exchange
        self.runs.append(exchange)
        r = exchange.response
        self._say(f"run {len(self.runs)}: {gateway.upper()} → {r.status} {r.reason}".rstrip()
                  + (f" · {len(exchange.findings)} finding(s)" if exchange.findings else ""),
                  error=bool(exchange.findings))
        self.stepper = TraceStepper(exchange)
        # Set, not appended: clear_output() would enter `with self.output`.
        self.output.outputs = (
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": exchange_summary_html(exchange),
                      "text/plain": str(exchange.response.status)}},
            widget_output(self.stepper))
        self._offer_runs()
        self.refresh_static()
        return exchange

    def run_label(self, index: int) -> str:
        """'2 · ASGI POST /guestbook → 200' for run number index + 1."""
        ex = self.runs[index]
        return (f"{index + 1} · {ex.interface.upper()} {ex.request.method} "
                f"{ex.request.target} → {ex.response.status}")

    def _offer_runs(self) -> None:
        options = [(self.run_label(i), i) for i in range(len(self.runs))]
        self.pick_a.options = options
        self.pick_b.options = options
        if len(self.runs) >= 2:
            self.pick_a.value, self.pick_b.value = len(self.runs) - 2, len(self.runs) - 1
        self.compare_button.disabled = len(self.runs) < 2

    def compare(self, first: int | None = None, second: int | None = None):
        """Show runs `first` and `second` (0-based; default: the two picked) side by side,
        aligned step by step; returns the TraceComparison."""
        first = self.pick_a.value if first is None else first
        second = self.pick_b.value if second is None else second
        if first is None or second is None:
            return self._say("run the request twice (say, through two gateways) to compare",
                             error=True)
        self.comparison = compare(self.runs[first], self.runs[second],
                                  labels=(self.run_label(first), self.run_label(second)))
        self.compared.value = self.comparison._repr_html_()
        self.refresh_static()
        return self.comparison

    def static_inner(self) -> str:
        if self.exchange is None:
            return (f"<div>No run yet: the form held {html.escape(self.method.value)} "
                    f"{html.escape(self.path.value)} for {self.gateway.value.upper()}.</div>")
        parts = [f"<div>{len(self.runs)} run(s); the last one:</div>",
                 exchange_summary_html(self.exchange),
                 f"<div style='overflow:auto'>{sequence_svg(self.exchange)}</div>"]
        if self.comparison is not None:
            parts.append(self.comparison._repr_html_())
        return "".join(parts)

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#2ca02c"
        self.status.value = (f"<span class='gl-status-text' style='color:{color}'>"
                             f"{html.escape(text)}</span>")
