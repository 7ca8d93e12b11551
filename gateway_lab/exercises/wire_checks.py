"""Checks for the wire-protocol exercises: 13 an SCGI codec, 20 FastCGI records.

Both are byte formats, so the checks compare bytes: with the protocol's own
examples, and with the lab's own codecs (gateway_lab.wire.scgi and
gateway_lab.wire.fastcgi), which in turn are tested against nginx.
"""

from __future__ import annotations

import struct

from ..exchange import Response
from .core import LearnerError, call, clip, describe, doing, exercise, fact, need

LESSON_WIRE = "03 WSGI servers (the wire viewer) and the protocol texts"
SCGI_SPEC = "the SCGI protocol (python.ca/scgi/protocol.txt)"
FCGI_SPEC = "FastCGI 1.0 (fastcgi-archives.github.io/FastCGI_Specification.html)"


def _raises(fn, data, what: str) -> str | None:
    """None when fn(data) raises ValueError, else what went wrong, in words."""
    from .. import sandbox

    doing(f"{what}({clip(repr(data), 60)})", 3.0)
    outcome = sandbox.call(lambda: fn(data), 3.0)
    if outcome.timed_out:
        return f"{what} did not return within 3 s (a loop that never ends?)"
    if isinstance(outcome.error, ValueError):
        return None
    if outcome.error is not None:
        return (f"expected ValueError, {what} raised {describe(outcome.error)}; "
                "raise ValueError('...') for malformed input")
    return f"expected ValueError, {what} returned {clip(repr(outcome.value), 200)}"


def _try(fn, *args, what: str):
    """(value, None) or (None, the LearnerError's message)."""
    try:
        return call(fn, *args, what=what), None
    except LearnerError as error:
        return None, str(error)


# -- 13: SCGI ---------------------------------------------------------------------------

VECTOR = (b"70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00"
          b"REQUEST_URI\x00/deepthought\x00,What is the answer to life?")
VECTOR_HEADERS = {"CONTENT_LENGTH": "27", "SCGI": "1", "REQUEST_METHOD": "POST",
                  "REQUEST_URI": "/deepthought"}
VECTOR_BODY = b"What is the answer to life?"

ROUND_TRIPS = [
    ({"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "QUERY_STRING": ""}, b""),
    ({"REQUEST_METHOD": "PUT", "REQUEST_URI": "/blob", "HTTP_X_NAME": "caf\xe9"},
     bytes(range(256))),
    ({"REQUEST_METHOD": "POST", "REQUEST_URI": "/form", "CONTENT_TYPE":
      "application/x-www-form-urlencoded", "HTTP_COOKIE": "a=1; b=2"}, b"a=1&b=2" * 300),
    # A ',' inside the block: only the netstring's length says where the block ends.
    ({"REQUEST_METHOD": "GET", "REQUEST_URI": "/list", "HTTP_ACCEPT": "text/html,*/*;q=0.8"},
     b"a,b"),
]

MALFORMED = [
    ("no ':' after the length", b"70CONTENT_LENGTH\x000\x00SCGI\x001\x00,"),
    ("a length with a leading zero", b"024:CONTENT_LENGTH\x000\x00SCGI\x001\x00,"),
    ("the headers do not end with ','", b"24:CONTENT_LENGTH\x000\x00SCGI\x001\x00;"),
    ("the length is longer than the data", b"99:CONTENT_LENGTH\x000\x00SCGI\x001\x00,"),
    ("CONTENT_LENGTH is not the first header", b"24:SCGI\x001\x00CONTENT_LENGTH\x000\x00,"),
    ("no SCGI=1 header", b"18:CONTENT_LENGTH\x000\x00,"),
    ("a header name twice",
     b"40:CONTENT_LENGTH\x000\x00SCGI\x001\x00SCGI\x001\x00X\x00y\x00,"),
    ("a body shorter than CONTENT_LENGTH", b"25:CONTENT_LENGTH\x0010\x00SCGI\x001\x00,short"),
    # int() takes a sign, spaces and '_' (RFC 9112 §6.3's trap for Content-Length too);
    # a netstring length and CONTENT_LENGTH are digits only.
    ("a length with a '+' sign", b"+24:CONTENT_LENGTH\x000\x00SCGI\x001\x00,"),
    ("a CONTENT_LENGTH that is not digits ('-1')",
     b"25:CONTENT_LENGTH\x00-1\x00SCGI\x001\x00,body"),
]


def _fix_lengths():
    # The malformed cases must be wrong in exactly one way: fix each netstring
    # length unless the length is the fault being tested.
    fixed = []
    for why, data in MALFORMED:
        if why in ("no ':' after the length", "a length with a leading zero",
                   "the length is longer than the data", "a length with a '+' sign"):
            fixed.append((why, data))
            continue
        head, _, rest = data.partition(b":")
        end = rest.rfind(b"\x00") + 1
        fixed.append((why, str(end).encode() + b":" + rest))
    return fixed


MALFORMED = _fix_lengths()
NETSTRING_RULE = (f"{SCGI_SPEC}: the headers are a netstring: the length in decimal (no "
                  "leading zeros), ':', name\\0value\\0 pairs, ','; CONTENT_LENGTH first, "
                  "then SCGI=1")


@exercise("13_scgi", "an SCGI request encoder and parser", LESSON_WIRE, hints=[
    "SCGI headers are a netstring: b'<length>:' + the block + b','. The block is "
    "name + b'\\0' + value + b'\\0' for every header, CONTENT_LENGTH first and SCGI=1 next.",
    "Encode names and values with .encode('latin-1') (one byte per character, like WSGI's "
    "native strings); CONTENT_LENGTH is str(len(body)), '0' for no body.",
    "To parse: split at the first b':', check the digits (no leading 0), take that many "
    "bytes, expect b',' next, split the block on b'\\0' into pairs; the body is the next "
    "CONTENT_LENGTH bytes. Raise ValueError for anything else.",
])
def check_13(module):
    encode = need(module, "encode_request", "encode_request(headers: dict, body: bytes) -> bytes")
    parse = need(module, "parse_request", "parse_request(data: bytes) -> (dict, bytes)")
    headers = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/deepthought"}
    got, error = _try(encode, dict(headers), VECTOR_BODY, what="encode_request")
    yield fact("encode_request gives the protocol's own example, byte for byte", got == VECTOR,
               error or f"expected {VECTOR!r}\n got     {clip(repr(got), 300)}",
               sent=f"encode_request({headers!r}, {VECTOR_BODY!r})", got=clip(repr(got), 200),
               rule=NETSTRING_RULE, hint="the block ends with the last value's \\0; its "
               "length counts every byte of it")
    got, error = _try(encode, {"HTTP_X_NAME": "caf\xe9"}, b"", what="encode_request")
    want = b"HTTP_X_NAME\x00caf\xe9\x00"
    yield fact("a non-ASCII value is one Latin-1 byte per character",
               isinstance(got, bytes) and want in got,
               error or f"expected the bytes {want!r} in {clip(repr(got), 200)}",
               sent="encode_request({'HTTP_X_NAME': 'caf\\xe9'}, b'')", got=clip(repr(got), 200),
               rule="PEP 3333 §Unicode Issues: CGI values are “native strings”, bytes as "
                    "Latin-1", hint="value.encode('latin-1'), not 'utf-8'")
    got, error = _try(parse, VECTOR, what="parse_request")
    ok = (isinstance(got, tuple) and len(got) == 2 and dict(got[0]) == VECTOR_HEADERS
          and got[1] == VECTOR_BODY)
    yield fact("parse_request reads the protocol's example", ok,
               error or f"expected ({VECTOR_HEADERS!r}, {VECTOR_BODY!r}),\n"
               f"got {clip(repr(got), 300)}", sent=clip(repr(VECTOR), 200),
               got=clip(repr(got), 200), rule=NETSTRING_RULE)
    bad = []
    for environ, body in ROUND_TRIPS:
        data, error = _try(encode, dict(environ), body, what="encode_request")
        back, error = (None, error) if error else _try(parse, data, what="parse_request")
        if error:
            bad.append(f"{environ['REQUEST_URI']}: {error}")
            continue
        want = {"CONTENT_LENGTH": str(len(body)), "SCGI": "1", **environ}
        if not (isinstance(back, tuple) and len(back) == 2):
            bad.append(f"{environ['REQUEST_URI']}: parse_request returned {clip(repr(back))}")
        elif dict(back[0]) != want or back[1] != body:
            bad.append(f"{environ['REQUEST_URI']}: sent {clip(repr(want))} and "
                       f"{len(body)} body bytes, got back {clip(repr(back[0]))} and "
                       f"{len(back[1]) if isinstance(back[1], bytes) else back[1]!r}")
    yield fact("parse_request(encode_request(h, body)) gives h and body back "
               "(binary body, Latin-1 value, 2 kB body, a ',' in a value)", not bad,
               "\n".join(bad),
               sent=f"{len(ROUND_TRIPS)} requests", rule=NETSTRING_RULE)
    for why, data in MALFORMED:
        outcome = _raises(parse, data, "parse_request")
        yield fact(f"parse_request refuses {why} with ValueError", outcome is None,
                   outcome or "", sent=clip(repr(data), 120), rule=NETSTRING_RULE,
                   hint="check each rule and raise ValueError('...') when one is broken")
    yield from _scgi_cross_check(encode)


def _scgi_cross_check(encode):
    """The lab's own SCGI parser must read the learner's bytes."""
    from ..wire import WireError, scgi

    environ, body = ROUND_TRIPS[2]
    data, error = _try(encode, dict(environ), body, what="encode_request")
    if error is None:
        try:
            scgi.decode_request(data)
        except WireError as refused:
            error = f"gateway_lab.wire.scgi refused them: {refused}"
    yield fact("the lab's SCGI parser reads your bytes", error is None, error or "",
               sent=f"encode_request({clip(repr(environ), 60)}, {len(body)} bytes)",
               rule=NETSTRING_RULE)


# -- 20: FastCGI --------------------------------------------------------------------------

BEGIN_VECTOR = bytes.fromhex("01 01 00 01 00 08 00 00 00 01 00 00 00 00 00 00")
RECORD_RULE = (f"{FCGI_SPEC} §3.3: a record is version (1), type, requestId (2 bytes, "
               "big-endian), contentLength (2 bytes, big-endian), paddingLength, a reserved "
               "byte, then the content and the padding")
PAIRS_RULE = (f"{FCGI_SPEC} §3.4: a name or value length of 0..127 is one byte; a longer "
              "one is 4 bytes, big-endian, with the top bit set")
STREAM_RULE = (f"{FCGI_SPEC} §3.3, §5.2-§5.3: at most 65535 content bytes per record; a "
               "stream (PARAMS, STDIN) ends with an empty record of its type")
REPLY_RULE = (f"{FCGI_SPEC} §5.3, §5.5: STDOUT and STDERR records, then END_REQUEST: appStatus "
              "(4 bytes) and protocolStatus (1 byte); skip each record's padding")
LONG_PARAMS = {"SHORT": "x" * 127, "JUST_LONG": "y" * 128, "N" * 200: "z",
               "HTTP_X_NAME": "caf\xe9"}


def _lab_fastcgi():
    from ..wire import fastcgi

    return fastcgi


@exercise("20_fastcgi", "FastCGI records: encode a request, decode a reply", LESSON_WIRE,
          hints=[
    "A record is struct.pack('>BBHHBx', 1, type_, request_id, len(content), padding) + "
    "content + b'\\0' * padding, with padding = -len(content) % 8 (§3.3). BEGIN_REQUEST's "
    "content is struct.pack('>HB5x', 1, 0): role RESPONDER, no flags.",
    "A name-value length: bytes([n]) if n <= 127, else struct.pack('>I', n | 0x80000000) "
    "(§3.4). Decoding: if the first byte is below 0x80 it is the length; else read 4 bytes "
    "and clear the top bit (& 0x7FFFFFFF).",
    "Streams: cut PARAMS and STDIN into records of at most 65535 bytes, then one empty "
    "record each. In a reply, read records one by one: the header says how much content and "
    "padding follow; STDOUT/STDERR content adds up, END_REQUEST ends it. Anything cut short "
    "is a ValueError.",
])
def check_20(module):
    fcgi = _lab_fastcgi()
    encode_record = need(module, "encode_record",
                         "encode_record(type_, request_id, content=b'') -> bytes")
    encode_params = need(module, "encode_params", "encode_params(params: dict) -> bytes")
    decode_params = need(module, "decode_params", "decode_params(data: bytes) -> dict")
    encode_request = need(module, "encode_request",
                          "encode_request(params: dict, body: bytes, request_id=1) -> bytes")
    decode_response = need(module, "decode_response",
                           "decode_response(data) -> (stdout, stderr, app_status, "
                           "protocol_status)")
    content = struct.pack(">HB5x", fcgi.RESPONDER, 0)
    got, error = _try(encode_record, fcgi.BEGIN_REQUEST, 1, content, what="encode_record")
    yield fact("BEGIN_REQUEST for request 1, byte for byte", got == BEGIN_VECTOR,
               error or f"expected {BEGIN_VECTOR.hex(' ')}\ngot      "
               f"{got.hex(' ') if isinstance(got, bytes) else clip(repr(got))}",
               sent=f"encode_record(1, 1, {content!r})", rule=RECORD_RULE,
               hint="struct.pack('>BBHHBx', 1, type_, request_id, len(content), padding)")
    want = fcgi.record(fcgi.STDIN, 300, b"abc")
    got, error = _try(encode_record, fcgi.STDIN, 300, b"abc", what="encode_record")
    yield fact("a record for request 300 with 3 bytes: big-endian ids, padded to 8 bytes",
               got == want, error or f"expected {want.hex(' ')}\ngot      "
               f"{got.hex(' ') if isinstance(got, bytes) else clip(repr(got))}",
               sent="encode_record(5, 300, b'abc')", rule=RECORD_RULE,
               hint="'>' in the struct format is big-endian; padding = -len(content) % 8")
    params = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": ""}
    want = fcgi.encode_pairs(params)
    got, error = _try(encode_params, dict(params), what="encode_params")
    yield fact("short name-value pairs: 1-byte lengths", got == want,
               error or f"expected {want!r}\ngot      {clip(repr(got), 200)}",
               sent=f"encode_params({params!r})", rule=PAIRS_RULE,
               hint="bytes([len(name)]) + bytes([len(value)]) + name + value")
    want = fcgi.encode_pairs(LONG_PARAMS)
    got, error = _try(encode_params, dict(LONG_PARAMS), what="encode_params")
    yield fact("lengths of 127, 128 and 200: the 4-byte form from 128 on, top bit set",
               got == want, error or _first_difference(want, got), rule=PAIRS_RULE,
               sent="encode_params({'SHORT': 'x' * 127, 'JUST_LONG': 'y' * 128, 'N' * 200: "
                    "'z', 'HTTP_X_NAME': 'caf\\xe9'})",
               hint="struct.pack('>I', n | 0x80000000) when n > 127; values as Latin-1")
    got, error = _try(decode_params, fcgi.encode_pairs(LONG_PARAMS), what="decode_params")
    yield fact("decode_params reads 1- and 4-byte lengths back", got == LONG_PARAMS,
               error or f"expected the 4 pairs back, got {clip(repr(got), 300)}",
               sent="decode_params(the lab's encoding of the pairs above)", rule=PAIRS_RULE,
               hint="a first byte >= 0x80 means 4 bytes: struct.unpack('>I', ...)[0] & "
                    "0x7FFFFFFF")
    yield from _requests(fcgi, encode_request)
    yield from _replies(fcgi, decode_response)


def _first_difference(want: bytes, got) -> str:
    if not isinstance(got, (bytes, bytearray)):
        return f"expected bytes, got {clip(repr(got))}"
    pairs = enumerate(zip(want, got, strict=False))
    at = next((i for i, (a, b) in pairs if a != b), min(len(want), len(got)))
    return (f"expected {len(want)} bytes, got {len(got)}; the first difference is at byte "
            f"{at}: expected {want[at:at + 8].hex(' ')}, got {bytes(got[at:at + 8]).hex(' ')}")


def _requests(fcgi, encode_request):
    cases = [
        ("a GET: BEGIN_REQUEST, PARAMS, empty PARAMS, empty STDIN", 1,
         {"REQUEST_METHOD": "GET", "REQUEST_URI": "/"}, b""),
        ("a POST for request 7 with a body", 7,
         {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "11", "CONTENT_TYPE": "text/plain"},
         b"hello world"),
        ("a 70 000-byte body goes in two STDIN records", 1,
         {"REQUEST_METHOD": "PUT", "CONTENT_LENGTH": "70000"}, bytes(range(256)) * 273
         + bytes(112)),
        ("a 70 000-byte parameter value goes in two PARAMS records", 1,
         {"REQUEST_METHOD": "GET", "HTTP_COOKIE": "c" * 70_000}, b""),
    ]
    for title, rid, params, body in cases:
        data, error = _try(encode_request, dict(params), body, rid, what="encode_request")
        if error is None:
            try:
                parsed = fcgi.parse(data)
            except fcgi.WireError as refused:
                error = f"gateway_lab.wire.fastcgi refused your bytes: {refused}"
            else:
                wrong = []
                if parsed.request_id != rid:
                    wrong.append(f"requestId {parsed.request_id}, expected {rid}")
                if parsed.role != fcgi.RESPONDER:
                    wrong.append(f"role {parsed.role}, expected 1 (RESPONDER)")
                if parsed.vars != params:
                    wrong.append(f"the parameters came back as {clip(repr(parsed.vars), 120)}")
                if parsed.body != body:
                    wrong.append(f"the body came back as {len(parsed.body)} bytes, expected "
                                 f"{len(body)}")
                error = "; ".join(wrong) or None
        yield fact(f"encode_request: {title}", error is None, error or "",
                   sent=f"encode_request({clip(repr(params), 80)}, {len(body)} bytes, "
                        f"request_id={rid})", rule=STREAM_RULE,
                   hint="BEGIN_REQUEST, then the PARAMS stream, then the STDIN stream, each "
                        "cut into records of at most 65535 bytes and ended by an empty one")


def _replies(fcgi, decode_response):
    response = Response(200, [("Content-Type", "text/plain")], b"hello from the app\n")
    reply = fcgi.encode_response(response, request_id=1, stderr=b"a warning\n", app_status=3)
    big = b"x" * 70_000
    cases = [
        ("a reply with STDOUT, STDERR and END_REQUEST", reply,
         (fcgi.decode_reply(reply).stdout, b"a warning\n", 3, fcgi.REQUEST_COMPLETE)),
        ("a 70 000-byte STDOUT in two records, padding skipped",
         fcgi.stream(fcgi.STDOUT, 1, big) + fcgi.end_request(1, 0),
         (big, b"", 0, fcgi.REQUEST_COMPLETE)),
        ("END_REQUEST with protocolStatus UNKNOWN_ROLE and appStatus 258",
         fcgi.stream(fcgi.STDOUT, 1, b"") + fcgi.end_request(1, 258, fcgi.UNKNOWN_ROLE),
         (b"", b"", 258, fcgi.UNKNOWN_ROLE)),
    ]
    for title, data, want in cases:
        got, error = _try(decode_response, data, what="decode_response")
        ok = error is None and isinstance(got, tuple) and tuple(got) == want
        yield fact(f"decode_response: {title}", ok,
                   error or f"expected {clip(repr(want), 160)}\ngot      {clip(repr(got), 160)}",
                   sent=f"{len(data)} bytes of records", rule=REPLY_RULE,
                   hint="loop over records: header, content, padding; collect STDOUT and "
                        "STDERR; END_REQUEST's content is struct.unpack('>IB3x', ...)")
    cut = reply[:-5]
    for why, data in (("a reply cut short inside a record", cut),
                      ("a record whose version is not 1", b"\x02" + reply[1:]),
                      ("a reply without END_REQUEST", fcgi.stream(fcgi.STDOUT, 1, b"hi"))):
        outcome = _raises(decode_response, data, "decode_response")
        yield fact(f"decode_response refuses {why} with ValueError", outcome is None,
                   outcome or "", sent=clip(repr(data), 120), rule=REPLY_RULE,
                   hint="check that every header and content is complete; raise ValueError")

