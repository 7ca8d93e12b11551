"""What the whole process shares, which a request must leave as it found it.

A server's process runs the app for request after request, and with threads
for several requests at once (PEP 3333 §environ Variables: wsgi.multithread,
wsgi.run_once).  What one request changes of the process (sys.stdout, the
current directory, os.environ, a trace function, the garbage collector) every
later request and every other thread sees.  In a notebook the process is the
kernel: an app that replaced sys.stdout and raised before putting it back
makes every later print of the notebook vanish.

So the gateways take a `mark()` before a run on the main thread and `look()`
after it (sandbox.call, `watch=True`): whatever differs is put back, and
named, for the gateway's finding (`report`).  A change the app undid itself
(`contextlib.redirect_stdout`, a profiler stopped in a finally:) is no change
at all; one made at import time or in a notebook cell happens outside the run
and is not seen.  Runs on other threads are not looked at: they share the
process with other runs going on at the same time (see leftovers.py).

The common path costs a tuple built twice and compared (under a microsecond a
run, measured 0.75 µs on a loaded 2-core machine): the objects
are compared by identity, plus two ints and a float.  Two things would cost
more to read each time, so they are counted instead, by the audit hook
leftovers.py installs (PEP 578): os.putenv/os.unsetenv (every change of
os.environ goes through one) and os.chdir (also os.fchdir's event).  A copy of
os.environ and the current directory are taken only when those counts moved
since the last copy, i.e. after a change.

Left alone, on purpose:
* sys.path and sys.modules: importing is what a first request does (Django
  and Flask import lazily); taking a module back out would break the next run.
* os.umask: reading it means setting it (two system calls, and for that moment
  another thread's new files get the wrong mode); no audit event counts it.
* signals and the recursion limit (stoppable.py, which runs such apps in a
  process of their own), the event loop's settings (asgi/loops.py put_back).
* a trace function that is a debugger's (pdb, debugpy): the learner started it.
"""

from __future__ import annotations

import builtins
import gc
import os
import sys
import threading
from typing import NamedTuple

from .findings import clip
from .leftovers import _counts


class Change(NamedTuple):
    name: str   # what changed, as the learner would write it: "sys.stdout"
    how: str    # what the app left there: "replaced by <_io.StringIO object at ...>"


class _Copy:
    """The last copy of something that is read only when a count says it changed."""

    __slots__ = ("version", "value")

    def __init__(self):
        self.version = -1
        self.value = None


_environ = _Copy()  # dict(os.environ), as of _counts.environ == version
_cwd = _Copy()      # os.getcwd() (None: it was deleted), as of _counts.chdir == version


def _getcwd():
    try:
        return os.getcwd()
    except OSError:  # the directory was removed under us: nothing to go back to
        return None


def _now(sys=sys, builtins=builtins, threading=threading, os=os, counts=_counts,
         gettrace=sys.gettrace, getprofile=sys.getprofile, isenabled=gc.isenabled,
         interval=sys.getswitchinterval) -> tuple:
    # Every run takes this twice: the names are bound as defaults (local reads, the
    # cheapest), and threading._trace_hook/_profile_hook are what threading.gettrace()
    # and getprofile() return (3.10+), read without the call.
    return (sys.stdin, sys.stdout, sys.stderr, builtins.print,
            gettrace(), getprofile(), threading._trace_hook, threading._profile_hook,
            sys.excepthook, threading.excepthook, sys.unraisablehook,
            isenabled(), interval(),
            os.environ, counts.environ, counts.chdir)


def mark() -> tuple:
    """The shared state before a run (compare with look())."""
    if _counts.environ != _environ.version:  # changed since the last copy: copy again
        _environ.value, _environ.version = dict(os.environ), _counts.environ
    if _counts.chdir != _cwd.version:
        _cwd.value, _cwd.version = _getcwd(), _counts.chdir
    return _now()


def look(before: tuple) -> tuple[Change, ...]:
    """What differs from `before`, each put back; () when nothing did."""
    after = _now()
    if after == before:
        return ()
    changes = []
    for i, (name, put) in enumerate(_SIMPLE):
        if after[i] is not before[i] and not (i == 4 and is_debugger(after[i])):
            put(before[i])
            changes.append(Change(name, left_as(after[i])))
    if after[11] != before[11]:
        (gc.enable if before[11] else gc.disable)()
        changes.append(Change("the garbage collector", "switched off (gc.disable())"
                              if before[11] else "switched on (gc.enable())"))
    if after[12] != before[12]:
        sys.setswitchinterval(before[12])
        changes.append(Change("the thread switch interval", f"set to {after[12]} s "
                              f"(sys.setswitchinterval; it was {before[12]} s)"))
    if after[13] is not before[13]:
        os.environ = before[13]  # noqa: B003 - the object itself is what is put back
        changes.append(Change("os.environ", left_as(after[13])))
    if after[14] != before[14]:
        changes += _environ_back()
    if after[15] != before[15]:
        changes += _cwd_back()
    return tuple(changes)


def left_as(value) -> str:
    return "set to None" if value is None else f"replaced by {clip(value, 60)}"


_SIMPLE = (  # in _now()'s order: (name, how to put the old value back)
    ("sys.stdin", lambda v: setattr(sys, "stdin", v)),
    ("sys.stdout", lambda v: setattr(sys, "stdout", v)),
    ("sys.stderr", lambda v: setattr(sys, "stderr", v)),
    ("builtins.print", lambda v: setattr(builtins, "print", v)),
    ("the trace function (sys.settrace)", sys.settrace),
    ("the profile function (sys.setprofile)", sys.setprofile),
    ("new threads' trace function (threading.settrace)", threading.settrace),
    ("new threads' profile function (threading.setprofile)", threading.setprofile),
    ("sys.excepthook", lambda v: setattr(sys, "excepthook", v)),
    ("threading.excepthook", lambda v: setattr(threading, "excepthook", v)),
    ("sys.unraisablehook", lambda v: setattr(sys, "unraisablehook", v)),
)


def is_debugger(tracer) -> bool:
    """Is `tracer` a debugger's (pdb's, or debugpy's pydevd)?  A learner who calls
    breakpoint() in an app wants it to stay."""
    owner = getattr(tracer, "__self__", tracer)
    bdb = sys.modules.get("bdb")
    if bdb is not None and isinstance(owner, bdb.Bdb):
        return True
    module = getattr(type(owner), "__module__", "") or ""
    return "pydevd" in module


def _environ_back() -> list[Change]:
    """os.environ as the copy from before the run has it (the app may also have
    changed it and put it back: then nothing is said)."""
    was, now = _environ.value, os.environ
    added = [k for k in now if k not in was]
    changed = [k for k in was if k in now and now[k] != was[k]]
    removed = [k for k in was if k not in now]
    for key in added:
        del now[key]
    for key in changed + removed:
        now[key] = was[key]
    _environ.version = _counts.environ  # the putting back moved the count too
    parts = [f"{verb} {_names(keys)}" for verb, keys in
             (("set", added), ("changed", changed), ("removed", removed)) if keys]
    return [Change("os.environ", "; ".join(parts))] if parts else []


def _names(keys: list[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def _cwd_back() -> list[Change]:
    was, now = _cwd.value, _getcwd()
    if now == was:
        return []
    if was is None:  # it had been removed: there is no going back
        _cwd.value, _cwd.version = now, _counts.chdir
        return []
    try:
        os.chdir(was)
    except OSError:
        _cwd.value, _cwd.version = now, _counts.chdir
        return [Change("the current directory", f"changed to {now!r} (os.chdir); {was!r} "
                       "is gone, so it could not be put back")]
    _cwd.version = _counts.chdir
    return [Change("the current directory", f"changed to {now!r} (os.chdir)")]


# -- the findings ----------------------------------------------------------------------------

_HINTS = {
    "sys.stdin": "STREAM", "sys.stdout": "STREAM", "sys.stderr": "STREAM",
    "builtins.print": "define a function of your own (or use logging) instead of replacing "
                      "print for everyone",
    "the trace function (sys.settrace)": "TRACE",
    "the profile function (sys.setprofile)": "TRACE",
    "new threads' trace function (threading.settrace)": "TRACE",
    "new threads' profile function (threading.setprofile)": "TRACE",
    "sys.excepthook": "HOOK", "threading.excepthook": "HOOK", "sys.unraisablehook": "HOOK",
    "the garbage collector": "pair gc.disable() with gc.enable() in a try/finally, or "
                             "leave the collector alone",
    "the thread switch interval": "leave the switch interval to whoever runs the server",
    "the current directory": "never change directory in a request: build absolute paths "
                             "(pathlib.Path(__file__).parent / 'data.txt')",
}
_SHARED_HINTS = {
    "STREAM": "to capture output use `with contextlib.redirect_stdout(buffer):` (or "
              "redirect_stderr), which puts the stream back even when an exception escapes",
    "TRACE": "start a tracer or profiler in a try/finally that stops it",
    "HOOK": "install hooks once, when the app is imported, not in a request",
}


def report(trace, changes: tuple[Change, ...], gateway: str = "wsgi") -> None:
    """The findings for what a run changed and the lab put back (rules/sandbox.py)."""
    environ = [c for c in changes if c.name == "os.environ"]
    rest = [c for c in changes if c.name != "os.environ"]
    if environ:
        trace.find("sandbox.changed_os_environ", actor="server",
                   how="; ".join(c.how for c in environ),
                   request="the environ dict" if gateway == "wsgi" else "the scope")
    if rest:
        hints = []
        for change in rest:
            hint = _HINTS.get(change.name, "")
            hint = _SHARED_HINTS.get(hint, hint)
            if hint and hint not in hints:
                hints.append(hint)
        trace.find("sandbox.changed_process_state", actor="server",
                   what="; ".join(f"{c.name} {c.how}" for c in rest),
                   it="it" if len(rest) == 1 else "them", hint="; ".join(hints))


def described(changes: tuple[Change, ...]) -> str:
    """"sys.stdout replaced by ...; os.environ: set 'X'", for a note."""
    return "; ".join(f"{c.name}{':' if c.name == 'os.environ' else ''} {c.how}"
                     for c in changes)
