"""uwsgi: a 4-byte header, length-prefixed variables, then the body (uwsgi-docs
Protocol.rst).

The packet nginx's uwsgi_pass sends::

    modifier1 (u8) | datasize (u16, little-endian) | modifier2 (u8)
    then, datasize bytes of:  key size (u16 LE) | key | value size (u16 LE) | value ...
    then the body, CONTENT_LENGTH bytes

* modifier1 = 0 and modifier2 = 0 mean "a WSGI request with its CGI
  variables"; other values select other uwsgi subsystems.
* datasize counts the variables block only, so the block is at most 65535
  bytes (Apache's mod_proxy_uwsgi once overflowed it: CVE-2020-11984).
* Unlike SCGI and FastCGI, the sizes are little-endian.
* The app server replies with the raw response bytes (here a CGI-style one
  that nginx parses like an HTTP header) and closes the connection.

An example, after uwsgi-docs Protocol.rst: 35 (0x23) bytes of variables, the
sizes two bytes each, low byte first:

    >>> data = encode_request({"REQUEST_METHOD": "GET", "PATH_INFO": "/"})
    >>> data[:4].hex(" ")
    '00 23 00 00'
    >>> data[4:]
    b'\\x0e\\x00REQUEST_METHOD\\x03\\x00GET\\t\\x00PATH_INFO\\x01\\x00/'
"""

from __future__ import annotations

import struct

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

SPEC = "uwsgi Protocol.rst"
HEADER = struct.Struct("<BHB")
SIZE = struct.Struct("<H")
MAX_BLOCK = 0xFFFF
MAX_BODY = 1 << 26  # 64 MiB: what this lab server will buffer


def encode_request(request: Request | dict, body: bytes | None = None, *,
                   trace: Trace | None = None, **vars: str) -> bytes:
    """The packet a front end sends for `request` (a Request, or a dict of CGI variables
    plus `body`).  Keyword arguments add or replace variables."""
    variables, body = variables_and_body(request, body, vars, trace)
    block = bytearray()
    for name, value in variables.items():
        for raw in (latin1(name, "variable name"), latin1(value, name)):
            if len(raw) > 0xFFFF:
                raise WireError(f"{name}: {len(raw)} bytes do not fit a u16 size (at most "
                                f"65535)")
            block += SIZE.pack(len(raw)) + raw
    if len(block) > MAX_BLOCK:
        raise WireError(f"the variables take {len(block)} bytes; a uwsgi packet holds at "
                        f"most {MAX_BLOCK} (datasize is a u16)")
    data = HEADER.pack(0, len(block), 0) + bytes(block) + body
    return traced_request(data, trace, explain, SPEC)


def _header(data: bytes) -> tuple[int, int, int]:
    if len(data) < HEADER.size:
        raise WireError(f"a uwsgi packet starts with a 4-byte header; got {len(data)} bytes")
    modifier1, size, modifier2 = HEADER.unpack_from(data)
    if modifier1 != 0 or modifier2 != 0:
        raise WireError(f"modifier1={modifier1}, modifier2={modifier2}: only 0/0 (a WSGI "
                        "request with CGI variables) is understood here")
    return modifier1, size, modifier2


def _pairs(data: bytes, pos: int, end: int):
    """(offset, key, value) for each pair in data[pos:end]: key size (u16 LE), key,
    value size (u16 LE), value."""
    while pos < end:
        at, items = pos, []
        for what in ("key", "value"):
            if pos + 2 > end:
                raise WireError(f"the variables block ends inside a {what} size at byte {pos}")
            (length,) = SIZE.unpack_from(data, pos)
            if pos + 2 + length > end:
                raise WireError(f"a {what} of {length} bytes at byte {pos} runs past the "
                                f"variables block ({end - pos - 2} bytes left)")
            items.append(data[pos + 2:pos + 2 + length].decode("latin-1"))
            pos += 2 + length
        yield at, items[0], items[1]


def _parse(data: bytes) -> tuple[dict[str, str], bytes, list[Field]]:
    if not isinstance(data, (bytes, bytearray)):
        raise WireError(f"uwsgi data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    modifier1, size, modifier2 = _header(data)
    end = HEADER.size + size
    if len(data) < end:
        raise WireError(f"datasize says {size} bytes of variables, only "
                        f"{len(data) - HEADER.size} came (cut short?)")
    fields = [Field(0, 1, "modifier1", modifier1), Field(1, 2, "datasize (LE)", size),
              Field(3, 1, "modifier2", modifier2)]
    variables: dict[str, str] = {}
    for at, name, value in _pairs(data, HEADER.size, end):
        if not name:
            raise WireError(f"an empty variable name at byte {at}")
        if name in variables:
            raise WireError(f"the variable {name} appears twice")
        variables[name] = value
        value_at = at + 2 + len(name)
        fields += [Field(at, 2, "key size (LE)", len(name)), Field(at + 2, len(name), "key", name),
                   Field(value_at, 2, "value size (LE)", len(value)),
                   Field(value_at + 2, len(value), name, value)]
    body = data[end:]
    text = variables.get("CONTENT_LENGTH", "") or "0"
    declared = decimal(text)
    if declared is None:
        raise WireError(f"CONTENT_LENGTH {text!r} is not a decimal number")
    if declared != len(body):
        raise WireError(f"CONTENT_LENGTH says {declared} body bytes but {len(body)} "
                        "follow the variables")
    if body:
        fields.append(Field(end, len(body), "body", body))
    return variables, body, fields


def decode_request(data: bytes, *, trace: Trace | None = None) -> tuple[dict[str, str], bytes]:
    """(variables, body) from one complete uwsgi packet; WireError if malformed."""
    variables, body, fields = _parse(data)
    read_fields(trace, fields, SPEC)
    return variables, body


def explain(data: bytes) -> list[Field]:
    """Every field of a uwsgi packet: (offset, length, label, value)."""
    return _parse(data)[2]


def frame(data: bytes) -> Frame:
    """Where the first packet in `data` (the bytes read so far) ends; WireError as soon
    as they cannot start one.  The variables say the body's size (CONTENT_LENGTH)."""
    if len(data) < HEADER.size:
        return Frame(HEADER.size, False)
    _, size, _ = _header(bytes(data[:HEADER.size]))
    end = HEADER.size + size
    if len(data) < end:
        return Frame(end, False)
    text = next((value for _, name, value in _pairs(bytes(data[:end]), HEADER.size, end)
                 if name == "CONTENT_LENGTH"), "") or "0"
    declared = decimal(text)
    if declared is None:
        raise WireError(f"CONTENT_LENGTH {text!r} is not a decimal number")
    return Frame(end + declared, True, declared)


def read_request(stream) -> bytes:
    """Read one whole packet (header, variables, body) from a blocking binary stream."""
    return read_framed(stream, frame, "a uwsgi packet", MAX_BODY)


# The reply: raw response bytes (CGI-style here); the server closes the connection after it.
encode_response = encode_cgi_response
decode_response = decode_cgi_response
