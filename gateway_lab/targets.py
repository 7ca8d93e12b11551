"""Finding the app a name points to, and which gateway it speaks.

    load_target("myapp:app")   -> the app object (module imported from the current folder)
    load_target("hello.py")    -> Path("hello.py"), a CGI script
    guess_gateway(app)         -> "asgi" for a coroutine app, "cgi" for a path, else "wsgi"

Used by the command line (`gateway-lab run`, `serve`, `race`), by `gl.serve` and by
the concurrency lab, which is why it sits below all of them.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from .findings import is_async_callable


class UsageError(Exception):
    pass


def load_target(target: str):
    """'module:attr' -> the object; a file path -> the path (a CGI script)."""
    if ":" in target and not os.path.exists(target):
        module_name, _, attr = target.partition(":")
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise UsageError(f"cannot import {module_name!r}: {error}") from None
        obj = module
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise UsageError(f"module {module_name!r} has no attribute {attr!r}") from None
        return obj
    if os.path.exists(target):
        return Path(target)
    raise UsageError(f"{target!r} is neither module:attr nor an existing script path")


def guess_gateway(app) -> str:
    """'cgi' for a script or directory path, 'asgi' for a coroutine app, else 'wsgi'."""
    if isinstance(app, (str, os.PathLike)):
        return "cgi"
    return "asgi" if is_async_callable(app) else "wsgi"
