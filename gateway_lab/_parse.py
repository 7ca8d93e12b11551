"""Raw HTTP/1.1 bytes -> Request, with h11 doing the parsing.

h11 is strict, but on two points it is lenient where a teaching lab should not
be, so those two are checked first, on the header block itself:

* obs-fold (a header line starting with a space or tab): h11 unfolds it;
  RFC 9112 §5.2 lets a server reject it with 400, and we do.
* Content-Length together with Transfer-Encoding: h11 lets Transfer-Encoding
  win; RFC 9112 §6.1 calls this a smuggling attempt that must at least close
  the connection, and we reject it.
"""

from __future__ import annotations

import re

import h11

from .request import BadRequest

MAX_HEAD = 16 * 1024  # h11's default limit; larger heads get 431

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


def _explain(error: Exception) -> BadRequest:
    text = str(error)
    for pattern, rule, status, why in _EXPLAIN:
        if re.search(pattern, text):
            return BadRequest(f"{why} [h11: {text}]", rule=rule, status=status)
    status = getattr(error, "error_status_hint", 400)
    return BadRequest(f"the request is not valid HTTP/1.1 [h11: {text}]", status=status)


def _check_head(data: bytes) -> None:
    """The checks h11 does not make (see the module docstring)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        end = data.find(b"\n\n")
    head = data if end < 0 else data[:end]
    if len(head) > MAX_HEAD:
        raise BadRequest(
            f"the request head is {len(head)} bytes, over the {MAX_HEAD // 1024} KiB a server "
            "accepts (RFC 6585 §5: 431 Request Header Fields Too Large)",
            rule="http.head.too_large", status=431)
    lines = re.split(rb"\r?\n", head)
    names = set()
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise BadRequest(
                "a header line starts with a space or tab: that is obsolete line folding, "
                "which servers must reject or unfold (RFC 9112 §5.2)",
                rule="http.header.obs_fold",
            )
        names.add(line.partition(b":")[0].strip().lower())
    if b"content-length" in names and b"transfer-encoding" in names:
        raise BadRequest(
            "the request has both Content-Length and Transfer-Encoding: two ways to find the "
            "end of the body, the classic request-smuggling trick (RFC 9112 §6.1)",
            rule="http.smuggling.cl_te",
        )


def parse_request(cls, data: bytes, **kw):
    if not isinstance(data, (bytes, bytearray)):
        raise BadRequest(f"Request.parse takes bytes, not {type(data).__name__}")
    data = bytes(data)
    _check_head(data)
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
                raise BadRequest(
                    "the request ends before its head or body is complete: a blank line ends "
                    "the head, and Content-Length says how many body bytes follow (RFC 9112 §6)",
                    rule="http.request.incomplete",
                )
    except h11.RemoteProtocolError as error:
        raise _explain(error) from None
    rest, _closed = conn.trailing_data
    if rest:
        raise BadRequest(
            f"{len(rest)} bytes follow the end of the request; a server would read them as a "
            "second request, which is how smuggled requests hide (RFC 9112 §6.3)",
            rule="http.smuggling.trailing_bytes",
        )
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers.raw_items()]
    return cls(
        head.method.decode("ascii"),
        head.target.decode("latin-1"),
        headers,
        chunks=chunks,
        http_version=head.http_version.decode("ascii"),
        **kw,
    )
