"""What SCGI, FastCGI and uwsgi share: CGI variables on the way in, a CGI-style
response on the way out.

All three protocols carry the same thing a CGI server puts in a child's
environment (RFC 3875 §4.1): REQUEST_METHOD, QUERY_STRING, CONTENT_LENGTH,
HTTP_* for the request headers, and so on.  Only the framing differs.  So
this module holds:

* `cgi_vars(request)`: the variables a front end such as nginx sends for a
  request (the same names as nginx's scgi_params / fastcgi_params /
  uwsgi_params files);
* `request_from_vars(vars, body)`: the way back, so the lab's app servers can
  run what they received through the in-process engine;
* `encode_cgi_response` / `decode_cgi_response`: the "Status: 200 OK" style
  reply an app server writes (RFC 3875 §6), which SCGI and uwsgi send as is
  and FastCGI wraps in STDOUT records;
* `Field`, the unit of `explain(data)`: which bytes mean what, for a viewer
  that highlights them.

Names and values travel as bytes; like WSGI's "native strings" (PEP 3333
§Unicode Issues) they become str one byte per character (Latin-1), so every
byte value survives the round trip.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote

from ..exchange import Response, reason_phrase
from ..request import BadRequest, Request
from ..trace import Trace


class WireError(ValueError):
    """Bytes that are not a valid message of the protocol (malformed or cut short)."""


class Field(NamedTuple):
    """One field of a message: `length` bytes at `offset` mean `label` = `value`."""

    offset: int
    length: int
    label: str
    value: object


def latin1(text: str, what: str) -> bytes:
    """str -> bytes, one byte per character, or a WireError that says which field."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise WireError(f"{what} {text!r} has characters outside Latin-1; the wire carries "
                        "bytes, so encode them first (PEP 3333 §Unicode Issues)") from None
    except AttributeError:
        raise WireError(f"{what} must be a str, not {type(text).__name__}") from None


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


def cgi_vars(request: Request, **extra: str) -> dict[str, str]:
    """The variables nginx's *_params files send for `request`, plus `extra`.

    CONTENT_LENGTH and CONTENT_TYPE are set only when the request has them
    (RFC 3875 §4.1.2, §4.1.3); each protocol's encoder adds CONTENT_LENGTH
    where its framing needs it.
    """
    path = request.path_bytes.decode("latin-1")
    host, port = request.host
    out: dict[str, str] = {}
    if request.body:
        out["CONTENT_LENGTH"] = str(len(request.body))
    content_type = request.header("content-type")
    if content_type is not None:
        out["CONTENT_TYPE"] = content_type
    out.update({
        "REQUEST_METHOD": request.method,
        "REQUEST_URI": request.target,
        "QUERY_STRING": request.query_string,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": f"HTTP/{request.http_version}",
        "REQUEST_SCHEME": request.scheme,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
    })
    if request.scheme == "https":
        out["HTTPS"] = "on"
    if request.client:
        out["REMOTE_ADDR"] = request.client[0]
        out["REMOTE_PORT"] = str(request.client[1])
    for name, value in request.headers:
        if name.lower() in ("content-type", "content-length") or "_" in name:
            continue  # RFC 3875 §4.1.18: not as HTTP_*; X_Foo would spoof X-Foo
        key = "HTTP_" + name.upper().replace("-", "_")
        sep = "; " if key == "HTTP_COOKIE" else ", "
        out[key] = out[key] + sep + value if key in out else value
    out.update(extra)
    return out


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
        port = vars.get("REMOTE_PORT", "")
        client = (vars["REMOTE_ADDR"], int(port) if port.isdigit() else 0)
    port = vars.get("SERVER_PORT", "")
    server = (vars.get("SERVER_NAME") or "localhost", int(port) if port.isdigit() else 80)
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
    if len(code) != 3 or not code.isdigit():
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
        value = f.value
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        trace.add(actor, kind, f"{f.label} = {shown}", spec, target=target,
                  data={"offset": f.offset, "length": f.length, "label": f.label,
                        "value": value})
