"""From what a person typed to an Exchange: shared by the request builder and the magics.

Both take a method, a path, header lines and a body as text, and a gateway
by name.  Anything wrong with that input becomes an `InputError` whose
message says what to fix; it never reaches the learner as a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..request import BadRequest, Request

GATEWAYS = ("wsgi", "asgi", "cgi")


class InputError(ValueError):
    """Input a person can fix: the message says how."""


def header_pairs(lines) -> list[tuple[str, str]]:
    """'Name: value' lines (a str with newlines, or a list) -> [(name, value), ...]."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise InputError(f"header line {number} ({line.strip()!r}) is not 'Name: value'")
        if name != name.strip():
            # RFC 9112 §5.1: no whitespace between the field name and the colon.
            raise InputError(f"header line {number}: no space is allowed before the colon "
                             f"in {line.strip()!r} (RFC 9112 §5.1)")
        pairs.append((name, value.strip()))
    return pairs


def build_request(method: str = "GET", target: str = "/", headers="", body="") -> Request:
    """A Request from text fields; bad fields raise InputError with the reason."""
    method = (method or "GET").strip()
    target = (target or "/").strip()
    try:
        return Request(method, target, headers=header_pairs(headers),
                       body=body if isinstance(body, bytes) else str(body).encode("utf-8"))
    except BadRequest as error:
        raise InputError(f"no server would accept this request: {error}") from None


def run_through(gateway: str, app, request: Request, *, timeout: float = 5.0):
    """Run `request` through the named gateway: `app` is a callable (WSGI/ASGI) or,
    for CGI, the path of a script."""
    gateway = gateway.lower()
    if gateway not in GATEWAYS:
        raise InputError(f"unknown gateway {gateway!r}; choose one of {', '.join(GATEWAYS)}")
    if gateway == "cgi":
        if not isinstance(app, (str, os.PathLike)):
            raise InputError("the CGI gateway runs a script: give the path of a .py file, "
                             f"not a {type(app).__name__}")
        if not Path(app).is_file():
            raise InputError(f"no CGI script at {os.fspath(app)!r}")
        from ..cgi import run_cgi

        return run_cgi(app, request, timeout=timeout)
    if not callable(app):
        raise InputError(f"the {gateway.upper()} gateway calls an app: give a callable, "
                         f"not a {type(app).__name__}")
    if gateway == "wsgi":
        from ..wsgi import run_wsgi

        return run_wsgi(app, request, timeout=timeout)
    from ..asgi import run_asgi

    return run_asgi(app, request, timeout=timeout)
