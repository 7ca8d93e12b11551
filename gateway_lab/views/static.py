"""What a widget leaves in a saved notebook: a static copy of itself.

A widget lives in the kernel.  Save a lesson, close it, open it again, and the
kernel that held the widget is gone: JupyterLab can only say "Error displaying
widget: model not found" where the stepper was.  So every widget of the lab is
displayed with a second output beside it, plain HTML (the sequence diagram as
SVG, the response, the findings, the chart), which is saved with the notebook
and needs no kernel.

While the widget is alive, a CSS rule shipped with that output hides the copy:
`.jp-OutputArea:has(.gl-live) .gl-static` (a cell whose output area holds a
live widget of the lab hides the static copy).  When the widget is gone, the
copy shows, and the "model not found" line is hidden.  Front ends without
JupyterLab's classes (a static HTML export, GitHub) show the copy alone.

A widget that changes (the request builder after a Run) updates its copy in
place through an IPython display handle (`display(..., display_id=True)`),
so what is saved is its latest state.  Re-running the cell brings the controls back.

Nothing here imports Jupyter at module level.
"""

from __future__ import annotations

import html

LIVE = "gl-live"          # the class every live widget of the lab carries
STATIC = "gl-static"      # the class of every static copy

# Hide the copy while a live widget is in the same cell's output.  When the copy shows,
# hide the widget's own output ("Loading widget...", then "Error displaying widget: model
# not found"): JupyterLab writes that text straight into the output element, which has
# then no child element (and no data-mime-type, which rendered outputs carry).
_GONE = f".jp-OutputArea:has(.{STATIC}):not(:has(.{LIVE})) .jp-OutputArea-output"
CSS = ("<style>"
       f".jp-OutputArea:has(.{LIVE}) .{STATIC}{{display:none}}"
       f"{_GONE}.jupyter-widgets:not(:has(*)),"
       f"{_GONE}:not([data-mime-type]):not(:has(*)){{display:none}}"
       f".{STATIC}{{border-left:3px solid #bbb;padding-left:8px}}"
       "</style>")


def static_html(what: str, inner: str) -> str:
    """The static copy of a `what` (e.g. 'trace stepper') around the HTML `inner`."""
    note = (f"<div class='gl-static-note' style='color:#666;font-size:12px'>"
            f"A saved copy of the {html.escape(what)}: run the cell again to get its "
            f"controls back.</div>")
    return f"<div class='{STATIC}'>{CSS}{note}{inner}</div>"


def widget_output(widget) -> dict:
    """A widget as one output of an Output widget (its view only, no static copy):
    what `Output.append_display_data` would add, without calling `_ipython_display_`."""
    return {"output_type": "display_data", "data": widget._repr_mimebundle_(), "metadata": {}}


class Survives:
    """Mixin for the lab's widgets: displayed, they leave a static copy beside them.

    A class using it defines `STATIC_WHAT` (what the copy is called) and
    `static_inner()` (the copy's HTML), and calls `refresh_static()` after a change."""

    STATIC_WHAT = "widget"
    _static_handle = None

    def static_inner(self) -> str:
        raise NotImplementedError

    def static(self) -> str:
        """The static copy, as HTML."""
        return static_html(self.STATIC_WHAT, self.static_inner())

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        self.add_class(LIVE)
        display(self._repr_mimebundle_(), raw=True)
        self._static_handle = display(HTML(self.static()), display_id=True)

    def refresh_static(self) -> None:
        """Put the widget's current state into its static copy (if it was displayed)."""
        if self._static_handle is not None:
            from IPython.display import HTML

            self._static_handle.update(HTML(self.static()))
