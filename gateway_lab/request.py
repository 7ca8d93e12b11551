"""The protocol-neutral HTTP request every gateway starts from.

A `Request` is what a web server knows after it has read one HTTP/1.1 request
off a socket: a method, a request-target, header fields and a body.  Build one
from keyword arguments, or parse the raw bytes a browser would send with
`Request.parse`, which is as strict as a careful server must be (the rules are
in `_parse.py`, with the sections that state them).

A Request is a value.  Its parts are immutable (`headers` is a tuple of
`(name, value)` pairs, `body` is bytes, `chunks` a tuple), and a change goes
through an assignment that checks it:

    req.headers = {"Accept": "text/html"}      # a dict or a list of pairs; stored as a tuple
    req.body = b"longer body"                  # the Content-Length the lab added follows it
    other = req.replace(method="PUT")          # a variation; req is unchanged

So a trace that recorded the request, and the environ or scope built from it,
can never be changed behind their back: all of them hold the same immutable
parts, and any change makes new ones.
"""

from __future__ import annotations

from collections import namedtuple
from urllib.parse import unquote_to_bytes

from ._parse import (
    BadRequest,
    check_field,
    check_method,
    check_target,
    check_version,
    parse_request,
)

__all__ = ["Request", "BadRequest", "Close"]

# PEP 3333 §Other HTTP Features (after RFC 2616 §13.5.1): fields about one
# connection, which the server handles and the app must not send.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailers", "transfer-encoding", "upgrade"})


class Close(namedtuple("Close", "code reason", defaults=(1000, ""))):
    """A scripted WebSocket client's close frame (see `Request.websocket`).

    `Close(1006)` scripts a peer that vanished: the connection drops with no
    close frame (RFC 6455 §7.1.5: 1006 is never sent, it means "closed
    abnormally"); the app's next send() raises, possibly before it has
    received the disconnect (ASGI WebSocket spec §Send - send event).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Close({self.code})"


# Everything a Request is, as one immutable value (see the module docstring):
#   headers   ((name, value), ...), str holding Latin-1
#   chunks    the body as the client sent it, in pieces
#   client    (host, port); server (host, port)
#   messages  a WebSocket client's script, or None
#   framed    the lab added Content-Length for the body and keeps it in step
_Parts = namedtuple("_Parts", "method target headers body chunks http_version scheme client "
                              "server messages framed")


def _as_pairs(headers) -> tuple:
    """Headers given as a dict or pairs, str or bytes, checked: ((name, value), ...)."""
    if headers is None:
        return ()
    items = headers.items() if hasattr(headers, "items") else headers
    if isinstance(items, (str, bytes)):
        raise BadRequest(f"headers must be a dict or a list of (name, value) pairs, "
                         f"not {type(headers).__name__}")
    pairs = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise BadRequest(f"a header must be a (name, value) pair, got {item!r}") from None
        name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        check_field(name, value)
        pairs.append((name, value))
    return tuple(pairs)


def _first(headers: tuple, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _frame(headers: tuple, body: bytes, framed: bool) -> tuple[tuple, bool]:
    """Headers that frame `body` as a real client would (RFC 9112 §6.2): a body needs
    Content-Length (or chunked Transfer-Encoding).  A Content-Length the lab added
    (`framed`) follows the body; one the caller set is theirs, right or wrong."""
    if framed:
        headers = tuple(h for h in headers if h[0].lower() != "content-length")
    if body and _first(headers, "content-length") is None and \
            _first(headers, "transfer-encoding") is None:
        return headers + (("Content-Length", str(len(body))),), True
    return headers, False


def _with_host(headers: tuple, http_version: str, server: tuple) -> tuple:
    if http_version == "1.1" and _first(headers, "host") is None:
        # RFC 9112 §3.2: an HTTP/1.1 request carries Host; a client puts it first.
        return (("Host", _host_of(server)),) + headers
    return headers


def _host_of(server: tuple) -> str:
    return server[0] if server[1] in (80, 443) else f"{server[0]}:{server[1]}"


_CLIENT = ("127.0.0.1", 50000)  # who sends a Request by default
_SERVER = ("localhost", 80)     # and where it goes


def _address(value, what: str) -> tuple | None:
    if value is None:
        return None
    if value.__class__ is tuple and len(value) == 2 and value[0].__class__ is str \
            and value[1].__class__ is int:
        return value  # already what it must be: the usual case
    try:
        host, port = value
    except (TypeError, ValueError):
        raise BadRequest(f"{what} must be a (host, port) pair, got {value!r}") from None
    return (str(host), int(port))


_new_parts = tuple.__new__  # _Parts(...) without its Python-level __new__: one frame less


class Fields(namedtuple("Fields", "variables dropped host content_type content_length upgrade")):
    """What a gateway reads from a request's headers, found in one pass.

    `variables`: every header as an HTTP_* variable (RFC 3875 §4.1.18; PEP 3333
    takes them over), repeated fields joined into one value (RFC 9110 §5.3).
    Content-Type and Content-Length have variables of their own (the fields
    below), and Transfer-Encoding is left out: the gateway removed that coding
    and passes the body with its length.  `dropped`: names with an underscore,
    which a server drops, since X_Foo and X-Foo would both become HTTP_X_FOO.
    `host`, `content_type`, `content_length`, `upgrade`: those fields' values (or None).
    """

    __slots__ = ()


_VARIABLE_NAMES: dict[str, str] = {}


def _variable_name(name: str) -> str:
    """'X-Color' -> 'HTTP_X_COLOR'.  A pure function of an exact str, remembered for the
    names seen (bounded): what it returns is what computing it again would."""
    if name.__class__ is str:
        key = _VARIABLE_NAMES.get(name)
        if key is not None:
            return key
        key = "HTTP_" + name.upper().replace("-", "_")
        if len(_VARIABLE_NAMES) < 4096:
            _VARIABLE_NAMES[name] = key
        return key
    return "HTTP_" + name.upper().replace("-", "_")


def header_fields(headers: tuple) -> Fields:
    variables: dict[str, str] = {}
    dropped: list[str] = []
    host = content_type = content_length = upgrade = None
    names = _VARIABLE_NAMES
    for name, value in headers:
        if "_" in name:
            dropped.append(name)
            continue
        key = names.get(name) if name.__class__ is str else None
        if key is None:
            key = _variable_name(name)
        if key == "HTTP_CONTENT_TYPE":
            content_type = value if content_type is None else f"{content_type}, {value}"
            continue
        if key == "HTTP_CONTENT_LENGTH":
            content_length = value if content_length is None else f"{content_length}, {value}"
            continue
        if key == "HTTP_TRANSFER_ENCODING":
            continue
        if key == "HTTP_HOST":
            host = value if host is None else f"{host}, {value}"
        elif key == "HTTP_UPGRADE":
            upgrade = value
        if key in variables:
            variables[key] += ("; " if key == "HTTP_COOKIE" else ", ") + value
        else:
            variables[key] = value
    return _new_parts(Fields, (variables, dropped, host, content_type, content_length, upgrade))


def host_and_port(value: str | None, parts: _Parts) -> tuple[str, int]:
    """(name, port) from a Host value (RFC 9110 §7.2), else the server's own address."""
    if not value:
        return parts.server
    if value[0] == "[":  # an IPv6 literal keeps its brackets (RFC 3986 §3.2.2)
        end = value.find("]") + 1
        name, port = value[:end], value[end + 1:]
    else:
        name, _, port = value.partition(":")
    # Host was checked: a port is ASCII digits (int() would also take '²' or '٣').
    if port:
        return name, int(port)
    return name, 443 if parts.scheme in ("https", "wss") else 80


def _rebuilt(parts: _Parts) -> Request:
    request = Request.__new__(Request)
    request._parts = parts
    request._memo = None
    return request


class Request:
    """One HTTP request, before any gateway has touched it.

    >>> Request("POST", "/items?x=1", headers={"Content-Type": "text/plain"}, body=b"hi")
    <Request POST /items?x=1>
    """

    __slots__ = ("_parts", "_memo", "__weakref__")

    def __init__(
        self,
        method: str = "GET",
        target: str = "/",
        headers=None,
        body: bytes | str = b"",
        *,
        http_version: str = "1.1",
        scheme: str = "http",
        client: tuple[str, int] | None = _CLIENT,
        server: tuple[str, int] = _SERVER,
        chunks=None,
        messages=None,
    ):
        if chunks is not None:
            chunks = tuple(bytes(c) for c in chunks)
            body = b"".join(chunks)
        else:
            if body.__class__ is not bytes:
                body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            chunks = (body,) if body else ()
        if server is not _SERVER:
            server = _address(server, "server")
        if http_version != "1.1":
            http_version = check_version(http_version)
        if headers is None and not body and http_version == "1.1":
            # The usual GET: only the Host a client adds.
            headers, framed = (("Host", _host_of(server)),), False
        else:
            headers, framed = _frame(_as_pairs(headers), body, False)
            headers = _with_host(headers, http_version, server)
        self._parts = _new_parts(_Parts, (
            check_method(method), check_target(target), headers, body, chunks, http_version,
            scheme if scheme.__class__ is str else str(scheme),
            client if client is _CLIENT else _address(client, "client"),
            server, None if messages is None else tuple(messages), framed))
        self._memo = None

    # -- the parts, each read as is and changed only through a check ---------------------
    method = property(lambda self: self._parts.method,
                      lambda self, value: self._change(method=check_method(value)))
    target = property(lambda self: self._parts.target,
                      lambda self, value: self._change(target=check_target(value)))
    http_version = property(lambda self: self._parts.http_version,
                            lambda self, value: self._change(http_version=check_version(value)))
    scheme = property(lambda self: self._parts.scheme,
                      lambda self, value: self._change(scheme=str(value)))
    client = property(lambda self: self._parts.client,
                      lambda self, value: self._change(client=_address(value, "client")))
    server = property(lambda self: self._parts.server,
                      lambda self, value: self._change(server=_address(value, "server")))
    headers = property(lambda self: self._parts.headers)
    body = property(lambda self: self._parts.body)
    chunks = property(lambda self: self._parts.chunks)
    messages = property(lambda self: self._parts.messages)

    @headers.setter
    def headers(self, value) -> None:
        parts = self._parts
        headers, framed = _frame(_as_pairs(value), parts.body, False)
        self._change(headers=_with_host(headers, parts.http_version, parts.server),
                     framed=framed)

    @body.setter
    def body(self, value) -> None:
        body = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        self._set_body(body, (body,) if body else ())

    @chunks.setter
    def chunks(self, value) -> None:
        chunks = tuple(bytes(c) for c in value)
        self._set_body(b"".join(chunks), chunks)

    @messages.setter
    def messages(self, value) -> None:
        self._change(messages=None if value is None else tuple(value))

    def _set_body(self, body: bytes, chunks: tuple) -> None:
        headers, framed = _frame(self._parts.headers, body, self._parts.framed)
        self._change(body=body, chunks=chunks, headers=headers, framed=framed)

    def _change(self, **changes) -> None:
        self._parts = self._parts._replace(**changes)  # new parts: every memo of the old is stale

    def replace(self, **changes) -> Request:
        """A copy of this request with `changes` (any of the constructor's keywords)."""
        request = _rebuilt(self._parts)
        for name, value in changes.items():
            if name not in _Parts._fields or name == "framed":
                raise TypeError(f"Request.replace() got an unexpected keyword {name!r}")
            setattr(request, name, value)
        return request

    @property
    def parts(self) -> _Parts:
        """All of the request as one immutable value: what a trace records."""
        return self._parts

    @classmethod
    def from_parts(cls, parts: _Parts) -> Request:
        """The request that `parts` (see `.parts`) describes."""
        return _rebuilt(parts)

    def __reduce__(self):
        return _rebuilt, (self._parts,)  # a pickled copy starts without a memo

    # -- views a gateway needs -------------------------------------------------------
    def header(self, name: str) -> str | None:
        """The value of header `name` (case-insensitive); repeated fields joined by ", "."""
        name = name.lower()
        values = [v for k, v in self._parts.headers if k.lower() == name]
        return ", ".join(values) if values else None

    @property
    def framed_by_lab(self) -> bool:
        """True when the lab added Content-Length for the body (and keeps it right)."""
        return self._parts.framed

    @property
    def _path(self) -> str:
        path = self._parts.target.split("?", 1)[0]
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
        return unquote_to_bytes(self.raw_path)

    def fields(self) -> Fields:
        """What a gateway reads from the headers, in one pass (see `Fields`)."""
        return header_fields(self._parts.headers)

    def http_variables(self, skip=frozenset()) -> tuple[dict[str, str], list[str]]:
        """Every header as an HTTP_* variable (RFC 3875 §4.1.18; PEP 3333 takes them
        over), for CGI's environment and WSGI's environ alike, and the names of
        the headers a server must drop (the caller records why); see `Fields`.
        A name in `skip` (lower-case) is left out too."""
        fields = header_fields(self._parts.headers)
        if not skip:
            return fields.variables, fields.dropped
        left_out = {_variable_name(name) for name in skip}
        return ({k: v for k, v in fields.variables.items() if k not in left_out},
                fields.dropped)

    def memo(self, key, make, *args):
        """`make(*args)`, computed once per `key` for these parts of the request.

        An exercise check may send one Request many times, and a gateway would
        build the same environ or scope from it every time.  The memo belongs
        to the request's parts, which are immutable: a change to the request
        makes new parts, and the memo starts over, so a remembered value is
        always the one `make` would return now.
        """
        memo = self._memo
        if memo is None or memo[0] is not self._parts:
            memo = self._memo = (self._parts, {})
        values = memo[1]
        value = values.get(key)
        if value is None:
            value = values[key] = make(*args)
        return value

    @property
    def query_string(self) -> str:
        """What follows '?', still percent-encoded; "" if there is none (RFC 3875 §4.1.7)."""
        return self._parts.target.partition("?")[2]

    @property
    def host(self) -> tuple[str, int]:
        """(name, port) the client addressed, from Host, else the server's own."""
        return host_and_port(self.header("host"), self._parts)

    @property
    def is_websocket(self) -> bool:
        return (self.header("upgrade") or "").lower() == "websocket"

    def __repr__(self) -> str:
        return f"<Request {self._parts.method} {self._parts.target}>"

    # -- constructors ------------------------------------------------------------------
    @classmethod
    def websocket(cls, target: str = "/", messages=(), *, subprotocols=(), headers=None, **kw):
        """A WebSocket handshake plus a script of what the client sends after it.

        `messages` holds str (a text frame), bytes (a binary frame), a number
        (the client waits that many seconds before its next frame, listening
        meanwhile) and optionally `Close(code)`; when the script runs out the
        client closes with 1000.  `Close(1006)` is a client that vanished.
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
        return cls(**parse_request(data), **kw)

    def to_bytes(self) -> bytes:
        """The request as it would travel on the wire (HTTP/1.1, Content-Length framing)."""
        parts = self._parts
        lines = [f"{parts.method} {parts.target} HTTP/{parts.http_version}"]
        lines += [f"{k}: {v}" for k, v in parts.headers]
        head = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
        if (self.header("transfer-encoding") or "").lower() == "chunked":
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in parts.chunks if c)
            return head + body + b"0\r\n\r\n"
        return head + parts.body
