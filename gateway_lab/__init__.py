"""gateway-lab: how a web server talks to a Python app, one traced step at a time.

    import gateway_lab as gl
    ex = gl.run_wsgi(app, gl.Request("GET", "/hello?name=Ada"))
    ex.response.status, ex.trace, ex.findings

The names below are the public API (see DESIGN.md).  Heavier parts (the
concurrency lab, the widgets, serving on a socket) load on first use, so
`import gateway_lab` stays fast and never imports Jupyter or matplotlib.
"""

from .browser import IN_BROWSER
from .exchange import Exchange, Response
from .findings import Finding
from .request import BadRequest, Close, Request
from .trace import Event, Trace
from .version import __version__ as __version__

# name -> module that defines it, imported when first asked for (PEP 562).
_LAZY = {
    "run_wsgi": "wsgi",
    "run_asgi": "asgi",
    "run_asgi_async": "asgi",
    "lifespan": "asgi",
    "run_cgi": "cgi",
    "run_many": "concurrency",
    "simulate": "concurrency",
    "Workload": "concurrency",
    "Costs": "concurrency",
    "Timeline": "concurrency",
    "Sequential": "concurrency",
    "Threads": "concurrency",
    "Processes": "concurrency",
    "ProcessPerRequest": "concurrency",
    "EventLoop": "concurrency",
    "io": "concurrency",
    "io_sync": "concurrency",
    "cpu": "concurrency",
    "serve": "serving",
    "check": "exercises",
}

# subpackages reached as attributes, imported on first use: gl.servers (issue 18)
_PACKAGES = ("servers",)

__all__ = ["Request", "Response", "Exchange", "Trace", "Event", "Finding", "BadRequest",
           "Close", "IN_BROWSER", *_LAZY, *_PACKAGES]


def __getattr__(name: str):
    if name in _PACKAGES:
        from importlib import import_module

        return import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway_lab' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


def load_ipython_extension(ipython):
    """`%load_ext gateway_lab`: the %%wsgi, %%asgi and %%cgi cell magics."""
    from .magics import load_ipython_extension as load

    load(ipython)
