"""Bounds on what one run may hold in memory: the response body, and what a trace keeps.

* A response body is buffered by the lab's server until the app is done, so an
  app that yields 64 KiB forever would fill the machine's memory within a
  second.  The server takes at most `MAX_BODY` bytes (10 MB, the same as the
  CGI gateway's `max_output`); past that it stops taking chunks: the client
  gets a 500 if nothing was sent yet, a cut connection otherwise, and the trace
  a finding naming the limit.  `run_wsgi(max_body=...)`, `run_asgi(max_body=...)`
  change it.
* A trace records every chunk of a body as a step; keeping each one would hold
  a big body twice (in the trace and in the Response).  A trace keeps the first
  `TRACE_CLIP` bytes (64 KiB) of each body in full and, past that, only each
  chunk's size: the event's data is a `Clipped` (bytes: the part kept; `.size`:
  the whole chunk's) and its detail says so ("4194304 bytes, 0 kept").  The
  Response keeps the whole body the client got: that is the result.
"""

from __future__ import annotations

MAX_BODY = 10 * 1024 * 1024   # bytes of a response body the server buffers (CGI: MAX_OUTPUT)
TRACE_CLIP = 64 * 1024        # bytes of each body a trace keeps


class Clipped(bytes):
    """The bytes of a chunk a trace kept (maybe none), with the whole chunk's `size`."""

    size: int

    def __new__(cls, kept: bytes, size: int):
        self = super().__new__(cls, kept)
        self.size = size
        return self

    def __reduce__(self):
        return Clipped, (bytes(self), self.size)

    def __repr__(self) -> str:
        return f"<{self.size} bytes, the first {len(self)} kept: {bytes(self[:20])!r}...>"


def kept(chunk: bytes, before: int) -> bytes:
    """What a trace keeps of `chunk`, which comes after `before` bytes of its body."""
    room = TRACE_CLIP - before
    if room >= len(chunk):
        return chunk
    return Clipped(chunk[:max(room, 0)], len(chunk))


def size_line(chunk) -> str:
    """An event's detail for a chunk: '5 bytes', or '70000 bytes, the first 65536 kept'."""
    size = getattr(chunk, "size", None)
    if size is None:
        return f"{len(chunk)} bytes"
    what = f"the first {len(chunk)} kept" if len(chunk) else "not kept"
    return f"{size} bytes, {what} (a trace keeps the first {human(TRACE_CLIP)} of a body)"


def human(n: int) -> str:
    """1048576 -> '1 MiB' (binary units, as the limits are set)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


def check_max_body(max_body) -> int:
    if not (isinstance(max_body, int) and not isinstance(max_body, bool) and max_body > 0):
        raise ValueError(f"max_body must be a positive number of bytes, not {max_body!r}")
    return max_body


LENGTH_DIGITS = 18  # a Content-Length longer than this is past any body (10**18 bytes)


def declared_length(value: str) -> int | None:
    """The number a Content-Length value states, or None if it states none.

    RFC 9110 §8.6: Content-Length = 1*DIGIT, ASCII digits only ('²'.isdigit() is
    True, and int('²') fails).  Past LENGTH_DIGITS digits the value is more than any
    body could hold: it counts as that much (int() of a 5,000-digit str raises
    ValueError, sys.set_int_max_str_digits)."""
    value = value.strip(" \t")
    if not (value.isascii() and value.isdigit()):
        return None
    digits = value.lstrip("0") or "0"
    return int(digits) if len(digits) <= LENGTH_DIGITS else 10 ** LENGTH_DIGITS


def length_problem(values: list[str]) -> str | None:
    """Why the Content-Length field values a response carries state no one length, or
    None when they do (the same for WSGI and ASGI).

    RFC 9110 §8.6: each value is 1*DIGIT (no sign, no space inside, no other digits
    than ASCII ones: '+5', '-1', '²' are not lengths); a comma list of one number
    repeated ('5, 5'), or the field repeated with the same number, is that number; two
    different numbers are a conflict.  RFC 9112 §6.3: a recipient treats either as an
    unrecoverable framing error (h11 raises "bad Content-Length" / "conflicting
    Content-Length headers")."""
    seen = None
    for value in values:
        for item in value.split(","):
            n = declared_length(item)
            if n is None:
                return f"{length_text(value)!r} is not a number of bytes (only digits 0-9)"
            if seen is not None and n != seen:
                shown = ", ".join(repr(length_text(v)) for v in values)
                return f"it states two different lengths ({shown})"
            seen = n
    return None


def length_text(value: str) -> str:
    """A declared Content-Length as a finding quotes it: cut if it is absurdly long."""
    value = value.strip(" \t")
    return value if len(value) <= 24 else value[:21] + "..."
