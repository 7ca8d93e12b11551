"""HTML panels the widgets show: one step's detail, and an exchange in short.

Plain functions from trace data to HTML strings (no Jupyter import), so they
can be tested, and reused in a static page.

What a step carries in `event.data` depends on the gateway: the environ
(WSGI), the scope or an ASGI message (ASGI), the CGI meta-variables, the
Request the client sent or the Response it got back.  `data_html` shows each
of those the way its spec writes it: dicts as key/value tables, header lists
as `name: value` lines, bytes as Python shows them.
"""

from __future__ import annotations

import html

from ..render import finding_html, response_text
from .sequence import label_of, spec_url

_MAX_VALUE = 400     # characters of one value shown before it is clipped
_MAX_ROWS = 80       # keys of one dict shown (an environ has ~25)


def _clip(text: str, limit: int = _MAX_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_header_list(value) -> bool:
    return (isinstance(value, (list, tuple)) and bool(value)
            and all(isinstance(h, (list, tuple)) and len(h) == 2 for h in value))


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return str(value)


def value_html(value) -> str:
    """One value in a detail table: headers one per line, everything else as repr."""
    if _is_header_list(value):
        # ASGI headers are [bytes, bytes]; WSGI (str, str): both read as 'name: value'.
        lines = [f"{_text(n)}: {_text(v)}" for n, v in value]
        return "<br>".join(html.escape(_clip(line)) for line in lines)
    if isinstance(value, str):
        return html.escape(_clip(repr(value)))
    return f"<code>{html.escape(_clip(repr(value)))}</code>"


def data_html(data) -> str:
    """The payload of one step (environ, scope, message, variables, Request, Response)."""
    if data is None:
        return ""
    from ..exchange import Response
    from ..request import Request

    if isinstance(data, Request):
        raw = data.to_bytes().decode("latin-1")
        return ("<div class='gl-data-title'>the request, as bytes on the wire</div>"
                f"<pre class='gl-data'>{html.escape(_clip(raw, 4000))}</pre>")
    if isinstance(data, Response):
        return ("<div class='gl-data-title'>the response the client got</div>"
                f"<pre class='gl-data'>{html.escape(_clip(response_text(data), 4000))}</pre>")
    if isinstance(data, dict):
        rows = []
        for i, (key, value) in enumerate(data.items()):
            if i == _MAX_ROWS:
                rows.append(f"<tr><td colspan=2>… {len(data) - i} more</td></tr>")
                break
            rows.append(f"<tr><th style='text-align:left;padding-right:1em;vertical-align:top'>"
                        f"<code>{html.escape(str(key))}</code></th>"
                        f"<td style='text-align:left'>{value_html(value)}</td></tr>")
        return f"<table class='gl-data'>{''.join(rows)}</table>"
    if _is_header_list(data):
        return f"<div class='gl-data'>{value_html(data)}</div>"
    return f"<pre class='gl-data'>{html.escape(_clip(repr(data), 4000))}</pre>"


def _spec_html(spec: str, url: str | None = None) -> str:
    url = url or spec_url(spec)
    if not spec:
        return ""
    if url:
        return (f"<a href='{html.escape(url)}' target='_blank' rel='noopener'>"
                f"{html.escape(spec)}</a>")
    return html.escape(spec)


def step_html(trace, index: int) -> str:
    """The detail panel for step `index` (0-based) of `trace`."""
    events = trace.events
    if not events:
        return "<div class='gl-detail-body'><i>This trace has no events.</i></div>"
    event = events[index]
    who = event.actor + (f" → {event.target}" if event.target else "")
    parts = [f"<div class='gl-detail-body' data-step='{index}'>",
             (f"<div><b class='gl-step-title'>Step {index + 1} of {len(events)}</b> · "
             f"<b>{html.escape(who)}</b> · <code>{html.escape(event.kind)}</code> · "
             f"<small>{event.t * 1000:.2f} ms</small></div>"),
             (f"<div class='gl-step-detail' style='margin:4px 0'>"
             f"{html.escape(_clip(str(event.detail), 2000))}</div>")]
    if event.spec:
        parts.append(f"<div><small>spec: {_spec_html(event.spec)}</small></div>")
    if event.finding is not None:
        parts.append(finding_html(event.finding))
    parts.append(data_html(event.data))
    parts.append("</div>")
    return "".join(parts)


def exchange_summary_html(exchange) -> str:
    """The response (as render.response_text writes it) and the findings of an exchange."""
    msgs = ""
    if exchange.messages:
        msgs = ("<div>WebSocket messages from the app: <code>"
                + html.escape(", ".join(map(repr, exchange.messages))) + "</code>"
                + (f" · close code {exchange.close_code}"
                   if exchange.close_code is not None else "") + "</div>")
    if exchange.findings:
        found = "".join(finding_html(f) for f in exchange.findings)
    else:
        found = "<div style='color:#2ca02c'>✓ no findings: every rule the lab checks was kept</div>"
    title = exchange.interface.upper()
    if exchange.request is not None:
        title += f" · {exchange.request.method} {exchange.request.target}"
    return (f"<div class='gl-response'><div><b>{html.escape(title)}</b></div>"
            f"<pre class='gl-response-text' style='margin:4px 0'>"
            f"{html.escape(response_text(exchange.response))}</pre>{msgs}{found}</div>")


__all__ = ["data_html", "exchange_summary_html", "finding_html", "label_of", "step_html",
           "value_html"]


# -- bytes on the wire ---------------------------------------------------------------------

# Pale colours that tell neighbouring fields apart and keep black text readable.
_FIELD_COLOURS = ("#dbeafe", "#fde68a", "#d1fae5", "#fce7f3", "#e0e7ff", "#fee2e2")
_PER_ROW = 16


def _field_of_each_byte(size: int, fields) -> list[int | None]:
    owner: list[int | None] = [None] * size
    for index, field in enumerate(fields):
        for pos in range(field.offset, min(field.offset + field.length, size)):
            owner[pos] = index
    return owner


def _byte_span(text: str, index, fields, current) -> str:
    if index is None:
        return html.escape(text)
    field = fields[index]
    css = "gl-byte gl-field-current" if index == current else "gl-byte"
    style = f"background:{_FIELD_COLOURS[index % len(_FIELD_COLOURS)]}"
    if index == current:
        style += ";outline:2px solid #b45309;font-weight:bold"
    tip = html.escape(f"{field.label} = {field.value!r}", quote=True)
    return (f"<span class='{css}' data-field='{index}' title='{tip}' "
            f"style='{style}'>{html.escape(text)}</span>")


def hex_html(data: bytes, fields, current: int | None = None) -> str:
    """A hex dump of `data`, each field's bytes coloured, field `current` outlined.

    `fields` are (offset, length, label, value) tuples, as `gateway_lab.wire.explain` gives.
    """
    owner = _field_of_each_byte(len(data), fields)
    rows = []
    for start in range(0, len(data), _PER_ROW):
        chunk = data[start:start + _PER_ROW]
        hexes = " ".join(_byte_span(f"{b:02x}", owner[start + i], fields, current)
                         for i, b in enumerate(chunk))
        pad = "   " * (_PER_ROW - len(chunk))
        text = "".join(_byte_span(chr(b) if 32 <= b < 127 else "·", owner[start + i], fields,
                                  current) for i, b in enumerate(chunk))
        rows.append(f"<span style='color:#888'>{start:04x}</span>  {hexes}{pad}  {text}")
    return ("<pre class='gl-hex' style='line-height:1.5;font-size:12px'>"
            + "\n".join(rows) + "</pre>")


def field_html(fields, current: int) -> str:
    """One field of a wire message, in words."""
    if not fields:
        return "<div class='gl-field-detail'><i>no fields</i></div>"
    f = fields[current]
    return (f"<div class='gl-field-detail'><b>field {current + 1} of {len(fields)}</b> · "
            f"bytes {f.offset}–{f.offset + f.length - 1} ({f.length} byte"
            f"{'' if f.length == 1 else 's'}) · <b>{html.escape(str(f.label))}</b> = "
            f"<code>{html.escape(repr(f.value))}</code></div>")
