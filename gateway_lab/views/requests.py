"""From what a person typed to an Exchange: the one place that does it.

The `gateway-lab run` command, the %%wsgi / %%asgi / %%cgi magics and the
RequestBuilder widget all take a method, a target, header lines and a body
as text, and a gateway by name.  They all go through here, so they accept
the same input and say the same thing when it is wrong: an `InputError`
whose message says what to fix, never a traceback.

What is wrong with the *app* is not checked here: a CGI script that is not
there, or an app that is not callable, goes to the gateway, which answers
as a real server would (404, 500) and names the broken rule in a finding.

Plain Python (no Jupyter import), so the command line can use it cheaply.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..request import BadRequest, Request

GATEWAYS = ("wsgi", "asgi", "cgi")
# The methods the builder offers, and the words a magic's line reads as a method.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


class InputError(ValueError):
    """Input a person can fix: the message says how."""


def add_request_options(parser) -> None:
    """-H, -d and --timeout, declared once for the command line and the magics."""
    parser.add_argument("-H", "--header", action="append", default=[], metavar="'Name: value'",
                        help="a request header (repeatable)")
    parser.add_argument("-d", "--data", default="", metavar="BODY",
                        help="the request body; @FILE reads it from a file")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="seconds the app may take (default 5; then the client gets 504)")


def check_timeout(timeout: float) -> float:
    if not timeout > 0:
        raise InputError("--timeout must be a positive number of seconds")
    return timeout


def body_of(data) -> bytes:
    """The body as typed: text, bytes, or '@FILE' for a file's bytes (as curl -d does)."""
    if isinstance(data, bytes):
        return data
    data = str(data or "")
    if data.startswith("@") and len(data) > 1:
        try:
            return Path(data[1:]).read_bytes()
        except OSError as error:
            raise InputError(f"cannot read the body from {data[1:]!r}: {error.strerror}") \
                from None
    return data.encode("utf-8")


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
        return Request(method, target, headers=header_pairs(headers), body=body_of(body))
    except BadRequest as error:
        raise InputError(f"no server would accept this request: {error}") from None


def run_through(gateway: str, app, request: Request, *, timeout: float = 5.0,
                isolate=None):
    """Run `request` through the named gateway: `app` is a callable (WSGI/ASGI) or,
    for CGI, the path of a script.  `isolate` is run_wsgi's and run_asgi's (a CGI
    script always runs in a process of its own)."""
    gateway = gateway.lower()
    if gateway not in GATEWAYS:
        raise InputError(f"unknown gateway {gateway!r}; choose one of {', '.join(GATEWAYS)}")
    if gateway == "cgi":
        # A callable cannot be run as a child process: that is a mix-up of gateways,
        # not a rule the script broke, so it is said here.
        if not isinstance(app, (str, os.PathLike)):
            raise InputError("the CGI gateway runs a script: give the path of a .py file, "
                             f"not a {type(app).__name__}")
        from ..cgi import run_cgi

        return run_cgi(app, request, timeout=timeout)
    if gateway == "wsgi":
        from ..wsgi import run_wsgi

        return run_wsgi(app, request, timeout=timeout, isolate=isolate)
    from ..asgi import run_asgi

    return run_asgi(app, request, timeout=timeout, isolate=isolate)
