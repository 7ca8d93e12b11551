"""RequestBuilder: compose a request, send it through a gateway, step through the result.

    from gateway_lab.views import RequestBuilder
    RequestBuilder(app)                          # a WSGI app
    RequestBuilder(app, gateway="asgi")          # an ASGI app
    RequestBuilder({"wsgi": wsgi_app, "asgi": asgi_app, "cgi": "hello.py"})

With no app it serves the lab's guestbook demo, written once per interface,
so the same request can be sent through CGI, WSGI and ASGI and compared.

Everything happens in the Run button's callback: the request is built, run
(with a timeout, like every run of learner code), and the response and a
TraceStepper are written to an Output widget with its append methods, never
with `with out:` (a callback may run where that context is not the cell's).
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from .panels import exchange_summary_html
from .requests import GATEWAYS, METHODS, InputError, build_request, run_through
from .stepper import TraceStepper

__all__ = ["RequestBuilder"]


def _demo_apps() -> dict:
    """The guestbook, once per interface (loaded when first needed)."""
    from ..demo import CGI_SCRIPT
    from ..demo.guestbook_asgi import app as asgi_app
    from ..demo.guestbook_wsgi import app as wsgi_app

    return {"wsgi": wsgi_app, "asgi": asgi_app, "cgi": str(CGI_SCRIPT)}


class RequestBuilder(widgets.VBox):
    """Method, path, headers, body and gateway in; response and a stepper out."""

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
        for widget, css in ((self.method, "gl-method"), (self.path, "gl-path"),
                            (self.headers, "gl-headers"), (self.body, "gl-body"),
                            (self.gateway, "gl-gateway"), (self.run_button, "gl-run"),
                            (self.status, "gl-status"), (self.output, "gl-output")):
            widget.add_class(css)
        self.run_button.on_click(lambda _: self.run())
        form = widgets.VBox([widgets.HBox([self.method, self.path]), self.headers, self.body,
                             self.gateway, widgets.HBox([self.run_button, self.status])])
        super().__init__([form, self.output])
        self.add_class("gl-builder")

    def run(self):
        """Send the request as the form describes it; show and return the Exchange
        (None when the input was wrong: the status line says why)."""
        self.output.outputs = ()   # not clear_output(): that enters `with self.output`
        gateway = self.gateway.value
        try:
            request = build_request(self.method.value, self.path.value, self.headers.value,
                                    self.body.value)
            exchange = run_through(gateway, self.apps.get(gateway), request,
                                   timeout=self.timeout)
        except InputError as error:
            return self._say(str(error), error=True)
        self.exchange = exchange
        r = exchange.response
        self._say(f"{gateway.upper()} → {r.status} {r.reason}".rstrip()
                  + (f" · {len(exchange.findings)} finding(s)" if exchange.findings else ""),
                  error=bool(exchange.findings))
        self.output.append_display_data(widgets.HTML(exchange_summary_html(exchange)))
        self.stepper = TraceStepper(exchange)
        self.output.append_display_data(self.stepper)
        return exchange

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#2ca02c"
        self.status.value = (f"<span class='gl-status-text' style='color:{color}'>"
                             f"{html.escape(text)}</span>")
