"""SCGI: CGI variables in a netstring, then the body (SCGI protocol.txt, 2008).

A front end (nginx's scgi_pass) opens a connection per request and sends::

    <length> ":" name NUL value NUL name NUL value NUL ... "," <body>

* The header block is a netstring: its length in decimal, with no leading
  zero, then ":", the block, then ",".
* CONTENT_LENGTH comes first and is always present ("0" for no body); the
  header SCGI with the value "1" must be there too.  No name appears twice.
* Exactly CONTENT_LENGTH body bytes follow the ",".
* The app server replies with a CGI-style response ("Status: 200 OK", header
  lines, an empty line, the body) and closes the connection: the close is
  what tells the front end the response is complete.

The protocol's own example (python.ca/scgi/protocol.txt), split at the NULs:

    >>> data = encode_request({"REQUEST_METHOD": "POST", "REQUEST_URI": "/deepthought"},
    ...                       b"What is the answer to life?")
    >>> for part in data.split(b"\\0"):
    ...     print(part)
    b'70:CONTENT_LENGTH'
    b'27'
    b'SCGI'
    b'1'
    b'REQUEST_METHOD'
    b'POST'
    b'REQUEST_URI'
    b'/deepthought'
    b',What is the answer to life?'
"""

from __future__ import annotations

from ..request import Request
from ..trace import Trace
from ._common import (
    Field,
    Frame,
    WireError,
    decimal,
    decode_cgi_response,
    encode_cgi_response,
    latin1,
    read_fields,
    read_framed,
    traced_request,
    variables_and_body,
)

__all__ = [
    "WireError",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "explain",
    "frame",
    "read_request",
]

SPEC = "SCGI protocol.txt"
MAX_HEADERS = 1 << 20   # a bound on the netstring a server will buffer
MAX_BODY = 1 << 26      # 64 MiB: the body a server will buffer
_MAX_DIGITS = len(str(MAX_HEADERS))


def encode_request(request: Request | dict, body: bytes | None = None, *,
                   trace: Trace | None = None, **vars: str) -> bytes:
    """The bytes a front end sends for `request` (a Request, or a dict of CGI variables
    plus `body`).  Keyword arguments add or replace variables."""
    variables, body = variables_and_body(request, body, vars, trace)
    variables.pop("CONTENT_LENGTH", None)
    variables.pop("SCGI", None)
    # CONTENT_LENGTH first, then SCGI=1: both required, in this order.
    pairs = [("CONTENT_LENGTH", str(len(body))), ("SCGI", "1"), *variables.items()]
    block = bytearray()
    for name, value in pairs:
        raw_name, raw_value = latin1(name, "variable name"), latin1(value, f"{name}")
        if b"\0" in raw_name or b"\0" in raw_value:
            raise WireError(f"{name} contains a NUL byte, which SCGI uses as the separator")
        block += raw_name + b"\0" + raw_value + b"\0"
    data = str(len(block)).encode() + b":" + bytes(block) + b"," + body
    return traced_request(data, trace, explain, SPEC)


def _pairs(data: bytes, pos: int, end: int):
    """(offset, name, value) for each name NUL value NUL pair in data[pos:end]."""
    while pos < end:
        name_end = data.find(b"\0", pos, end)
        value_end = data.find(b"\0", name_end + 1, end) if name_end >= 0 else -1
        if value_end < 0:
            raise WireError("the header block must be name NUL value NUL pairs; it ends "
                            f"inside a pair at byte {pos}")
        yield (pos, data[pos:name_end].decode("latin-1"),
               data[name_end + 1:value_end].decode("latin-1"))
        pos = value_end + 1


def _parse(data: bytes) -> tuple[dict[str, str], bytes, list[Field]]:
    if not isinstance(data, (bytes, bytearray)):
        raise WireError(f"SCGI data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    colon = data.find(b":", 0, _MAX_DIGITS + 1)
    digits = data[:colon] if colon >= 0 else b""
    size = decimal(digits)
    if size is None:
        raise WireError("an SCGI request starts with the header length in decimal, then ':'"
                        f" (got {data[:12]!r})")
    if digits[:1] == b"0" and digits != b"0":
        raise WireError(f"the netstring length {digits.decode()} has a leading zero")
    start = colon + 1
    if len(data) < start + size + 1:
        raise WireError(f"the netstring says {size} header bytes but only "
                        f"{max(len(data) - start, 0)} came (cut short?)")
    if data[start + size:start + size + 1] != b",":
        raise WireError(f"the {size} header bytes must be followed by ',' (netstring end), "
                        f"got {data[start + size:start + size + 1]!r}")
    fields = [Field(0, colon, "netstring length", size), Field(colon, 1, "':'", ":")]
    variables: dict[str, str] = {}
    end = start + size
    for pos, name, value in _pairs(data, start, end):
        if not name:
            raise WireError(f"an empty header name at byte {pos}")
        if name in variables:
            raise WireError(f"the header {name} appears twice")
        if not variables and name != "CONTENT_LENGTH":
            raise WireError(f"CONTENT_LENGTH must be the first header, not {name}")
        variables[name] = value
        fields.append(Field(pos, len(name), "name", name))
        fields.append(Field(pos + len(name) + 1, len(value), name, value))
    fields.append(Field(end, 1, "',' (end of headers)", ","))
    if not variables:
        raise WireError("the header block is empty; CONTENT_LENGTH and SCGI are required")
    if variables.get("SCGI") != "1":
        raise WireError("the header SCGI with the value 1 is required")
    declared = decimal(variables["CONTENT_LENGTH"])
    if declared is None:
        raise WireError(f"CONTENT_LENGTH {variables['CONTENT_LENGTH']!r} is not a decimal "
                        "number")
    body = data[end + 1:]
    if len(body) != declared:
        raise WireError(f"CONTENT_LENGTH says {declared} body bytes but {len(body)} came")
    if body:
        fields.append(Field(end + 1, len(body), "body", body))
    return variables, body, fields


def decode_request(data: bytes, *, trace: Trace | None = None) -> tuple[dict[str, str], bytes]:
    """(variables, body) from one complete SCGI request; WireError if malformed."""
    variables, body, fields = _parse(data)
    read_fields(trace, fields, SPEC)
    return variables, body


def explain(data: bytes) -> list[Field]:
    """Every field of an SCGI request: (offset, length, label, value)."""
    return _parse(data)[2]


def frame(data: bytes) -> Frame:
    """Where the first request in `data` (the bytes read so far) ends; WireError as soon
    as they cannot start an SCGI request.  The head alone says the body's size."""
    colon = data.find(b":", 0, _MAX_DIGITS + 1)
    digits = data[:colon] if colon >= 0 else data[:_MAX_DIGITS + 1]
    if digits and decimal(digits) is None or len(digits) > _MAX_DIGITS:
        raise WireError(f"an SCGI request starts with the header length in decimal, "
                        f"then ':' (got {bytes(digits[:12])!r})")
    if colon < 0:
        return Frame(len(data) + 1, False)
    size = decimal(digits)
    if size is None or size > MAX_HEADERS:
        raise WireError(f"header length {digits.decode() or '(none)'} is not 1..{MAX_HEADERS}")
    start = colon + 1
    if len(data) < start + size + 1:
        return Frame(start + size + 1, False)
    # Only the first pair is needed to know how much body follows: CONTENT_LENGTH.
    _, name, value = next(_pairs(bytes(data[start:start + size]), 0, size), (0, "", ""))
    declared = decimal(value)
    if name != "CONTENT_LENGTH" or declared is None:
        raise WireError("CONTENT_LENGTH must be the first header, with a decimal value")
    return Frame(start + size + 1 + declared, True, declared)


def read_request(stream) -> bytes:
    """Read one whole SCGI request from a blocking binary stream (a socket file)."""
    return read_framed(stream, frame, "an SCGI request", MAX_BODY)


# The reply is a CGI-style response; the server closes the connection after it.
encode_response = encode_cgi_response
decode_response = decode_cgi_response
