"""The lab in a browser: what changes when Python runs in JupyterLite's Pyodide kernel.

Pyodide is CPython compiled to WebAssembly, running in the browser tab's web worker
(`sys.platform == "emscripten"`).  The lab's engine is plain Python and runs there
as it does on a desktop; what a browser page cannot do is what the edges do:

* start a thread (`RuntimeError: can't start new thread`): the sandbox puts its
  deadline on learner code with `sys.monitoring` (or `sys.settrace`) in the calling
  thread instead of a watchdog thread (sandbox.py).  A Python loop is stopped at its
  next step; a blocking `time.sleep` cannot be cut short.
* run a second event loop while the kernel's is running: the kernel's loop is the
  browser's own and never returns to a cell.  The lab runs an ASGI app on a loop of
  its own that waits by sleeping, so an app that awaits a timer works; an app that
  waits for something only the notebook's loop can deliver is told to use
  `await gl.run_asgi_async(...)` (asgi/loops.py).
* start a process or open a listening socket: CGI runs its script in-process as a
  labelled simulation (cgi.py); real servers, the wire servers and real worker
  models say why they cannot run and what runs instead.
* import matplotlib (compiled code only): Gantt charts are drawn as SVG.

Every check of this flag happens once, at import, so the desktop pays nothing.
"""

from __future__ import annotations

import sys

IN_BROWSER = sys.platform == "emscripten"

WHERE = "In the browser (JupyterLite)"
DESKTOP = ("run this lesson in JupyterLab on your computer (pip install 'gateway-lab[lab]', "
           "then gateway-lab lab) to see it for real")


class BrowserLimit(RuntimeError):
    """Something the browser cannot do; the message says what and what to do instead."""


def why(what: str, reason: str, instead: str = DESKTOP) -> str:
    """'In the browser (JupyterLite), WHAT cannot run: REASON; INSTEAD.'"""
    return f"{WHERE}, {what} cannot run: {reason}; {instead}."


def refuse(what: str, reason: str, instead: str = DESKTOP) -> BrowserLimit:
    """The exception to raise for `what` in the browser (see why())."""
    return BrowserLimit(why(what, reason, instead))


NO_PROCESSES = "a web page cannot start processes"
NO_SOCKETS = "a web page cannot listen on a socket or reach a server"
NO_THREADS = "a web page's Python cannot start threads"
