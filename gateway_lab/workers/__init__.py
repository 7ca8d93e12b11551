"""Worker processes: how a server goes on serving when an app will not stop.

Python cannot kill a thread.  The lab stops most runaway apps from inside
(`gateway_lab.sandbox`: an exception raised into the loop, a signal that
breaks a `time.sleep`), but not code that swallows that exception
(`while True: try: ... except: pass`), nor a thread that is off the main
thread and blocked.  Off the main thread such code kept a core at 100 % for
good (issue 14).  Real servers settle this with processes: gunicorn runs the
app in worker processes, and "workers silent for more than this many seconds
are killed and restarted" (gunicorn docs, Settings §timeout,
https://docs.gunicorn.org/en/stable/settings.html#timeout).  A process can be
killed, whatever it is doing, and everything it holds goes with it.  So a lab
server (`gl.serve`, the wire servers) runs the app in a `Pool` of worker
processes:

    pool = Pool(app, "wsgi", timeout=5.0)   # or "asgi"
    pool.start()                             # the workers load the app and say "ready"
    ex = pool.run(request)                   # an Exchange, the same as run_wsgi's in-process
    pool.stop()                              # no process is left behind

How a worker gets the app
-------------------------
* **By name**, when the app has one (`module:attr`, found in `sys.modules`):
  a fresh Python (`sys.executable`) imports it, the way `gunicorn myapp:app`
  and `uvicorn myapp:app` load it.  Works on every platform, and the worker
  starts clean: no copy of the notebook, no sockets of the server.
* **By fork**, where the platform has it (Linux, macOS), when the app has no
  importable name: defined in a notebook cell, in a script's `__main__`, or
  inside a function.  The child is a copy of this process, app included.
  Also when a fresh Python cannot import the name after all (a module
  loaded from a path that is not on sys.path).  Forking a process that runs
  threads can deadlock the child if another thread held a lock at that
  moment (Python 3.12 warns about it); the child only runs the app and the
  loop below, and lets go of the sockets it inherited (a client connection
  must close when the server closes it, not when a worker exits).
* **Neither** (Windows, an app defined in a notebook): the app runs in this
  process's threads, as before, with a warning: an app that never returns
  cannot be stopped there.

A worker's copy of the app is its own: what the app changes in its globals
stays in that worker (as with gunicorn's workers).  What it prints goes to
the server's stderr (by name) or to the process's own stdout (by fork; in
Jupyter, the output of the cell that is running).  Requests wait for a free
worker in the order they came, QUEUE_WAIT seconds at most (then 503).

What a worker does with a request
---------------------------------
* WSGI, one request at a time (gunicorn's "sync" worker):
  `run_wsgi(app, request, timeout=...)` on the worker's main thread, so the
  lab's own deadline stops an ordinary endless loop and the worker answers
  504 itself, with the same trace as an in-process run.
* ASGI, many at once on one event loop (a uvicorn worker): HTTP through
  `await run_asgi_async(...)`, the same trace as `run_asgi`; a WebSocket is
  relayed message by message between the server and the worker's loop.  The
  loop sends a heartbeat every BEAT seconds.  The loop is the server's: an
  app that calls `loop.stop()` gets a RuntimeError (a 500 and a finding),
  the worker carries on.

The deadline: a request not answered within `timeout` plus KILL_GRACE (1 s),
or an ASGI worker whose heartbeat stopped for longer than that while it had
work, means the worker cannot stop the app by itself.  The pool kills it
(SIGKILL to its process group, so what the app started goes too), answers
504 with a trace that names the worker, its pid and the timeout, and starts a
fresh worker.  The trace of every request comes back from the worker with
each body cut to `keep_body` bytes (`listening.Clipped`), the response whole.

The package, one concept a module: `pool` (the server's side: start, hand a
request over, watch the deadline, kill and replace), `channel` (the pickled
messages on the pipes between them), `child` (a worker's main loop; WSGI
there), `asgi` (an ASGI worker's event loop, its lifespan, WebSockets) and
`tracing` (an ASGI app traced as it runs on a real server).
"""

from .pool import (
    KILL_GRACE,
    InProcess,
    Pool,
    PoolError,
    WebSocketRelay,
    importable_name,
    start_workers,
)
from .tracing import traced_asgi

__all__ = ["KILL_GRACE", "InProcess", "Pool", "PoolError", "WebSocketRelay",
           "importable_name", "start_workers", "traced_asgi"]
