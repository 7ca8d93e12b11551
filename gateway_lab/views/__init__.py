"""Views: pictures and widgets made from a trace, and nothing else.

    from gateway_lab.views import show, sequence, TraceStepper, RequestBuilder
    show(ex)                 # response, findings and a stepper, in a notebook
    display(sequence(ex))    # the sequence diagram alone (SVG + Mermaid)
    ConcurrencyExplorer()    # worker models and workloads on a Gantt chart
    WireViewer(req)          # the request as SCGI / FastCGI / uwsgi bytes, field by field
    compare(ex1, ex2)        # two exchanges side by side, aligned step by step

Every widget, displayed, leaves a static copy of itself beside it (views.static),
which a saved notebook shows once the kernel that held the widget is gone.

`sequence` is plain Python; the widgets need ipywidgets (the `lab` extra) and
are imported only when first asked for, so `import gateway_lab.views` stays
light (PEP 562 module __getattr__).
"""

from __future__ import annotations

from .compare import TraceComparison, compare
from .sequence import SequenceDiagram, sequence, sequence_mermaid, sequence_svg

__all__ = ["ConcurrencyExplorer", "RequestBuilder", "SequenceDiagram", "TraceComparison",
           "TraceStepper", "WireViewer", "compare", "sequence", "sequence_mermaid",
           "sequence_svg", "show"]

_LAZY = {"TraceStepper": "stepper", "RequestBuilder": "builder",
         "ConcurrencyExplorer": "explorer", "WireViewer": "wireviewer"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway_lab.views' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def show(exchange, *, stepper: bool = True) -> None:
    """Display an exchange in a notebook: the response, its findings and a stepper.

    Without ipywidgets (or with `stepper=False`) the stepper is replaced by the
    static sequence diagram, which every front end can show.
    """
    from IPython.display import HTML, display

    from .panels import exchange_summary_html

    display(HTML(exchange_summary_html(exchange)))
    if stepper:
        try:
            from .stepper import TraceStepper

            display(TraceStepper(exchange))
            return
        except ImportError:
            pass
    display(sequence(exchange))
