"""HTTP/1.1 request syntax: the rules a careful server applies before any app sees a request.

Every rule here is one a server MUST (or, where marked, chooses to) enforce, with
the section that says so.  `Request(...)` applies the field rules to what you
pass it; `Request.parse(bytes)` applies all of them to raw bytes, with h11 doing
the parsing itself and the checks h11 does not make done first, on the head:

* RFC 9112 §2.2: lines end in CRLF.  A bare LF MAY be accepted; this lab refuses
  it, as strict servers do, because CR/LF disagreements between a proxy and a
  server are a smuggling vector.
* RFC 9112 §2.3 and RFC 9110 §2.5: the version is HTTP/1.0 or HTTP/1.1.  Another
  major version gets 505; a higher minor version (HTTP/1.2) is processed as the
  highest one the server implements, 1.1 (RFC 9110 §2.5: SHOULD).
* RFC 9112 §3.2: the request-target has no fragment ('#...' stays in the browser)
  and no space or control character.
* RFC 9112 §3.2 and RFC 9110 §7.2: exactly one Host, and it is `host[:port]` with
  an ASCII-digit port; anything else is a 400.
* RFC 9112 §5.2: obsolete line folding is a 400 (h11 would unfold it).
* RFC 9110 §5.5: a field value holds visible characters, spaces and tabs:
  no CR, LF, NUL, DEL or other control character.
* RFC 9112 §6.1: Content-Length and Transfer-Encoding together are a smuggling
  hazard; we reject them (a server MAY process it, but MUST then close).
* RFC 9112 §6.3: conflicting or malformed Content-Length is a 400.
* RFC 6585 §5: a head over 16 KiB gets 431.

This module is the bottom of the package: it imports nothing of the lab.
"""

from __future__ import annotations

import re
from urllib.parse import quote

MAX_HEAD = 16 * 1024  # h11's default limit; larger heads get 431

# RFC 9110 §5.6.2: a method and a field name are tokens.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: field-value = *( VCHAR / obs-text / SP / HTAB ).  The lab works in
# str holding Latin-1 (one character per byte), so obs-text is U+0080-U+00FF.
FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# RFC 9112 §3.2: the request-target ends at a space; control characters and '#'
# (a fragment is never sent, RFC 9110 §4.2.5) have no place in it, and it is ASCII:
# anything else is percent-encoded (RFC 3986 §2.1).
_BAD_TARGET = re.compile(r"[^\x21-\x22\x24-\x7e]")
# RFC 9110 §7.2 (Host = uri-host [ ":" port ], RFC 3986 §3.2.2-3.2.3): a reg-name,
# an IPv4 address or a bracketed IP literal, then ASCII digits.
HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?",
                  re.ASCII)
_SAFE = "/?=&:;@+$,!~*'()%[]"  # what quote() keeps of a target (RFC 3986 §2.2)
VERSIONS = ("1.0", "1.1", "2", "3")  # what a Request may say it is (ASGI: "2" for HTTP/2)


class BadRequest(ValueError):
    """Bytes (or arguments) that no HTTP server may accept as a request.

    `rule` is the id of the broken rule, `status` the status code a server
    answers with (400, 431, 501, 505, ...).
    """

    def __init__(self, message: str, rule: str = "http.request.malformed", status: int = 400):
        super().__init__(message)
        self.rule = rule
        self.status = status


# -- the field rules, shared by Request(...) and Request.parse --------------------------

# The methods of RFC 9110 §9 and RFC 5789: tokens, so the check below can skip them.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                            "TRACE", "PATCH"})


def check_method(method) -> str:
    if method.__class__ is str and method in _KNOWN_METHODS:
        return method
    if not isinstance(method, str) or not TOKEN.fullmatch(method):
        raise BadRequest(f"{method!r} is not a valid HTTP method: a method is a token, "
                         "letters and a few symbols (RFC 9110 §9.1)")
    return method


def check_target(target) -> str:
    if target == "/" and target.__class__ is str:
        return target
    if not isinstance(target, str) or not target:
        raise BadRequest(f"request-target {target!r} must be a non-empty str starting with '/'",
                         rule="http.request.bad_target")
    if target[0] != "/" and target != "*" and "://" not in target:
        raise BadRequest(f"request-target {target!r} must start with '/' (RFC 9112 §3.2)",
                         rule="http.request.bad_target")
    bad = _BAD_TARGET.search(target)
    if bad:
        char = bad.group()
        if char == "#":
            what = ("a '#fragment': the fragment stays in the browser and is never sent "
                    "(RFC 9110 §4.2.5)")
        elif ord(char) > 0x7E:
            what = (f"{char!r}, which is not ASCII: a URL carries it percent-encoded "
                    f"(RFC 3986 §2.1), e.g. {quote(target, safe=_SAFE)!r}")
        else:
            what = f"{char!r}, a space or control character (RFC 9112 §3.2)"
        raise BadRequest(f"request-target {target!r} contains {what}",
                         rule="http.request.bad_target")
    return target


def check_field(name: str, value: str) -> None:
    if not TOKEN.fullmatch(name):
        raise BadRequest(f"header name {name!r} is not a token (RFC 9110 §5.1)",
                         rule="http.header.bad_name")
    if not FIELD_VALUE.fullmatch(value):
        bad = next(c for c in value if not FIELD_VALUE.fullmatch(c))
        if bad in "\r\n\x00":
            why = "that is how response splitting and smuggling start"
        elif ord(bad) > 0xFF:
            why = ("a header travels as bytes, one per character, and this character has "
                   "no single byte: percent-encode it, or use RFC 8187 for parameters")
        else:
            why = "a field value holds visible characters, spaces and tabs only"
        raise BadRequest(f"header {name!r} has {bad!r} in its value (RFC 9110 §5.5): {why}",
                         rule="http.header.bad_value")
    if name.lower() == "host" and not HOST.fullmatch(value):
        raise BadRequest(f"Host {value!r} is not host[:port] with an ASCII-digit port "
                         "(RFC 9110 §7.2, RFC 9112 §3.2)", rule="http.host.invalid")


def check_version(version) -> str:
    if version not in VERSIONS:
        raise BadRequest(f"http_version {version!r} is not one of {', '.join(VERSIONS)}",
                         rule="http.version.unsupported", status=505)
    return version


# -- raw bytes -----------------------------------------------------------------------

# h11's own words, translated for a learner.  The first matching pattern wins.
_EXPLAIN = [
    (r"conflicting Content-Length", "http.content_length.conflict", 400,
     "two Content-Length headers disagree, so the body length is ambiguous (RFC 9112 §6.3)"),
    (r"bad Content-Length", "http.content_length.invalid", 400,
     "Content-Length must be plain digits, nothing else (RFC 9112 §6.3)"),
    (r"Transfer-Encoding", "http.transfer_encoding.unsupported", 501,
     "only 'chunked' transfer coding is understood here (RFC 9112 §6.1)"),
    (r"illegal header line|illegal request line", "http.request.malformed", 400,
     "a line of the request head is not 'Name: value' (RFC 9112 §5); "
     "no space before the colon, and header names are tokens"),
    (r"peer unexpectedly closed|peer closed connection", "http.request.incomplete", 400,
     "the request ends before its head or body is complete: a blank line ends the head, and "
     "Content-Length says how many body bytes follow (RFC 9112 §6)"),
    (r"Missing mandatory Host", "http.host.missing", 400,
     "an HTTP/1.1 request must carry exactly one Host header (RFC 9112 §3.2)"),
    (r"[Hh]ost", "http.host.invalid", 400,
     "an HTTP/1.1 request must carry exactly one Host header (RFC 9112 §3.2)"),
    (r"exceeds|too large|header size|incomplete event", "http.head.too_large", 431,
     f"the request head is larger than {MAX_HEAD // 1024} KiB (RFC 6585 §5)"),
    (r"chunk", "http.chunked.malformed", 400,
     "the chunked body is malformed: every chunk is 'size CRLF data CRLF' (RFC 9112 §7.1)"),
]

_INCOMPLETE = ("the request ends before its head or body is complete: a blank line ends the "
               "head, and Content-Length says how many body bytes follow (RFC 9112 §6)")
_REQUEST_LINE = re.compile(rb"[^ ]+ [^ ]+ HTTP/([0-9])\.([0-9])")


def _h11():
    # Imported when raw bytes are first parsed, not with the package: `import
    # gateway_lab` stays fast, and Request(...) from keywords never needs it.
    import h11

    return h11


def _explain(error: Exception) -> BadRequest:
    text = str(error)
    for pattern, rule, status, why in _EXPLAIN:
        if re.search(pattern, text):
            return BadRequest(f"{why} [h11: {text}]", rule=rule, status=status)
    status = getattr(error, "error_status_hint", 400)
    return BadRequest(f"the request is not valid HTTP/1.1 [h11: {text}]", status=status)


def _check_head(data: bytes) -> bytes:
    """The checks h11 does not make (see the module docstring); returns the bytes to
    parse (an HTTP/1.2 request line is read as HTTP/1.1, RFC 9110 §2.5)."""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    if len(head) > MAX_HEAD:
        raise BadRequest(
            f"the request head is {len(head)} bytes, over the {MAX_HEAD // 1024} KiB a server "
            "accepts (RFC 6585 §5: 431 Request Header Fields Too Large)",
            rule="http.head.too_large", status=431)
    if re.search(rb"(?<!\r)\n", head):
        raise BadRequest(
            "a line of the request head ends in a bare LF; HTTP/1.1 lines end in CRLF "
            "(RFC 9112 §2.2), and a server and a proxy that disagree on line ends can be "
            "fooled into seeing different requests", rule="http.request.bare_lf")
    lines = head.split(b"\r\n")
    version = _REQUEST_LINE.fullmatch(lines[0])
    if version and version.group(1) != b"1":
        raise BadRequest(
            f"HTTP/{version.group(1).decode()}.{version.group(2).decode()} is not a version of "
            "HTTP/1 (505 HTTP Version Not Supported, RFC 9110 §15.6.6); HTTP/2 never sends a "
            "text request line: it starts with a binary connection preface (RFC 9113 §3.4)",
            rule="http.version.unsupported", status=505)
    if version and version.group(2) not in (b"0", b"1"):
        line = lines[0][:version.start(1)] + b"1.1"
        data = line + data[len(lines[0]):]
        lines[0] = line
    names = set()
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise BadRequest(
                "a header line starts with a space or tab: that is obsolete line folding, "
                "which servers must reject or unfold (RFC 9112 §5.2)",
                rule="http.header.obs_fold",
            )
        name, _, value = line.partition(b":")
        names.add(name.strip().lower())
        value = value.strip(b" \t").decode("latin-1")
        if not FIELD_VALUE.fullmatch(value) or (name.lower() == b"host"
                                                and not HOST.fullmatch(value)):
            try:
                check_field(name.decode("latin-1"), value)
            except BadRequest as error:
                if error.rule == "http.header.bad_name":
                    error = _explain(_h11().RemoteProtocolError("illegal header line"))
                raise error from None
    if b"content-length" in names and b"transfer-encoding" in names:
        raise BadRequest(
            "the request has both Content-Length and Transfer-Encoding: two ways to find the "
            "end of the body, the classic request-smuggling trick (RFC 9112 §6.1)",
            rule="http.smuggling.cl_te",
        )
    return data


def parse_request(data: bytes) -> dict:
    """Parse one complete HTTP/1.x request; its parts as keyword arguments of Request."""
    if not isinstance(data, (bytes, bytearray)):
        raise BadRequest(f"Request.parse takes bytes, not {type(data).__name__}")
    data = _check_head(bytes(data))
    h11 = _h11()
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    try:
        conn.receive_data(data)
        conn.receive_data(b"")  # end of input: a truncated request is an error, not a wait
        head, chunks, current = None, [], b""
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                current += event.data
                if getattr(event, "chunk_end", True):
                    chunks.append(current)
                    current = b""
            elif isinstance(event, h11.EndOfMessage):
                if current:
                    chunks.append(current)
                break
            elif event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                raise BadRequest(_INCOMPLETE, rule="http.request.incomplete")
    except h11.RemoteProtocolError as error:
        raise _explain(error) from None
    rest, _closed = conn.trailing_data
    if rest:
        raise BadRequest(
            f"{len(rest)} bytes follow the end of the request; a server would read them as a "
            "second request, which is how smuggled requests hide (RFC 9112 §6.3)",
            rule="http.smuggling.trailing_bytes",
        )
    return {
        "method": head.method.decode("ascii"),
        "target": check_target(head.target.decode("latin-1")),
        "headers": [(k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in head.headers.raw_items()],
        "chunks": chunks,
        "http_version": head.http_version.decode("ascii"),
    }
