"""Findings: a rule an app (or a request) broke, said so a learner can fix it.

The rules themselves are data, one module per interface under `rules/`, so a
reader can hold PEP 3333, the ASGI spec and RFC 3875 side by side.  Each rule
has a stable dotted id, the spec section it comes from, a link, a message
template filled with what *this* app did, and a hint.  This module holds the
two shapes (Rule, Finding) and the helpers that word a finding; `rules/` holds
the rules and turns one into a Finding (`rules.make_finding`).
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass


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


def clip(value, limit: int = 40) -> str:
    """repr(value), cut to `limit` characters: what the app passed, in a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_error(error: BaseException) -> str:
    """'ZeroDivisionError: division by zero (app.py line 3)' for a learner."""
    where = ""
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    if frames:
        last = frames[-1]
        where = f" ({os.path.basename(last.filename)} line {last.lineno})"
    return f"{type(error).__name__}: {error}{where}"
