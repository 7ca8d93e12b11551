"""What SCGI, FastCGI and uwsgi share: CGI variables on the way in, a CGI-style
response on the way out.

All three protocols carry the same thing a CGI server puts in a child's
environment (RFC 3875 §4.1): REQUEST_METHOD, QUERY_STRING, CONTENT_LENGTH,
HTTP_* for the request headers, and so on.  Only the framing differs.  So
this module holds:

* `cgi_vars(request)`: the variables a front end such as nginx sends for a
  request (the same names as nginx's scgi_params / fastcgi_params /
  uwsgi_params files), and `variables_and_body`, what every encoder starts
  from;
* `request_from_vars(vars, body)`: the way back, so the lab's app servers can
  run what they received through the in-process engine;
* `encode_cgi_response` / `decode_cgi_response`: the "Status: 200 OK" style
  reply an app server writes (RFC 3875 §6), which SCGI and uwsgi send as is
  and FastCGI wraps in STDOUT records;
* `Field`, the unit of `explain(data)`: which bytes mean what, for a viewer
  that highlights them, and `decimal`, the one check for a number in the
  bytes (so a bad one is a WireError, never a ValueError from int());
* `Frame`, the answer of each protocol's `frame(data)`: where the first
  request in the bytes read so far ends, so a server can read requests
  without blocking a thread per connection (`read_framed` for a blocking
  stream).

Names and values travel as bytes; like WSGI's "native strings" (PEP 3333
§Unicode Issues) they become str one byte per character (Latin-1), so every
byte value survives the round trip.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote

from ..exchange import Response, reason_phrase
from ..findings import clip
from ..request import BadRequest, Request
from ..trace import Trace
from ..wsgi import build_environ


class WireError(ValueError):
    """Bytes that are not a valid message of the protocol (malformed or cut short)."""


class Frame(NamedTuple):
    """How far one request reaches in the bytes read so far (a server's framing step,
    made without I/O: it only looks at bytes).

    `complete`: the request is `size` bytes long; else at least `size` bytes are
    needed before it is worth asking again.  `body` is the body's size as soon
    as the head says it, so a server can refuse a large one before reading it.
    """

    size: int
    complete: bool
    body: int | None = None


def read_framed(stream, frame, what: str, max_body: int | None = None) -> bytes:
    """One whole request from a blocking binary stream, read as `frame(data)` directs;
    WireError for a body over `max_body` bytes, before it is read."""
    data = b""
    while True:
        found = frame(data)
        if max_body is not None and found.body is not None and found.body > max_body:
            raise WireError(f"the body is {found.body} bytes, more than this lab server "
                            f"accepts ({max_body} bytes)")
        if found.complete and len(data) >= found.size:
            return data
        data += read_exact(stream, found.size - len(data), what if data else
                           f"the start of {what}")


class Field(NamedTuple):
    """One field of a message: `length` bytes at `offset` mean `label` = `value`."""

    offset: int
    length: int
    label: str
    value: object


def decimal(text: str | bytes) -> int | None:
    """The number `text` spells in ASCII digits, or None.

    str.isdigit() alone is not enough: it is True for '²' and other Latin-1
    digits that int() then refuses with a ValueError.
    """
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None


def latin1(text: str, what: str) -> bytes:
    """str -> bytes, one byte per character, or a WireError that says which field."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise WireError(f"{what} {text!r} has characters outside Latin-1; the wire carries "
                        "bytes, so encode them first (PEP 3333 §Unicode Issues)") from None


def check_vars(vars: dict) -> dict[str, str]:
    """The variables as a dict of str, or a WireError naming the bad one."""
    out = {}
    for name, value in vars.items():
        if not isinstance(name, str) or not name:
            raise WireError(f"a variable name must be a non-empty str, got {name!r}")
        if not isinstance(value, str):
            raise WireError(f"the value of {name} must be a str, not {type(value).__name__}")
        out[name] = value
    return out


def cgi_vars(request: Request, trace: Trace | None = None, **extra: str) -> dict[str, str]:
    """The variables nginx's *_params files send for `request`, plus `extra`.

    They are the str values of the WSGI environ (`gateway_lab.wsgi.build_environ`,
    the same RFC 3875 §4.1 rules), without SCRIPT_NAME (the app is mounted at
    the root), plus REQUEST_SCHEME and HTTPS, which nginx adds.  A header with
    an underscore is dropped, with a finding in `trace` when one is given.
    """
    environ = build_environ(request, trace if trace is not None else Trace("wsgi"))
    out = {key: value for key, value in environ.items()  # the CGI ones, not wsgi.*
           if key.isupper() and key != "SCRIPT_NAME"}
    out["REQUEST_SCHEME"] = request.scheme
    if request.scheme == "https":
        out["HTTPS"] = "on"
    out.update(extra)
    return out


def variables_and_body(request: Request | dict, body: bytes | None, extra: dict,
                       trace: Trace | None = None) -> tuple[dict[str, str], bytes]:
    """What every encoder starts from: the variables (of a Request, or a dict, updated
    with `extra`) and the body as bytes.

    CONTENT_LENGTH comes first whenever there is a body: it is the only way
    the receiver knows where the body ends.  One that disagrees with the body
    is a WireError.
    """
    if isinstance(request, Request):
        variables = cgi_vars(request, trace)
        body = request.body if body is None else body
    else:
        variables = dict(request)
    variables.update(extra)
    body = bytes(body or b"")
    variables = check_vars(variables)
    declared = variables.pop("CONTENT_LENGTH", None)
    if declared not in (None, "") and declared != str(len(body)):
        raise WireError(f"CONTENT_LENGTH is {declared!r} but the body is {len(body)} bytes")
    if body or declared:
        variables = {"CONTENT_LENGTH": str(len(body)), **variables}
    return variables, body


def _number(text: str | None, default: int) -> int:
    value = decimal(text or "")
    return default if value is None else value


def _header_name(key: str) -> str:
    # HTTP_X_FORWARDED_FOR -> X-Forwarded-For: the case is lost on the way
    # (RFC 3875 §4.1.18 upper-cases it), and HTTP does not care (RFC 9110 §5.1).
    return "-".join(part.capitalize() for part in key[5:].split("_"))


def request_from_vars(vars: dict[str, str], body: bytes = b"") -> tuple[Request, str]:
    """Rebuild the HTTP request a front end received: (Request, script_name).

    The target is REQUEST_URI (the bytes the client sent, still
    percent-encoded) when the front end passes it, else it is rebuilt from
    SCRIPT_NAME, PATH_INFO and QUERY_STRING.

    `script_name` is where the app is mounted.  It is SCRIPT_NAME only when the
    front end also sent PATH_INFO: nginx's stock fastcgi_params set SCRIPT_NAME
    to the *whole* path and send no PATH_INFO, and a WSGI app mounted there
    would see PATH_INFO == "" for every URL.
    """
    method = vars.get("REQUEST_METHOD")
    if not method:
        raise WireError("the request has no REQUEST_METHOD (RFC 3875 §4.1.12 requires it)")
    script = vars.get("SCRIPT_NAME", "")
    target = vars.get("REQUEST_URI") or (
        quote(script + vars.get("PATH_INFO", ""), safe="/;:@&=+$,!~*'()")
        + ("?" + vars["QUERY_STRING"] if vars.get("QUERY_STRING") else ""))
    headers = []
    for key, value in vars.items():
        if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            continue  # nginx's SCGI also sends these; CONTENT_TYPE/_LENGTH are what count
        if key.startswith("HTTP_") and len(key) > 5:
            headers.append((_header_name(key), value))
        elif key == "CONTENT_TYPE" and value:
            headers.append(("Content-Type", value))
        elif key == "CONTENT_LENGTH" and value and value != "0":
            headers.append(("Content-Length", value))
    scheme = vars.get("REQUEST_SCHEME") or (
        "https" if vars.get("HTTPS", "").lower() in ("on", "1") else "http")
    protocol = vars.get("SERVER_PROTOCOL", "HTTP/1.1")
    version = protocol[5:] if protocol.startswith("HTTP/") else "1.1"
    client = None
    if vars.get("REMOTE_ADDR"):
        client = (vars["REMOTE_ADDR"], _number(vars.get("REMOTE_PORT"), 0))
    server = (vars.get("SERVER_NAME") or "localhost", _number(vars.get("SERVER_PORT"), 80))
    try:
        request = Request(method, target or "/", headers, body, http_version=version,
                          scheme=scheme, client=client, server=server)
    except BadRequest as error:
        raise WireError(f"the variables do not make an HTTP request: {error}") from None
    mounted = script if "PATH_INFO" in vars and request.path_bytes.decode(
        "latin-1").startswith(script) else ""
    return request, mounted


# -- the reply: a CGI response (RFC 3875 §6) ------------------------------------------

def encode_cgi_response(response: Response) -> bytes:
    """`Status: 200 OK`, the header lines, an empty line, the body (RFC 3875 §6.2-6.3).

    A front end turns this into an HTTP status line; nginx's scgi, uwsgi and
    fastcgi modules all read it this way.
    """
    reason = response.reason or reason_phrase(response.status)
    lines = [f"Status: {response.status} {reason}".rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers]
    head = "\r\n".join(lines) + "\r\n\r\n"
    return latin1(head, "a response header") + response.body


def decode_cgi_response(data: bytes) -> Response:
    """Parse a CGI-style (or full HTTP/1.x) response: the inverse of encode_cgi_response.

    RFC 3875 §6.3: lines may end in LF alone; without a Status field the
    status is 302 when there is a Location, else 200.
    """
    end, sep = data.find(b"\r\n\r\n"), 4
    bare = data.find(b"\n\n")
    if end < 0 or (0 <= bare < end):
        end, sep = bare, 2
    if end < 0:
        raise WireError("the response has no empty line ending its header fields "
                        "(RFC 3875 §6.2)")
    lines = data[:end].decode("latin-1").replace("\r\n", "\n").split("\n")
    status, reason = None, ""
    if lines and lines[0].startswith("HTTP/"):  # an NPH-style status line (RFC 3875 §5)
        parts = lines.pop(0).split(" ", 2)
        status, reason = _status(" ".join(parts[1:]))
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise WireError(f"response header line {line!r} is not 'Name: value' "
                            "(RFC 3875 §6.3)")
        if name.lower() == "status":
            status, reason = _status(value.strip())
        else:
            headers.append((name, value.strip()))
    if status is None:
        status = 302 if any(n.lower() == "location" for n, _ in headers) else 200
    return Response(status, headers, data[end + sep:], reason=reason or reason_phrase(status))


def _status(text: str) -> tuple[int, str]:
    code, _, reason = text.partition(" ")
    if len(code) != 3 or decimal(code) is None:
        raise WireError(f"status {text!r} does not start with a 3-digit code (RFC 3875 §6.3.3)")
    return int(code), reason


# -- reading from a socket and tracing ---------------------------------------------

def read_exact(stream, size: int, what: str) -> bytes:
    """Exactly `size` bytes from a blocking binary stream, or a WireError."""
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise WireError(f"the connection closed after {len(data)} of the {size} bytes of "
                        f"{what}")
    return data


def trace_fields(trace: Trace | None, fields: list[Field], *, actor: str, target: str,
                 spec: str, kind: str = "wire") -> None:
    """One trace event per field, with `data` = {offset, length, label, value}."""
    if trace is None:
        return
    for f in fields:
        trace.add(actor, kind, f"{f.label} = {clip(f.value, 60)}", spec, target=target,
                  data={"offset": f.offset, "length": f.length, "label": f.label,
                        "value": f.value})


def traced_request(data: bytes, trace: Trace | None, explain, spec: str) -> bytes:
    """What an encoder returns: `data`, after one "wire" event per field if `trace`."""
    if trace is not None:
        trace_fields(trace, explain(data), actor="server", target="gateway", spec=spec)
    return data


def read_fields(trace: Trace | None, fields: list[Field], spec: str) -> None:
    """The decoder's side: one "wire read" event per field, from the gateway to the app."""
    trace_fields(trace, fields, actor="gateway", target="app", spec=spec, kind="wire read")
