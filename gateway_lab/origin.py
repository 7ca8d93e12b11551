"""Whose code is this: the learner's, or installed code (the standard library, the
packages in site-packages, the lab itself).

The sandbox, the stop-swallowing check (stoppable.py) and the report of what a run
left behind (leftovers.py) all ask it: they look only at the learner's own code.
It imports nothing of the lab.
"""

from __future__ import annotations

import os
import sys


def _library_roots() -> tuple[str, ...]:
    import sysconfig

    # The standard library, installed packages, and the lab's own package.
    roots = {os.path.dirname(os.__file__), os.path.dirname(__file__)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    for path in sys.path:
        if path.endswith(("site-packages", "dist-packages")):
            roots.add(path)
    return tuple(os.path.realpath(r) + os.sep for r in roots)


_ROOTS: tuple[str, ...] | None = None
_ROOT_OF: dict[str, bool] = {}


def is_library(filename: str) -> bool:
    """True for installed code (the standard library, site-packages, the lab itself)."""
    global _ROOTS
    known = _ROOT_OF.get(filename)
    if known is None:
        if _ROOTS is None:
            _ROOTS = _library_roots()
        if filename.startswith("<frozen "):  # the standard library's frozen modules
            known = True                      # (runpy, os, codecs, importlib: 3.11+)
        else:
            real = os.path.realpath(filename) if filename and not filename.startswith("<") \
                else ""
            known = real.startswith(_ROOTS)
        _ROOT_OF[filename] = known
    return known
