"""The protocol-neutral HTTP request every gateway starts from.

A `Request` is what a web server knows after it has read one HTTP/1.1 request
off a socket: a method, a request-target, header fields and a body.  You can
build one from keyword arguments, or parse the raw bytes a browser would send
with `Request.parse`, which is as strict as a careful server must be:

* RFC 9112 §6.1: Content-Length and Transfer-Encoding together are a request
  smuggling hazard; we reject them (a server MAY process it, but then MUST
  close the connection, and a lab has no reason to be lenient).
* RFC 9112 §6.3: conflicting or malformed Content-Length is a 400.
* RFC 9112 §5.2: obsolete line folding is a 400 (h11 would unfold it).
* RFC 9110 §5.5: CR, LF and NUL in a field value are rejected.
* RFC 9112 §3.2: HTTP/1.1 needs exactly one Host header.

The parsing itself is done by h11 (no hand-written HTTP parser here); the
checks h11 does not make are made before it sees the bytes.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

__all__ = ["Request", "BadRequest", "Close"]

# RFC 9110 §5.6.2: a field name is a token.
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 §5.5: field values must not contain CR, LF or NUL.
_BAD_VALUE = re.compile(r"[\r\n\x00]")
# RFC 9112 §3.2: a space ends the request-target; CR, LF or NUL in it would split the request.
_BAD_TARGET = re.compile(r"[ \r\n\x00]")


class BadRequest(ValueError):
    """Bytes (or arguments) that no HTTP server may accept as a request.

    `rule` is the id of the broken rule, `status` the status code a server
    answers with (400, 431, 501, ...).
    """

    def __init__(self, message: str, rule: str = "http.request.malformed", status: int = 400):
        super().__init__(message)
        self.rule = rule
        self.status = status


# PEP 3333 §Other HTTP Features (after RFC 2616 §13.5.1): fields about one
# connection, which the server handles and the app must not send.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailers", "transfer-encoding", "upgrade"})
_OWN_VARIABLES = frozenset({"content-type", "content-length", "transfer-encoding"})


class Close:
    """A scripted WebSocket client's close frame (see `Request.websocket`)."""

    def __init__(self, code: int = 1000, reason: str = ""):
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"Close({self.code})"


def _as_pairs(headers) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    pairs = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise BadRequest(f"a header must be a (name, value) pair, got {item!r}") from None
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        pairs.append((str(name), str(value)))
    return pairs


class Request:
    """One HTTP request, before any gateway has touched it.

    >>> Request("POST", "/items?x=1", headers={"Content-Type": "text/plain"}, body=b"hi")
    <Request POST /items?x=1>
    """

    # The fields live in __dict__ as usual; the memo (see memo()) is kept beside
    # them, so that "have the fields changed?" is one comparison of two dicts.
    __slots__ = ("_memo", "__dict__", "__weakref__")

    def __init__(
        self,
        method: str = "GET",
        target: str = "/",
        headers=None,
        body: bytes | str = b"",
        *,
        http_version: str = "1.1",
        scheme: str = "http",
        client: tuple[str, int] | None = ("127.0.0.1", 50000),
        server: tuple[str, int] = ("localhost", 80),
        chunks: list[bytes] | None = None,
        messages: list | None = None,
    ):
        if isinstance(body, str):
            body = body.encode("utf-8")
        if chunks is not None:
            chunks = [bytes(c) for c in chunks]
            body = b"".join(chunks)
        if not isinstance(method, str) or not _TOKEN.match(method.encode("latin-1", "replace")):
            raise BadRequest(f"{method!r} is not a valid HTTP method (RFC 9110 §9.1)")
        if not target or (target[0] != "/" and target != "*" and "://" not in target):
            raise BadRequest(
                f"request-target {target!r} must start with '/' (RFC 9112 §3.2)",
                rule="http.request.bad_target",
            )
        if _BAD_TARGET.search(target):
            raise BadRequest(f"request-target {target!r} contains a space or control character",
                             rule="http.request.bad_target")
        self.method = method
        self.target = target
        self.headers = _as_pairs(headers)
        for name, value in self.headers:
            if not _TOKEN.match(name.encode("latin-1", "replace")):
                raise BadRequest(f"header name {name!r} is not a token (RFC 9110 §5.1)",
                                 rule="http.header.bad_name")
            if _BAD_VALUE.search(value):
                raise BadRequest(
                    f"header {name!r} has CR, LF or NUL in its value (RFC 9110 §5.5); "
                    "that is how response splitting and smuggling start",
                    rule="http.header.bad_value",
                )
        self.body = bytes(body)
        self.chunks = chunks if chunks is not None else ([self.body] if self.body else [])
        self.http_version = http_version
        self.scheme = scheme
        self.client = client
        self.server = server
        self.messages = list(messages) if messages is not None else None
        if self.body and self.header("content-length") is None and self.header(
                "transfer-encoding") is None:
            # A real client always frames a body (RFC 9112 §6.2).
            self.headers.append(("Content-Length", str(len(self.body))))
        if self.header("host") is None and http_version == "1.1":
            host = server[0] if server[1] in (80, 443) else f"{server[0]}:{server[1]}"
            self.headers.insert(0, ("Host", host))

    # -- views a gateway needs -------------------------------------------
    def header(self, name: str) -> str | None:
        """The value of header `name` (case-insensitive); repeated fields joined by ", "."""
        name = name.lower()
        values = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(values) if values else None

    @property
    def _path(self) -> str:
        path = self.target.split("?", 1)[0]
        if not path.startswith("/") and "://" in path:
            # absolute-form (RFC 9112 §3.2.2), "http://host/path?q": the path is after
            # the authority.
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path

    @property
    def raw_path(self) -> bytes:
        """The path part of the target, still percent-encoded, as bytes."""
        return self._path.encode("latin-1")

    @property
    def path_bytes(self) -> bytes:
        """The path, percent-decoded, as bytes (what both WSGI and ASGI start from)."""
        return unquote_to_bytes(self._path)

    def http_variables(self, skip=frozenset()) -> tuple[dict[str, str], list[str]]:
        """Every header as an HTTP_* variable (RFC 3875 §4.1.18; PEP 3333 takes them
        over), for CGI's environment and WSGI's environ alike, and the names of
        the headers a server must drop (the caller records why).

        Content-Type and Content-Length have variables of their own; a name in
        `skip` (lower-case) is left out.  Transfer-Encoding is left out too: the
        gateway removed that coding and passes the body with its length.
        """
        out: dict[str, str] = {}
        dropped: list[str] = []
        for name, value in self.headers:
            lower = name.lower()
            if lower in _OWN_VARIABLES or lower in skip:
                continue
            if "_" in name:
                # X_Foo and X-Foo would both become HTTP_X_FOO: a spoofing hazard.
                dropped.append(name)
                continue
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in out:  # repeated fields become one value, same meaning (RFC 9110 §5.3)
                out[key] += ("; " if key == "HTTP_COOKIE" else ", ") + value
            else:
                out[key] = value
        return out, dropped

    def memo(self, key, make, *args):
        """`make(*args)`, computed once per `key` for as long as this request is unchanged.

        An exercise check sends the same Request thousands of times, and a
        gateway would build the same environ or scope from it every time.
        Treat a Request as a value; should one of its fields change anyway (even
        a header changed in place), the memo notices and starts over.
        """
        try:
            fields, values = self._memo
        except AttributeError:  # the first memo of this request
            fields = None
        if fields != self.__dict__:
            fields = self.__dict__.copy()
            fields["headers"] = list(self.headers)  # a copy: the list may change in place
            values = {}
            self._memo = (fields, values)
        value = values.get(key)
        if value is None:
            value = values[key] = make(*args)
        return value

    def __getstate__(self):
        return self.__dict__  # a copy (pickled for a worker process) starts without a memo

    @property
    def query_string(self) -> str:
        """What follows '?', still percent-encoded; "" if there is none (RFC 3875 §4.1.7)."""
        return self.target.partition("?")[2]

    @property
    def host(self) -> tuple[str, int]:
        """(name, port) the client addressed, from Host, else the server's own."""
        value = self.header("host")
        default = 443 if self.scheme == "https" else 80
        if not value:
            return self.server
        if value.startswith("["):  # an IPv6 literal keeps its brackets (RFC 3986 §3.2.2)
            end = value.find("]") + 1
            name, port = value[:end], value[end + 1:]
        else:
            name, _, port = value.partition(":")
        return name, int(port) if port.isdigit() else default

    @property
    def is_websocket(self) -> bool:
        return (self.header("upgrade") or "").lower() == "websocket"

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target}>"

    # -- constructors ------------------------------------------------------
    @classmethod
    def websocket(cls, target: str = "/", messages=(), *, subprotocols=(), headers=None, **kw):
        """A WebSocket handshake plus a script of what the client sends after it.

        `messages` holds str (a text frame), bytes (a binary frame), a number
        (the client waits that many seconds before its next frame, listening
        meanwhile) and optionally `Close(code)`; when the script runs out the
        client closes with 1000.
        """
        hdrs = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ]
        if subprotocols:
            hdrs.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
        hdrs += _as_pairs(headers)
        return cls("GET", target, hdrs, messages=list(messages), **kw)

    @classmethod
    def parse(cls, data: bytes, **kw) -> Request:
        """Parse one complete HTTP/1.x request from `data`; raise `BadRequest` if a
        server must refuse it."""
        from ._parse import parse_request

        return parse_request(cls, data, **kw)

    def to_bytes(self) -> bytes:
        """The request as it would travel on the wire (HTTP/1.1, Content-Length framing)."""
        lines = [f"{self.method} {self.target} HTTP/{self.http_version}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        head = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
        if (self.header("transfer-encoding") or "").lower() == "chunked":
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in self.chunks if c) + b"0\r\n\r\n"
            return head + body
        return head + self.body
