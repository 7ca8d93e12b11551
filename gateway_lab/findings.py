"""Findings: a rule an app (or a request) broke, said so a learner can fix it.

The rules themselves are data, one module per interface under `rules/`, so a
reader can hold PEP 3333, the ASGI spec and RFC 3875 side by side.  Each rule
has a stable dotted id, the spec section it comes from, a link, a message
template filled with what *this* app did, and a hint.  This module holds the
two shapes (Rule, Finding) and the helpers that word a finding; `rules/` holds
the rules and turns one into a Finding (`rules.make_finding`).
"""

from __future__ import annotations

import collections
import inspect
import os
import traceback
import types
from dataclasses import dataclass

from .origin import is_library


@dataclass(frozen=True)
class Rule:
    id: str
    spec: str       # e.g. "PEP 3333 §The start_response() Callable"
    url: str
    message: str    # a str.format template, filled with the facts of the case
    hint: str


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    spec: str
    url: str
    hint: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message} ({self.spec}) Hint: {self.hint}"

    def to_dict(self) -> dict:
        return {"rule": self.rule, "message": self.message, "spec": self.spec,
                "url": self.url, "hint": self.hint}


class Facts(dict):
    """Leave unknown {placeholders} visible rather than failing while reporting a failure."""

    def __missing__(self, key):
        return "{" + key + "}"


def is_async_callable(app) -> bool:
    """An `async def` function, or an object whose class's __call__ is one: an app
    that hands back a coroutine (ASGI's kind), whatever interface it was given to."""
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(
        getattr(type(app), "__call__", None))  # noqa: B004 - which kind of call, not whether


def clip(value, limit: int = 40) -> str:
    """repr(value), cut to `limit` characters: what the app passed, in a message."""
    try:
        if isinstance(value, memoryview):  # its repr is an address; show what it holds
            text = f"memoryview({bytes(value[:limit])!r})"
        else:
            text = repr(value)
    except BaseException:  # noqa: BLE001 - the learner's __repr__ runs here, and may fail
        text = f"<a {type(value).__name__} whose repr() failed>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _said(error: BaseException) -> str:
    try:
        said = str(error)
        if isinstance(said, str):
            return said
    except BaseException:  # noqa: BLE001 - the learner's __str__ runs here: it may even
        pass                # raise SystemExit, which must not end the caller's program
    return "(its message could not be read)"


def describe_error(error: BaseException) -> str:
    """'ZeroDivisionError: division by zero (app.py line 3)' for a learner.

    The place is the innermost line of the learner's own code (an error raised inside
    json or asyncio is the learner's call's), else the innermost line.  Only file
    names are read: a runaway recursion leaves a traceback of a million frames, and
    formatting them all took longer than any deadline."""
    where = ""
    tb = error.__traceback__
    if tb is not None:
        own = None
        while True:
            if not is_library(tb.tb_frame.f_code.co_filename):
                own = tb
            if tb.tb_next is None:
                break
            tb = tb.tb_next
        tb = own or tb
        where = f" ({os.path.basename(tb.tb_frame.f_code.co_filename)} line {tb.tb_lineno})"
    said = _said(error)
    return f"{type(error).__name__}: {said}{where}" if said else f"{type(error).__name__}{where}"


LOGGED_FRAMES = 25  # the innermost frames of a traceback a server log shows


def _innermost(tb, n: int):
    """A traceback of the innermost `n` entries of `tb`.  format_exception(limit=-n)
    alone still reads every entry's source position first: 3.6 s for the million
    frames of a runaway recursion; following tb_next is a twentieth of that."""
    last = collections.deque(maxlen=n)
    while tb is not None:
        last.append(tb)
        tb = tb.tb_next
    short = None
    for entry in reversed(last):
        short = types.TracebackType(short, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return short


def format_error(error: BaseException) -> str:
    """The traceback a server logs, bounded to its innermost LOGGED_FRAMES frames
    (see describe_error for why)."""
    try:
        lines = traceback.format_exception(type(error), error,
                                           _innermost(error.__traceback__, LOGGED_FRAMES),
                                           limit=-LOGGED_FRAMES)
    except BaseException:  # noqa: BLE001 - one that cannot be formatted (its __str__
        return f"{type(error).__name__}: {_said(error)}"  # raises, even SystemExit)
    return "".join(lines).rstrip()
