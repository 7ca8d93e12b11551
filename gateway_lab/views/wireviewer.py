"""WireViewer: the bytes a front-end server sends an app server, field by field.

    from gateway_lab.views import WireViewer
    WireViewer(gl.Request("POST", "/form", body="name=Ada"), protocol="fastcgi")

nginx does not speak WSGI: it talks to gunicorn over HTTP, to uWSGI over the
uwsgi protocol, to flup or php-fpm over FastCGI, to an SCGI server over SCGI.
Each frames the same CGI variables and body differently (the SCGI protocol
text, the FastCGI 1.0 specification, uWSGI's packet documentation).  The
viewer encodes one request with `gateway_lab.wire`, and shows the bytes as a
hex dump coloured by field; Prev / Next (or the slider) outline one field and
say what it means.
"""

from __future__ import annotations

import ipywidgets as widgets

from .. import demo, wire
from ..request import Request
from .panels import field_html, hex_html
from .static import LIVE, Survives

__all__ = ["WireViewer"]


def encode(protocol: str, request: Request) -> tuple[bytes, list]:
    """The request as `protocol` frames it, and the fields of those bytes.

    An unknown protocol encodes to nothing, and wire.explain says which ones exist."""
    module = wire.PROTOCOLS.get(protocol)
    data = module.encode_request(request) if module is not None else b""
    return data, wire.explain(protocol, data)


class WireViewer(Survives, widgets.VBox):
    """Protocol choice, a coloured hex dump, and a field stepper."""

    STATIC_WHAT = "wire viewer"

    def __init__(self, request: Request | None = None, protocol: str = "scgi"):
        # By default, the guestbook's form POST that `gateway-lab demo` sends.
        self.request = request if request is not None else demo.request()
        self.data, self.fields = b"", []
        encode(protocol, self.request)   # an unknown protocol fails here, with its name
        self.protocol = widgets.ToggleButtons(options=list(wire.PROTOCOLS), value=protocol,
                                              description="protocol")
        self.prev_button = widgets.Button(description="Prev", icon="step-backward")
        self.next_button = widgets.Button(description="Next", icon="step-forward")
        self.slider = widgets.IntSlider(min=0, max=0, description="field", readout=False)
        self.summary = widgets.HTML()
        self.detail = widgets.HTML()
        self.hex = widgets.HTML()
        for widget, css in ((self.protocol, "gl-protocol"), (self.prev_button, "gl-prev"),
                            (self.next_button, "gl-next"), (self.slider, "gl-slider"),
                            (self.detail, "gl-detail"), (self.hex, "gl-hexdump")):
            widget.add_class(css)
        self.prev_button.on_click(lambda _: self.go(self.slider.value - 1))
        self.next_button.on_click(lambda _: self.go(self.slider.value + 1))
        self.slider.observe(self._redraw, names="value")
        self.protocol.observe(self._encode, names="value")
        super().__init__([self.protocol, self.summary,
                          widgets.HBox([self.prev_button, self.next_button, self.slider]),
                          self.detail, self.hex])
        self.add_class("gl-wire")
        self.add_class(LIVE)
        self._encode()

    def go(self, index: int) -> None:
        self.slider.value = min(max(index, 0), self.slider.max)

    def _encode(self, change=None) -> None:
        self.data, self.fields = encode(self.protocol.value, self.request)
        self.summary.value = (f"<b>{self.protocol.value}</b>: {len(self.data)} bytes, "
                              f"{len(self.fields)} fields, for {self.request.method} "
                              f"{self.request.target}")
        self.slider.max = max(len(self.fields) - 1, 0)
        if self.slider.value:
            self.slider.value = 0      # redraws through the observer
        else:
            self._redraw()
        self.refresh_static()

    def static_inner(self) -> str:
        """The bytes of the chosen protocol, every field coloured, and the fields listed."""
        fields = "".join(f"<li>{field_html(self.fields, i)}</li>"
                         for i in range(len(self.fields)))
        return (f"<div>{self.summary.value}</div>{hex_html(self.data, self.fields)}"
                f"<details><summary>the {len(self.fields)} fields</summary><ol "
                f"style='list-style:none;padding-left:0'>{fields}</ol></details>")

    def _redraw(self, change=None) -> None:
        i = self.slider.value
        self.prev_button.disabled = i <= 0
        self.next_button.disabled = i >= len(self.fields) - 1
        self.detail.value = field_html(self.fields, i)
        self.hex.value = hex_html(self.data, self.fields, i)
