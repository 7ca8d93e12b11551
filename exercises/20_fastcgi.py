"""Exercise 20: FastCGI records: encode a request, decode a reply.

Lesson: the wire protocols (03 WSGI servers, the wire viewer) and the FastCGI 1.0
specification (fastcgi-archives.github.io/FastCGI_Specification.html).
Check: `gateway-lab check 20_fastcgi`.

nginx talks to php-fpm (and to flup, and to gateway-lab's own FastCGI server) in
*records*: an 8-byte header, the content, and padding.

    version (1) | type | requestId (2 bytes) | contentLength (2 bytes) |
    paddingLength | reserved (0)  ... content ... padding (zero bytes)

All numbers are big-endian.  Types: 1 BEGIN_REQUEST, 3 END_REQUEST, 4 PARAMS,
5 STDIN, 6 STDOUT, 7 STDERR.

Task: write

* `encode_record(type_, request_id, content=b"") -> bytes`: one record, padded to
  a multiple of 8 bytes (the spec recommends it; padding = -len(content) % 8);
* `encode_params(params: dict[str, str]) -> bytes`: the name-value pairs of a
  PARAMS stream: for each pair the name's length, the value's length, the name,
  the value (Latin-1).  A length of 0..127 is one byte; a longer one is four
  bytes, big-endian, with the top bit set (length | 0x80000000);
* `decode_params(data: bytes) -> dict[str, str]`: the way back;
* `encode_request(params, body, request_id=1) -> bytes`: what a web server sends:
  BEGIN_REQUEST (content: role 1 = RESPONDER as 2 bytes, flags 0, 5 reserved
  bytes), the PARAMS stream, the STDIN stream (the body).  A record holds at most
  65535 bytes of content, so a longer stream is cut into several records, and
  every stream ends with an empty record of its type;
* `decode_response(data) -> (stdout, stderr, app_status, protocol_status)`: read a
  reply's records: the STDOUT and STDERR contents joined, and from END_REQUEST
  (content: appStatus, 4 bytes; protocolStatus, 1 byte; 3 reserved bytes) the two
  statuses.  Raise ValueError for a reply that is cut short, a record whose
  version is not 1, or a reply without END_REQUEST.

The record of BEGIN_REQUEST for request 1 is, byte for byte:

    01 01 00 01 00 08 00 00   00 01 00 00 00 00 00 00

Rules it practises (FastCGI 1.0): §3.3 records, §3.4 name-value pairs, §5.1
BEGIN_REQUEST, §5.2-5.3 the PARAMS and STDIN streams, §5.5 END_REQUEST.
"""

import struct  # noqa: F401  (you will need it)

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1


def encode_record(type_, request_id, content=b""):
    raise NotImplementedError("encode_record: not implemented yet")


def encode_params(params):
    raise NotImplementedError("encode_params: not implemented yet")


def decode_params(data):
    raise NotImplementedError("decode_params: not implemented yet")


def encode_request(params, body, request_id=1):
    raise NotImplementedError("encode_request: not implemented yet")


def decode_response(data):
    raise NotImplementedError("decode_response: not implemented yet")
