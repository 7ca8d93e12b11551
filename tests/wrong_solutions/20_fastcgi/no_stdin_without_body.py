"""A wrong solution of exercise 20_fastcgi: no STDIN stream for a GET.

Mistake: leaves out the STDIN stream when there is no body: the empty STDIN record is what tells
    the application the body is over (FastCGI 1.0 §5.3), and without it the request never
    starts.
Fails: a GET: BEGIN_REQUEST, PARAMS, empty PARAMS, empty STDIN
Says: the request ends before the empty STDIN record
"""

import struct

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1
HEADER = struct.Struct(">BBHHBx")  # version, type, requestId, contentLength, padding, reserved
MAX_CONTENT = 0xFFFF


def encode_record(type_, request_id, content=b""):
    padding = -len(content) % 8  # §3.3: records aligned to 8 bytes, as recommended
    return HEADER.pack(1, type_, request_id, len(content), padding) + content + b"\0" * padding


def _length(n):
    # §3.4: one byte up to 127, else four bytes with the top bit set.
    return bytes([n]) if n <= 127 else struct.pack(">I", n | 0x80000000)


def encode_params(params):
    out = bytearray()
    for name, value in params.items():
        raw_name, raw_value = name.encode("latin-1"), value.encode("latin-1")
        out += _length(len(raw_name)) + _length(len(raw_value)) + raw_name + raw_value
    return bytes(out)


def _read_length(data, pos):
    if pos >= len(data):
        raise ValueError("the pairs end inside a length")
    if data[pos] < 0x80:
        return data[pos], pos + 1
    if pos + 4 > len(data):
        raise ValueError("the pairs end inside a 4-byte length")
    return struct.unpack_from(">I", data, pos)[0] & 0x7FFFFFFF, pos + 4


def decode_params(data):
    params, pos = {}, 0
    while pos < len(data):
        name_len, pos = _read_length(data, pos)
        value_len, pos = _read_length(data, pos)
        end = pos + name_len + value_len
        if end > len(data):
            raise ValueError("a name-value pair is longer than the data")
        name = data[pos:pos + name_len].decode("latin-1")
        params[name] = data[pos + name_len:end].decode("latin-1")
        pos = end
    return params


def _stream(type_, request_id, data):
    # §5.2-5.3: at most 65535 bytes per record, then an empty record ends the stream.
    records = [encode_record(type_, request_id, data[i:i + MAX_CONTENT])
               for i in range(0, len(data), MAX_CONTENT)]
    return b"".join(records) + encode_record(type_, request_id)


def encode_request(params, body, request_id=1):
    begin = struct.pack(">HB5x", RESPONDER, 0)  # §5.1: role, flags, reserved
    return (encode_record(BEGIN_REQUEST, request_id, begin)
            + _stream(PARAMS, request_id, encode_params(params))
            + (_stream(STDIN, request_id, body) if body else b""))


def decode_response(data):
    stdout, stderr, pos = bytearray(), bytearray(), 0
    while pos < len(data):
        if len(data) - pos < HEADER.size:
            raise ValueError("the reply ends inside a record header")
        version, type_, _, length, padding = HEADER.unpack_from(data, pos)
        if version != 1:
            raise ValueError(f"a record with version {version}, not 1")
        start, pos = pos + HEADER.size, pos + HEADER.size + length + padding
        if pos > len(data):
            raise ValueError("the reply ends inside a record")
        content = data[start:start + length]
        if type_ == STDOUT:
            stdout += content
        elif type_ == STDERR:
            stderr += content
        elif type_ == END_REQUEST:
            if len(content) != 8:
                raise ValueError("END_REQUEST content is 8 bytes")
            app_status, protocol_status = struct.unpack(">IB3x", content)
            return bytes(stdout), bytes(stderr), app_status, protocol_status
    raise ValueError("the reply ends without END_REQUEST")
