"""FastCGI: typed records on a connection that may carry many requests (FastCGI 1.0).

Everything on a FastCGI connection is a *record* (§3.3): an 8-byte header,
then `contentLength` bytes of content, then `paddingLength` bytes of padding::

    version=1 | type | requestId (u16 BE) | contentLength (u16 BE) | paddingLength | reserved

A RESPONDER request (§6.2), as nginx's fastcgi_pass sends it:

1. BEGIN_REQUEST (type 1): role (u16, 1 = RESPONDER), flags (KEEP_CONN = 1:
   keep the connection open for the next request), 5 reserved bytes (§5.1);
2. PARAMS (type 4): the CGI variables as name-value pairs, each length in
   1 byte if it is at most 127, else 4 bytes big-endian with the top bit set
   (§3.4); a pair may span records; an empty PARAMS record ends the stream (§5.2);
3. STDIN (type 5): the body, at most 65535 bytes per record, then an empty
   STDIN record (§5.3).

The application answers with STDOUT records (a CGI-style response), STDERR
records (text for the front end's error log), an empty record to end each
stream, then END_REQUEST (type 3): appStatus (u32), protocolStatus (0 =
REQUEST_COMPLETE) and 3 reserved bytes (§5.5).  requestId 0 marks a
management record such as GET_VALUES (§4.1); an unknown management type is
answered with UNKNOWN_TYPE (§4.2).

Padding: the spec recommends records aligned to 8 bytes (§3.3), so the
encoders pad every record to a multiple of 8.

A GET as records: the role (1 = RESPONDER) in BEGIN_REQUEST, one pair with
its two 1-byte lengths (14 and 3), then the two empty records that end the
PARAMS and STDIN streams:

    >>> for r in parse_records(encode_request({"REQUEST_METHOD": "GET"})):
    ...     print(TYPES[r.type], r.request_id, r.content)
    BEGIN_REQUEST 1 b'\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00'
    PARAMS 1 b'\\x0e\\x03REQUEST_METHODGET'
    PARAMS 1 b''
    STDIN 1 b''
    >>> record(STDIN, 1).hex(" ")  # version, type, requestId, contentLength, padding, 0
    '01 05 00 01 00 00 00 00'
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ..exchange import Response
from ..request import Request
from ..trace import Trace
from ._common import (
    Field,
    Frame,
    WireError,
    check_vars,
    decimal,
    decode_cgi_response,
    encode_cgi_response,
    latin1,
    read_exact,
    read_fields,
    traced_request,
    variables_and_body,
)

__all__ = [
    "WireError",
    "decode_reply",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "explain",
    "frame",
    "parse_records",
    "read_request",
    "record",
]

SPEC = "FastCGI 1.0"
VERSION = 1
HEADER = struct.Struct(">BBHHBx")   # §3.3 FCGI_Header
BEGIN_BODY = struct.Struct(">HB5x")  # §5.1 FCGI_BeginRequestBody
END_BODY = struct.Struct(">IB3x")    # §5.5 FCGI_EndRequestBody
MAX_CONTENT = 0xFFFF

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, DATA = range(1, 9)
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
TYPES = {1: "BEGIN_REQUEST", 2: "ABORT_REQUEST", 3: "END_REQUEST", 4: "PARAMS", 5: "STDIN",
         6: "STDOUT", 7: "STDERR", 8: "DATA", 9: "GET_VALUES", 10: "GET_VALUES_RESULT",
         11: "UNKNOWN_TYPE"}
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
ROLES = {1: "RESPONDER", 2: "AUTHORIZER", 3: "FILTER"}
KEEP_CONN = 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = 0, 1, 2, 3
PROTOCOL_STATUS = {0: "REQUEST_COMPLETE", 1: "CANT_MPX_CONN", 2: "OVERLOADED",
                   3: "UNKNOWN_ROLE"}
MAX_PARAMS = 1 << 20  # a bound on the variables a server will buffer


class RequestError(WireError):
    """A request that cannot be served, with the id to answer it on (§5.5): the server
    replies END_REQUEST with `protocol_status`, after a 400 on STDOUT when that is
    REQUEST_COMPLETE."""

    def __init__(self, message: str, request_id: int, protocol_status: int = 0):
        super().__init__(message)
        self.request_id = request_id
        self.protocol_status = protocol_status


class Record(NamedTuple):
    type: int
    request_id: int
    content: bytes
    offset: int        # where the record's header starts in the data
    padding: int = 0


class Reply(NamedTuple):
    """What the application sent back for one request."""

    stdout: bytes
    stderr: bytes
    app_status: int
    protocol_status: int


# -- records ------------------------------------------------------------------------

def record(type_: int, request_id: int, content: bytes = b"") -> bytes:
    """One record, padded to a multiple of 8 bytes (§3.3)."""
    if len(content) > MAX_CONTENT:
        raise WireError(f"a record holds at most {MAX_CONTENT} bytes, not {len(content)}")
    padding = -len(content) % 8
    return HEADER.pack(VERSION, type_, request_id, len(content), padding) + content + (
        b"\0" * padding)


def stream(type_: int, request_id: int, data: bytes) -> bytes:
    """A whole stream: records of at most 65535 bytes, then the empty record (§5.3)."""
    chunks = [data[i:i + MAX_CONTENT] for i in range(0, len(data), MAX_CONTENT)]
    return b"".join(record(type_, request_id, c) for c in chunks) + record(type_, request_id)


def parse_records(data: bytes) -> list[Record]:
    """Split `data` into records; WireError if a record is cut short or not version 1."""
    if not isinstance(data, (bytes, bytearray)):
        raise WireError(f"FastCGI data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    records, pos = [], 0
    while pos < len(data):
        if len(data) - pos < HEADER.size:
            raise WireError(f"a record header is 8 bytes; only {len(data) - pos} are left "
                            f"at byte {pos}")
        version, type_, rid, length, padding = HEADER.unpack_from(data, pos)
        if version != VERSION:
            raise WireError(f"record at byte {pos} has version {version}; FastCGI 1.0 "
                            "records start with 1")
        end = pos + HEADER.size + length + padding
        if end > len(data):
            raise WireError(f"the record at byte {pos} ({TYPES.get(type_, type_)}) says "
                            f"{length}+{padding} bytes follow, only "
                            f"{len(data) - pos - HEADER.size} do (cut short?)")
        content = data[pos + HEADER.size:pos + HEADER.size + length]
        records.append(Record(type_, rid, content, pos, padding))
        pos = end
    return records


def encode_pairs(variables: dict[str, str]) -> bytes:
    """Name-value pairs (§3.4): lengths in 1 byte up to 127, else 4 bytes with bit 31 set."""
    out = bytearray()
    for name, value in check_vars(variables).items():
        raw_name, raw_value = latin1(name, "variable name"), latin1(value, name)
        for raw in (raw_name, raw_value):
            out += bytes([len(raw)]) if len(raw) <= 127 else struct.pack(
                ">I", len(raw) | 0x80000000)
        out += raw_name + raw_value
    return bytes(out)


def _length(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    if pos >= len(buf):
        raise WireError(f"PARAMS end inside a name-value pair (the {what} length is missing)")
    if buf[pos] < 0x80:
        return buf[pos], 1
    if pos + 4 > len(buf):
        raise WireError(f"PARAMS end inside a 4-byte {what} length")
    return struct.unpack_from(">I", buf, pos)[0] & 0x7FFFFFFF, 4


def decode_pairs(buf: bytes, offsets=None) -> tuple[dict[str, str], list[Field]]:
    """Name-value pairs back to a dict; `offsets(i)` maps a position in `buf` to the data."""
    where = offsets or (lambda i: i)
    out: dict[str, str] = {}
    fields: list[Field] = []
    pos = 0
    while pos < len(buf):
        name_len, a = _length(buf, pos, "name")
        value_len, b = _length(buf, pos + a, "value")
        start = pos + a + b
        if start + name_len + value_len > len(buf):
            raise WireError(f"a name-value pair says {name_len}+{value_len} bytes, only "
                            f"{len(buf) - start} are left in PARAMS")
        name = buf[start:start + name_len].decode("latin-1")
        value = buf[start + name_len:start + name_len + value_len].decode("latin-1")
        if not name:
            raise WireError("a name-value pair has an empty name")
        # A name sent twice: the last value wins, as in php-fpm.  nginx sends both when
        # a config adds `fastcgi_param SCRIPT_NAME ...` after `include fastcgi_params;`,
        # the setup the frameworks' own nginx guides show.
        label = f"{name} (again: this value replaces {out.pop(name)!r})" if name in out else name
        out[name] = value
        fields += [Field(where(pos), a, "name length", name_len),
                   Field(where(pos + a), b, "value length", value_len),
                   Field(where(start), name_len, "name", name),
                   Field(where(start + name_len), value_len, label, value)]
        pos = start + name_len + value_len
    return out, fields


# -- the request ---------------------------------------------------------------------

def encode_request(request: Request | dict, body: bytes | None = None, *,
                   request_id: int = 1, keep_conn: bool = False, trace: Trace | None = None,
                   **vars: str) -> bytes:
    """The records a front end sends for `request` (a Request, or a dict of CGI variables
    plus `body`): BEGIN_REQUEST, PARAMS..., empty PARAMS, STDIN..., empty STDIN."""
    variables, body = variables_and_body(request, body, vars, trace)
    if not 1 <= request_id <= 0xFFFF:
        raise WireError(f"requestId must be 1..65535 (0 is for management records), "
                        f"not {request_id}")
    data = (record(BEGIN_REQUEST, request_id,
                   BEGIN_BODY.pack(RESPONDER, KEEP_CONN if keep_conn else 0))
            + stream(PARAMS, request_id, encode_pairs(variables))
            + stream(STDIN, request_id, body))
    return traced_request(data, trace, explain, SPEC)


class Parsed(NamedTuple):
    """One request as read off the wire."""

    request_id: int
    role: int
    keep_conn: bool
    vars: dict
    body: bytes
    fields: list


def parse(data: bytes) -> Parsed:
    """Parse the records of exactly one request; WireError if anything is off."""
    return _request(parse_records(data))


def _request(records: list[Record]) -> Parsed:
    if not records:
        raise WireError("no records: a request starts with BEGIN_REQUEST")
    first = records[0]
    if first.type != BEGIN_REQUEST:
        raise WireError(f"a request starts with BEGIN_REQUEST, not "
                        f"{TYPES.get(first.type, first.type)}")
    if first.request_id == 0:
        raise WireError("BEGIN_REQUEST with requestId 0, which is reserved for management "
                        "records (§3.3)")
    if len(first.content) != BEGIN_BODY.size:
        raise WireError(f"BEGIN_REQUEST content is 8 bytes, not {len(first.content)}")
    role, flags = BEGIN_BODY.unpack(first.content)
    rid = first.request_id
    params, params_at, body = bytearray(), [], bytearray()
    stage = PARAMS  # PARAMS until its empty record, then STDIN until its empty record
    for rec in records[1:]:
        if rec.request_id != rid:
            raise WireError(f"a record for requestId {rec.request_id} inside request {rid} "
                            "(this decoder reads one request at a time)")
        if stage is None:
            raise WireError(f"{TYPES.get(rec.type, rec.type)} after the empty STDIN record "
                            "that ends the request")
        if rec.type == ABORT_REQUEST:
            raise WireError("the front end aborted the request (ABORT_REQUEST, §5.4)")
        if rec.type != stage:
            raise WireError(f"expected {TYPES[stage]}, got {TYPES.get(rec.type, rec.type)} "
                            f"at byte {rec.offset}")
        if stage == PARAMS:
            params_at.append((len(params), rec.offset + HEADER.size))
            params += rec.content
            if len(params) > MAX_PARAMS:
                raise WireError(f"more than {MAX_PARAMS} bytes of PARAMS")
        else:
            body += rec.content
        if not rec.content:
            stage = STDIN if stage == PARAMS else None
    if stage is not None:
        raise WireError(f"the request ends before the empty {TYPES[stage]} record that "
                        "closes the stream (cut short?)")

    def offset(i: int) -> int:  # position in the joined PARAMS -> position in data
        base, at = max((p for p in params_at if p[0] <= i), default=(0, 0))
        return at + i - base

    variables, pairs = decode_pairs(bytes(params), offset)
    declared = variables.get("CONTENT_LENGTH", "")
    if declared and decimal(declared) != len(body):
        raise WireError(f"CONTENT_LENGTH says {declared!r} but STDIN carried {len(body)} "
                        "bytes")
    fields = _record_fields(records) + pairs
    fields.sort(key=lambda f: f.offset)
    return Parsed(rid, role, bool(flags & KEEP_CONN), variables, bytes(body), fields)


def decode_request(data: bytes, *, trace: Trace | None = None) -> tuple[dict[str, str], bytes]:
    """(variables, body) from the records of one request; WireError if malformed."""
    parsed = parse(data)
    read_fields(trace, parsed.fields, SPEC)
    return parsed.vars, parsed.body


def _record_fields(records: list[Record]) -> list[Field]:
    """Header fields of every record, and the content of the non-PARAMS ones."""
    fields = []
    for rec in records:
        at, name = rec.offset, TYPES.get(rec.type, f"type {rec.type}")
        fields += [Field(at, 1, "version", VERSION), Field(at + 1, 1, "type", name),
                   Field(at + 2, 2, "requestId", rec.request_id),
                   Field(at + 4, 2, "contentLength", len(rec.content)),
                   Field(at + 6, 1, "paddingLength", rec.padding),
                   Field(at + 7, 1, "reserved", 0)]
        body_at = at + HEADER.size
        if rec.type == BEGIN_REQUEST and len(rec.content) == BEGIN_BODY.size:
            role, flags = BEGIN_BODY.unpack(rec.content)
            fields += [Field(body_at, 2, "role", ROLES.get(role, role)),
                       Field(body_at + 2, 1, "flags", "KEEP_CONN" if flags & KEEP_CONN
                             else flags),
                       Field(body_at + 3, 5, "reserved", 0)]
        elif rec.type == END_REQUEST and len(rec.content) == END_BODY.size:
            app_status, status = END_BODY.unpack(rec.content)
            fields += [Field(body_at, 4, "appStatus", app_status),
                       Field(body_at + 4, 1, "protocolStatus",
                             PROTOCOL_STATUS.get(status, status)),
                       Field(body_at + 5, 3, "reserved", 0)]
        elif rec.type in (STDIN, STDOUT, STDERR, DATA) and rec.content:
            fields.append(Field(body_at, len(rec.content), name.lower(), rec.content))
        if rec.padding:
            fields.append(Field(body_at + len(rec.content), rec.padding, "padding",
                                rec.padding))
    return fields


def explain(data: bytes) -> list[Field]:
    """Every field of a run of records (a request or a reply): (offset, length, label,
    value).  PARAMS are shown pair by pair."""
    records = parse_records(data)
    if any(r.type == PARAMS for r in records):
        try:
            return _request(records).fields
        except WireError:
            pass  # not one well-formed request: show the records only
    return _record_fields(records)


def read_request(stream_, on_management=None) -> bytes | None:
    """Read the records of one request from a blocking binary stream.

    Returns None when the connection is closed cleanly between requests.
    Management records (requestId 0) are not part of a request: each is handed
    to `on_management(record)` (which writes any answer itself) and reading
    goes on.
    """
    out = bytearray()
    rid, stage = None, None
    while True:
        head = stream_.read(HEADER.size)
        if not head and rid is None:
            return None
        if len(head) != HEADER.size:
            raise WireError(f"the connection closed inside a record header ({len(head)} of "
                            "8 bytes)")
        version, type_, request_id, length, padding = HEADER.unpack(head)
        if version != VERSION:
            raise WireError(f"a record with version {version}; FastCGI 1.0 records start "
                            "with 1")
        rest = read_exact(stream_, length + padding, f"a {TYPES.get(type_, type_)} record")
        if request_id == 0:
            if on_management is not None:
                on_management(Record(type_, 0, rest[:length], 0, padding))
            continue
        if rid is None:
            rid, stage = request_id, PARAMS
        out += head + rest
        if len(out) > MAX_PARAMS + (1 << 26):
            raise WireError("the request is larger than this lab server accepts (64 MiB)")
        if request_id != rid:
            raise WireError(f"records of requestId {request_id} arrived inside request {rid}; "
                            "this server does not multiplex (FCGI_MPXS_CONNS=0)")
        if type_ in (PARAMS, STDIN) and length == 0 and type_ == stage:
            stage = STDIN if stage == PARAMS else None
            if stage is None:
                return bytes(out)
        if type_ == ABORT_REQUEST:
            return bytes(out)  # parse() reports the abort


def frame(data: bytes) -> Frame:
    """Where the first request in `data` (the bytes read so far) ends, record by record,
    as `read_request` reads it.  A management record (requestId 0) before the request
    is a frame of its own with `body=None`: the server answers it and reads on.
    `body` counts the STDIN bytes so far, so a server can refuse a large body early.

    Errors once BEGIN_REQUEST is known are `RequestError`s carrying its id: the
    server can answer them instead of dropping the connection.
    """
    pos, rid, stage, params, body, declared = 0, None, None, bytearray(), 0, 0
    while True:
        if len(data) - pos < HEADER.size:
            return Frame(pos + HEADER.size, False, max(body, declared) if rid else None)
        version, type_, request_id, length, padding = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length + padding
        if version != VERSION:
            message = f"a record with version {version}; FastCGI 1.0 records start with 1"
            raise WireError(message) if rid is None else RequestError(message, rid)
        if rid is None and request_id == 0:  # a management record: a frame of its own
            return Frame(end, len(data) >= end)
        if rid is None:
            if type_ != BEGIN_REQUEST:
                raise RequestError(f"a request starts with BEGIN_REQUEST, not "
                                   f"{TYPES.get(type_, type_)}", request_id)
            rid, stage = request_id, PARAMS
        elif request_id != rid:
            # §5.5: a second request on a connection that carries one at a time.
            status = CANT_MPX_CONN if type_ == BEGIN_REQUEST else REQUEST_COMPLETE
            raise RequestError(f"records of requestId {request_id} arrived inside request "
                               f"{rid}; this server does not multiplex (FCGI_MPXS_CONNS=0)",
                               rid, status)
        if len(data) < end:  # the body so far counts the part of this record that came
            partial = len(data) - pos - HEADER.size if type_ == STDIN else 0
            return Frame(end, False, max(body + max(partial, 0), declared))
        if type_ == ABORT_REQUEST:
            raise RequestError("the front end aborted the request (ABORT_REQUEST, §5.4)", rid)
        if type_ == PARAMS and stage == PARAMS:
            params += data[pos + HEADER.size:pos + HEADER.size + length]
            if len(params) > MAX_PARAMS:
                raise RequestError(f"more than {MAX_PARAMS} bytes of PARAMS", rid)
        elif type_ == STDIN and stage == STDIN:
            body += length
        elif type_ != BEGIN_REQUEST or pos:
            expected = "PARAMS" if stage == PARAMS else "STDIN"
            raise RequestError(f"expected {expected}, got {TYPES.get(type_, type_)} at byte "
                               f"{pos}", rid)
        if type_ in (PARAMS, STDIN) and length == 0:
            if stage == STDIN:
                return Frame(end, True, body)
            stage = STDIN
            declared = _declared(bytes(params), rid)
        pos = end


def _declared(params: bytes, rid: int) -> int:
    """CONTENT_LENGTH of the PARAMS (0 if absent): the body's size before it arrives."""
    try:
        variables, _ = decode_pairs(params)
    except WireError as error:
        raise RequestError(str(error), rid) from None
    return decimal(variables.get("CONTENT_LENGTH", "") or "0") or 0


# -- the reply ------------------------------------------------------------------------

def encode_response(response: Response, *, request_id: int = 1, stderr: bytes = b"",
                    app_status: int = 0) -> bytes:
    """STDOUT (a CGI-style response) and STDERR streams, then END_REQUEST (§5.3, §5.5)."""
    out = stream(STDOUT, request_id, encode_cgi_response(response))
    if stderr:
        out += stream(STDERR, request_id, stderr)
    return out + end_request(request_id, app_status)


def end_request(request_id: int, app_status: int = 0, status: int = REQUEST_COMPLETE) -> bytes:
    return record(END_REQUEST, request_id, END_BODY.pack(app_status & 0xFFFFFFFF, status))


def decode_reply(data: bytes) -> Reply:
    """STDOUT, STDERR, appStatus and protocolStatus of one reply."""
    stdout, stderr = bytearray(), bytearray()
    for rec in parse_records(data):
        if rec.type == STDOUT:
            stdout += rec.content
        elif rec.type == STDERR:
            stderr += rec.content
        elif rec.type == END_REQUEST:
            if len(rec.content) != END_BODY.size:
                raise WireError(f"END_REQUEST content is 8 bytes, not {len(rec.content)}")
            app_status, status = END_BODY.unpack(rec.content)
            return Reply(bytes(stdout), bytes(stderr), app_status, status)
        else:
            raise WireError(f"a reply holds STDOUT, STDERR and END_REQUEST records, not "
                            f"{TYPES.get(rec.type, rec.type)}")
    raise WireError("the reply ends before END_REQUEST (cut short?)")


def decode_response(data: bytes) -> Response:
    """The HTTP response inside a reply's STDOUT."""
    return decode_cgi_response(decode_reply(data).stdout)
