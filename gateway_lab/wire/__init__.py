"""The wire protocols between a front-end web server and a long-running app server.

CGI starts a process per request.  Its successors keep the app running and
send it each request over a socket, with the same CGI variables (RFC 3875
§4.1) framed in bytes: SCGI (python.ca/scgi/protocol.txt), FastCGI 1.0
(fastcgi-archives.github.io/FastCGI_Specification.html) and uwsgi
(uwsgi-docs.readthedocs.io, Protocol.rst):

==========  =================================================  =====================
protocol    framing of one request                             reply
==========  =================================================  =====================
SCGI        netstring of NUL-separated name/value pairs, body  CGI-style, then close
FastCGI     typed records: BEGIN_REQUEST, PARAMS, STDIN         STDOUT, END_REQUEST
uwsgi       4-byte header, u16-LE-prefixed pairs, body          raw bytes, then close
==========  =================================================  =====================

Every module (`scgi`, `fastcgi`, `uwsgi`) has the same functions:

* ``encode_request(request, **vars) -> bytes``: what nginx would send for a
  `gateway_lab.Request` (or a dict of variables plus a body);
* ``decode_request(data) -> (vars, body)``: the way back; malformed or
  truncated bytes raise `WireError` (a ValueError) with a message that says
  what is wrong, never IndexError or struct.error;
* ``explain(data) -> [Field(offset, length, label, value), ...]``: which bytes
  mean what, for a viewer that highlights them; ``encode_request(...,
  trace=t)`` and ``decode_request(..., trace=t)`` add one trace event per
  field with ``data={"offset", "length", "label", "value"}``;
* ``encode_response`` / ``decode_response`` for the reply;
* ``frame(data) -> Frame(size, complete, body)``: where the first request
  in the bytes read so far ends, from the bytes alone (how a server reads
  many connections without a thread each), and ``read_request`` to take one
  request off a blocking socket.

``serve_wire(protocol, app, port=...)`` (or ``serve_scgi(app)``,
``serve_fastcgi(app)``, ``serve_uwsgi(app)``) starts a small app server, a
`WireServer`, that runs a WSGI app through the lab's engine.

    >>> from gateway_lab.wire import scgi
    >>> scgi.encode_request({"REQUEST_METHOD": "GET"}, b"")
    b'43:CONTENT_LENGTH\\x000\\x00SCGI\\x001\\x00REQUEST_METHOD\\x00GET\\x00,'
"""

from __future__ import annotations

from ..findings import clip
from . import fastcgi, scgi, uwsgi
from ._common import (
    Field,
    Frame,
    WireError,
    cgi_vars,
    decode_cgi_response,
    encode_cgi_response,
    request_from_vars,
)
from .server import PROTOCOLS, WireServer, serve_fastcgi, serve_scgi, serve_uwsgi, serve_wire

__all__ = [
    "PROTOCOLS",
    "Field",
    "Frame",
    "WireError",
    "WireServer",
    "cgi_vars",
    "decode_cgi_response",
    "dump",
    "encode_cgi_response",
    "explain",
    "fastcgi",
    "request_from_vars",
    "scgi",
    "serve_fastcgi",
    "serve_scgi",
    "serve_uwsgi",
    "serve_wire",
    "uwsgi",
]


def explain(protocol: str, data: bytes) -> list[Field]:
    """The fields of `data` in `protocol` ("scgi", "fastcgi" or "uwsgi")."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol].explain(data)


def dump(protocol: str, data: bytes, width: int = 12) -> str:
    """The fields as text: offset, the first bytes in hex, label = value.

    >>> print(dump("uwsgi", uwsgi.encode_request({"PATH_INFO": "/"})))
       0  00                   modifier1 = 0
       1  0e 00                datasize (LE) = 14
       3  00                   modifier2 = 0
       4  09 00                key size (LE) = 9
       6  50 41 54 48 5f 49 +  key = 'PATH_INFO'
      15  01 00                value size (LE) = 1
      17  2f                   PATH_INFO = '/'
    """
    lines = []
    for f in explain(protocol, data):
        raw = data[f.offset:f.offset + min(f.length, width // 2)].hex(" ")
        more = " +" if f.length > width // 2 else ""
        lines.append(f"{f.offset:4}  {raw + more:<19}  {f.label} = {clip(f.value, 50)}")
    return "\n".join(lines)
