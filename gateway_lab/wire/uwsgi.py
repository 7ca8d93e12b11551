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

Example (SPECS.md U1): ``00 23 00 00  0e 00 REQUEST_METHOD 03 00 GET  09 00 PATH_INFO 01 00 /``
"""

from __future__ import annotations

import struct

from ..exchange import Response
from ..request import Request
from ..trace import Trace
from ._common import (
    Field,
    WireError,
    cgi_vars,
    check_vars,
    decode_cgi_response,
    encode_cgi_response,
    latin1,
    read_exact,
    trace_fields,
)

__all__ = [
    "WireError",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "explain",
    "read_request",
    "serve",
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
    if isinstance(request, Request):
        variables = cgi_vars(request)
        body = request.body if body is None else body
    else:
        variables = dict(request)
    variables.update(vars)
    body = bytes(body or b"")
    declared = variables.get("CONTENT_LENGTH")
    if declared not in (None, "") and declared != str(len(body)):
        raise WireError(f"CONTENT_LENGTH is {declared!r} but the body is {len(body)} bytes")
    if body and not declared:
        # The receiver knows where the body ends only from CONTENT_LENGTH.
        variables = {"CONTENT_LENGTH": str(len(body)), **variables}
    block = bytearray()
    for name, value in check_vars(variables).items():
        for raw in (latin1(name, "variable name"), latin1(value, name)):
            if len(raw) > 0xFFFF:
                raise WireError(f"{name}: {len(raw)} bytes do not fit a u16 size (at most "
                                f"65535)")
            block += SIZE.pack(len(raw)) + raw
    if len(block) > MAX_BLOCK:
        raise WireError(f"the variables take {len(block)} bytes; a uwsgi packet holds at "
                        f"most {MAX_BLOCK} (datasize is a u16)")
    data = HEADER.pack(0, len(block), 0) + bytes(block) + body
    if trace is not None:
        trace_fields(trace, explain(data), actor="server", target="gateway", spec=SPEC)
    return data


def _header(data: bytes) -> tuple[int, int, int]:
    if len(data) < HEADER.size:
        raise WireError(f"a uwsgi packet starts with a 4-byte header; got {len(data)} bytes")
    modifier1, size, modifier2 = HEADER.unpack_from(data)
    if modifier1 != 0 or modifier2 != 0:
        raise WireError(f"modifier1={modifier1}, modifier2={modifier2}: only 0/0 (a WSGI "
                        "request with CGI variables) is understood here")
    return modifier1, size, modifier2


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
    pos = HEADER.size
    while pos < end:
        items = []
        for what in ("key", "value"):
            if pos + 2 > end:
                raise WireError(f"the variables block ends inside a {what} size at byte {pos}")
            (length,) = SIZE.unpack_from(data, pos)
            if pos + 2 + length > end:
                raise WireError(f"a {what} of {length} bytes at byte {pos} runs past the "
                                f"variables block ({end - pos - 2} bytes left)")
            text = data[pos + 2:pos + 2 + length].decode("latin-1")
            items.append((pos, length, text))
            pos += 2 + length
        (k_at, k_len, name), (v_at, v_len, value) = items
        if not name:
            raise WireError(f"an empty variable name at byte {k_at}")
        if name in variables:
            raise WireError(f"the variable {name} appears twice")
        variables[name] = value
        fields += [Field(k_at, 2, "key size (LE)", k_len), Field(k_at + 2, k_len, "key", name),
                   Field(v_at, 2, "value size (LE)", v_len), Field(v_at + 2, v_len, name, value)]
    body = data[end:]
    declared = variables.get("CONTENT_LENGTH", "") or "0"
    if not declared.isdigit() or not declared.isascii():
        raise WireError(f"CONTENT_LENGTH {declared!r} is not a decimal number")
    if int(declared) != len(body):
        raise WireError(f"CONTENT_LENGTH says {int(declared)} body bytes but {len(body)} "
                        "follow the variables")
    if body:
        fields.append(Field(end, len(body), "body", body))
    return variables, body, fields


def decode_request(data: bytes, *, trace: Trace | None = None) -> tuple[dict[str, str], bytes]:
    """(variables, body) from one complete uwsgi packet; WireError if malformed."""
    variables, body, fields = _parse(data)
    trace_fields(trace, fields, actor="gateway", target="app", spec=SPEC, kind="wire read")
    return variables, body


def explain(data: bytes) -> list[Field]:
    """Every field of a uwsgi packet: (offset, length, label, value)."""
    return _parse(data)[2]


def read_request(stream) -> bytes:
    """Read one whole packet (header, variables, body) from a blocking binary stream."""
    head = read_exact(stream, HEADER.size, "the uwsgi header")
    _, size, _ = _header(head)
    block = read_exact(stream, size, "the uwsgi variables")
    declared = b"0"
    pos = 0
    while pos + 2 <= len(block):  # find CONTENT_LENGTH to know how much body follows
        (k_len,) = SIZE.unpack_from(block, pos)
        key = block[pos + 2:pos + 2 + k_len]
        pos += 2 + k_len
        if pos + 2 > len(block):
            break
        (v_len,) = SIZE.unpack_from(block, pos)
        if key == b"CONTENT_LENGTH":
            declared = block[pos + 2:pos + 2 + v_len] or b"0"
        pos += 2 + v_len
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise WireError(f"CONTENT_LENGTH {declared!r} is not a number up to {MAX_BODY}")
    return head + block + read_exact(stream, int(declared), "the body")


def encode_response(response: Response) -> bytes:
    """The reply: raw response bytes (CGI-style here); the server closes after it."""
    return encode_cgi_response(response)


def decode_response(data: bytes) -> Response:
    return decode_cgi_response(data)


def serve(app, host: str = "127.0.0.1", port: int = 0, **kw):
    """Serve a WSGI app over uwsgi on host:port in a background thread (see WireServer)."""
    from .server import WireServer

    return WireServer("uwsgi", app, host, port, **kw).start()
