"""The WSGI gateway (PEP 3333): a Request in, an app called, a Response out.

The server side of WSGI in four steps, each recorded in the trace:

1. build the `environ` dict: CGI-style variables plus the `wsgi.*` keys
   (PEP 3333 §environ Variables);
2. call `app(environ, start_response)`; `start_response(status, headers,
   exc_info=None)` records the status and headers and returns `write`
   (§The start_response() Callable);
3. iterate the returned body; the status and headers go to the client only
   when the first non-empty chunk does (§Buffering and Streaming);
4. call the iterable's `close()`, whatever happened (§Specification Details).

When the app breaks a rule the gateway does what a real server does (500
before the response started, a cut connection after) and records a finding.
"""

from __future__ import annotations

import re
import types
from urllib.parse import unquote_to_bytes

from . import sandbox
from .exchange import Exchange, Response, accept, received, respond
from .findings import clip, describe_error, format_error, is_async_callable
from .leftovers import _counts
from .leftovers import report as report_leftovers
from .limits import (
    MAX_BODY,
    TRACE_CLIP,
    check_max_body,
    declared_length,
    kept,
    length_problem,
    length_text,
    size_line,
)
from .process_state import report as report_changes
from .request import HOP_BY_HOP, Request, header_fields, host_and_port
from .stoppable import plain, swallowers
from .trace import Step, Trace, now, snapshot

DEFAULT_TIMEOUT = 5.0
PEP = "PEP 3333"


# -- the steps of a WSGI run, as the trace shows them ---------------------------
# Each detail function makes an event's text from the step's data, when the
# trace is read (trace.Step).

def _environ_line(environ: dict) -> str:
    return f"{len(environ)} keys, PATH_INFO={environ['PATH_INFO']!r}"


# start_response's data: (status, the headers as they were then, the headers' type).

def _start_line(given: tuple) -> str:
    status, headers, kind = given
    if kind is not list:
        return f"{status!s}, headers of type {kind.__name__}"
    return f"{status!s}, {len(headers)} header{'' if len(headers) == 1 else 's'}"


def _restart_line(given: tuple) -> str:
    return f"{given[0]!s} (again, with exc_info: the error response replaces the first)"


def _status_line(status_and_headers: tuple) -> str:
    return str(status_and_headers[0])


def _as_dict(status_and_headers: tuple) -> dict:
    return {"status": status_and_headers[0], "headers": status_and_headers[1]}


_size_line = size_line  # '5 bytes'; past a trace's clip, what it kept (limits.py)


def _type_line(kind: type) -> str:
    return kind.__name__


ENVIRON = Step("server", "environ", _environ_line, f"{PEP} §environ Variables", "gateway",
               shown=dict)  # a copy: the recorded one is shared by every run of the request
CALL = Step("gateway", "call", "app(environ, start_response)",
            f"{PEP} §The Application/Framework Side", "app")
START_RESPONSE = Step("app", "start_response", _start_line,
                      f"{PEP} §The start_response() Callable", "gateway", shown=_as_dict)
RESTART = Step("app", "start_response", _restart_line, f"{PEP} §Error Handling", "gateway",
               shown=_as_dict)
RETURN = Step("app", "return", _type_line, f"{PEP} §The Application/Framework Side", "gateway",
              shown=_type_line)
WRITE = Step("app", "write", _size_line, f"{PEP} §The write() Callable", "gateway")
SEND_HEADERS = Step("server", "send headers", _status_line, f"{PEP} §Buffering and Streaming",
                    "client", shown=_as_dict)
SEND_BODY = Step("server", "send body", _size_line, f"{PEP} §Buffering and Streaming", "client")
CLOSE = Step("gateway", "close", "result.close()", f"{PEP} §Specification Details", "app")
CUT = Step("server", "close connection", "response cut short", f"{PEP} §Error Handling",
           "client")

def _given(status, headers) -> tuple:
    """start_response's data: the status and headers as they are now, and the headers'
    type.  A status that is not a str (a bytearray, a list) is copied too: the
    app may change it after start_response refused it."""
    if status.__class__ is not str:
        status = snapshot(status)
    return status, _headers_now(headers), headers.__class__


def _headers_now(headers):
    """The headers as start_response got them, as they are now (trace.snapshot): the
    app may change its list afterwards, or reuse it for the next response."""
    if type(headers) is not list:
        return snapshot(headers)
    for pair in headers:
        if type(pair) is not tuple or len(pair) != 2 or type(pair[0]) is not str \
                or type(pair[1]) is not str:
            return snapshot(headers)
    return tuple(headers)  # the usual (str, str) pairs: a shallow copy is a whole one


# A header name.  PEP 3333 §The start_response() Callable: "a valid HTTP header
# field-name", a token (RFC 9110 §5.1, §5.6.2): anything else is never sent.  wsgiref's
# validator asks more (_VALIDATE_NAME: a letter, then letters, digits, '-' or '_', not
# ending in '-' or '_'); a token it refuses ('X.Trace', 'X-') is sent by servers.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALIDATE_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9\-_]*[A-Za-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATUS = re.compile(r"^[1-5][0-9]{2} [^\x00-\x1f\x7f\u0100-\U0010ffff]*$")
_SENDABLE_STATUS = re.compile(r"^[1-5][0-9]{2}(?:[ \t][^\x00-\x1f\x7f\u0100-\U0010ffff]*)?$")

# What the checks make of a header name or a status are pure functions of an exact
# str, so the ones seen are remembered (bounded): a remembered answer is the one
# checking again would give, and every finding is still recorded every time.
_BAD_NAME, _STATUS_FIELD, _HOP, _TYPE, _LENGTH, _OTHER, _VALIDATE_ONLY = (
    "bad name", "status", "hop-by-hop", "content-type", "content-length", "other",
    "a token wsgiref.validate refuses")
_NAME_KIND: dict[str, str] = {}
_GOOD_STATUS: set[str] = set()


def _name_kind(name: str) -> str:
    """What a header name is to the checks (see above)."""
    lower = name.lower()
    kind = (_BAD_NAME if not _TOKEN.fullmatch(name) else _VALIDATE_ONLY
            if not _VALIDATE_NAME.match(name) else _STATUS_FIELD if lower == "status"
            else _HOP if lower in HOP_BY_HOP else _TYPE if lower == "content-type"
            else _LENGTH if lower == "content-length" else _OTHER)
    if name.__class__ is str and len(_NAME_KIND) < 4096:
        _NAME_KIND[name] = kind
    return kind


class WSGIError(RuntimeError):
    """Raised into an app that misused start_response() or write(), as a real
    server would (wsgiref raises AssertionError)."""


# -- environ -----------------------------------------------------------------

class Input:
    """wsgi.input: the request body, ending at CONTENT_LENGTH (PEP 3333 §Input
    and Error Streams).  Unlike a socket it never blocks; asking for more than
    is left is what would block on a real server, so it is noted."""

    __slots__ = ("_body", "_pos", "_trace", "bytes_read")

    def __init__(self, body: bytes, trace: Trace):
        self._body = body
        self._pos = 0
        self._trace = trace
        self.bytes_read = 0

    def _take(self, size) -> bytes:
        left = len(self._body) - self._pos
        if size is None or size < 0:
            size = left
        elif not isinstance(size, int):
            self._trace.find("wsgi.input.bad_argument", method="read", value=repr(size))
            raise TypeError(f"wsgi.input.read() takes an int, not {type(size).__name__}")
        elif size > left and self._body:
            self._trace.find("wsgi.input.past_content_length", asked=size, left=left,
                             length=len(self._body))
        data = self._body[self._pos:self._pos + size]
        self._pos += len(data)
        self.bytes_read += len(data)
        return data

    def read(self, size=-1) -> bytes:
        return self._take(size)

    def readline(self, size=-1) -> bytes:
        if size is not None and not isinstance(size, int):
            self._trace.find("wsgi.input.bad_argument", method="readline", value=repr(size))
            raise TypeError(f"wsgi.input.readline() takes an int, not {type(size).__name__}")
        end = self._body.find(b"\n", self._pos)
        end = len(self._body) if end < 0 else end + 1
        if size is not None and size >= 0:
            end = min(end, self._pos + size)
        return self._take(end - self._pos)

    def readlines(self, hint=-1) -> list[bytes]:
        if hint is not None and not isinstance(hint, int):
            self._trace.find("wsgi.input.bad_argument", method="readlines", value=repr(hint))
            raise TypeError(f"wsgi.input.readlines() takes an int, not {type(hint).__name__}")
        lines = []
        while line := self.readline():
            lines.append(line)
        return lines

    def __iter__(self):
        while line := self.readline():
            yield line

    def close(self):
        self._trace.find("wsgi.input.closed", stream="wsgi.input")


class Errors:
    """wsgi.errors: a text stream whose writes land in the trace."""

    __slots__ = ("_trace",)

    def __init__(self, trace: Trace):
        self._trace = trace

    def write(self, text) -> None:
        if not isinstance(text, str):
            self._trace.find("wsgi.errors.not_str", type=type(text).__name__)
            text = repr(text)
        if text.strip():
            self._trace.add("app", "wsgi.errors", text.rstrip("\n"), "PEP 3333 §Input and "
                            "Error Streams", target="server")

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def close(self):
        self._trace.find("wsgi.input.closed", stream="wsgi.errors")


class FileWrapper:
    """wsgi.file_wrapper (PEP 3333 §Optional Platform-Specific File Handling):
    turns a file into an iterable of blocks; close() closes the file."""

    def __init__(self, filelike, blksize: int = 8192):
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self):
        while block := self.filelike.read(self.blksize):
            yield block

    def close(self):
        if hasattr(self.filelike, "close"):
            self.filelike.close()


def build_environ(request: Request, trace: Trace, *, script_name: str = "",
                  multithread: bool = False, multiprocess: bool = False,
                  run_once: bool = False) -> dict:
    """The environ a server would build for `request` (PEP 3333 §environ Variables)."""
    return _environ(request, trace, ("wsgi", script_name, multithread, multiprocess,
                                     run_once))[0]


# What wsgi.input and wsgi.errors look like in the trace, which keeps the environ
# without them: they write into the trace themselves, so keeping them would tie
# the trace into a reference cycle that only the garbage collector can undo.
_INPUT_SHOWN = "<wsgi.input: the request body, CONTENT_LENGTH bytes>"
_ERRORS_SHOWN = "<wsgi.errors: lines written here appear in the trace>"


def _environ(request: Request, trace: Trace, options: tuple) -> tuple[dict, dict]:
    """The environ for one call, and the environ as the trace shows it; `options`
    is ("wsgi", script_name, multithread, multiprocess, run_once).

    Everything but the two streams comes from the request and the server's
    options alone, so it is built once per request (Request.memo) and shared,
    unchanged, by the trace of every call; each call gets its own copy, with
    streams of its own.
    """
    _, script_name, multithread, multiprocess, run_once = options
    if not (multithread.__class__ is bool and multiprocess.__class__ is bool
            and run_once.__class__ is bool):
        # The memo's key compares by ==, and 1 == True: the flags go in as the bools
        # PEP 3333 means, or a run with multithread=1 would hand its environ to the
        # next run with multithread=True.
        options = ("wsgi", script_name, bool(multithread), bool(multiprocess),
                   bool(run_once))
    shown, dropped = request.memo(options, _request_variables, request, options)
    for name in dropped:
        trace.note("http.header.underscore_dropped", name=name)
    environ = shown.copy()
    environ["wsgi.input"] = Input(request.body, trace)
    environ["wsgi.errors"] = Errors(trace)
    return environ, shown


_PORTS = {80: "80", 443: "443"}
_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}


def _request_variables(request: Request, options: tuple) -> tuple[dict, list[str]]:
    """The CGI-style variables and the wsgi.* keys, with the streams as the trace
    shows them; and the headers that had to be dropped."""
    _, script_name, multithread, multiprocess, run_once = options
    parts = request.parts
    raw, _, query = parts.target.partition("?")
    if raw[:1] != "/" and "://" in raw:
        raw = request._path  # absolute-form: the path after the authority
    # PEP 3333 §Unicode Issues: "native strings" in environ hold bytes as Latin-1 (the
    # target is ASCII, so its str is its bytes).
    path = unquote_to_bytes(raw).decode("latin-1") if "%" in raw else raw
    if script_name:
        script_name = script_name.rstrip("/")
        if script_name and (path == script_name or path.startswith(script_name + "/")):
            path = path[len(script_name):]
    fields = header_fields(parts.headers)
    host, port = host_and_port(fields.host, parts)
    environ = {
        "REQUEST_METHOD": parts.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": _PORTS.get(port) or str(port),
        "SERVER_PROTOCOL": _PROTOCOLS.get(parts.http_version) or "HTTP/" + parts.http_version,
        "REQUEST_URI": parts.target,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme,
        "wsgi.input": _INPUT_SHOWN,    # each call gets streams of its own
        "wsgi.errors": _ERRORS_SHOWN,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": run_once,
        "wsgi.file_wrapper": FileWrapper,
    }
    client = parts.client
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    # RFC 3875 §4.1.2/§4.1.3: CONTENT_TYPE and CONTENT_LENGTH, not HTTP_CONTENT_*.
    if fields.content_type is not None:
        environ["CONTENT_TYPE"] = fields.content_type
    if fields.content_length is not None:
        environ["CONTENT_LENGTH"] = fields.content_length
    elif parts.body:
        environ["CONTENT_LENGTH"] = str(len(parts.body))  # a chunked body, de-chunked
    environ.update(fields.variables)
    return environ, fields.dropped


# -- the call -------------------------------------------------------------------

class _Call:
    """The server's half of one WSGI call: start_response, write, the body."""

    # How a call starts out; an instance sets its own only when one changes.
    status: str | None = None
    headers: tuple | None = None  # as the server sends them (Response makes a list)
    length: str | None = None  # the Content-Length the app declared
    sent = False          # status line and headers on the wire?
    iterating = False
    size = 0              # body bytes taken so far
    max_body = MAX_BODY   # ... and at most (limits.py)

    def __init__(self, trace: Trace, head_request: bool):
        self.trace = trace
        self.head_request = head_request
        self.body: list[bytes] = []

    # PEP 3333 §The start_response() Callable
    def start_response(self, *args, **kwargs):
        if kwargs or not 2 <= len(args) <= 3:
            given = f"{len(args)} positional argument(s)" + (
                f" and keywords {sorted(kwargs)}" if kwargs else "")
            self.trace.find("wsgi.start_response.arguments", given=given)
            raise WSGIError(f"start_response() takes 2 or 3 positional arguments ({given})")
        status, headers = args[0], args[1]
        if len(args) == 3 and args[2] is not None:
            self._start_again(args[2], status, headers)
        elif self.status is not None:
            self.trace.find("wsgi.start_response.called_twice")
            raise WSGIError("start_response() called a second time without exc_info "
                            "(PEP 3333)")
        else:
            self.trace.record((START_RESPONSE, now(), _given(status, headers)))
        clean, self.length = self._check_all(status, headers)
        self.status, self.headers = status, tuple(clean)
        return self.write

    def _start_again(self, exc_info, status, headers) -> None:
        """start_response(status, headers, exc_info): an error response replaces the
        first one, unless that one was sent already (PEP 3333 §Error Handling)."""
        trace = self.trace
        if not isinstance(exc_info, tuple):
            trace.find("wsgi.start_response.exc_info_not_tuple", type=type(exc_info).__name__)
            raise WSGIError("exc_info must be None or a tuple from sys.exc_info()")
        if not exc_info:  # an empty tuple: as good as None
            if self.status is not None:
                trace.find("wsgi.start_response.called_twice")
                raise WSGIError("start_response() called a second time without exc_info "
                                "(PEP 3333)")
            trace.step(START_RESPONSE, _given(status, headers))
            return
        try:
            if len(exc_info) != 3 or not isinstance(exc_info[1], BaseException):
                # sys.exc_info() outside an except block is (None, None, None): there is
                # no error to report, and nothing to re-raise once the headers are out.
                trace.find("wsgi.start_response.exc_info_no_error", value=clip(exc_info, 60))
                if self.sent:
                    raise WSGIError("exc_info holds no exception, and the headers were sent")
            elif self.sent:
                trace.find("wsgi.start_response.exc_info_after_headers",
                           error=describe_error(exc_info[1]))
                raise exc_info[1].with_traceback(exc_info[2])
        finally:
            exc_info = None  # avoid a reference cycle through the traceback
        trace.step(RESTART, _given(status, headers))

    def _check_all(self, status, headers) -> tuple[list, str | None]:
        find = self.trace.find
        if status.__class__ is not str or status not in _GOOD_STATUS:
            self._check_status(status)
        if headers.__class__ is not list:
            if not isinstance(headers, list):
                find("wsgi.headers.not_list", type=type(headers).__name__)
                raise WSGIError("headers must be a list of (name, value) tuples")
            # A subclass: served (werkzeug and gunicorn read its items), but it is not
            # what PEP 3333 allows, and wsgiref's server refuses it.
            find("wsgi.headers.list_subclass", type=type(headers).__name__)
        clean = []
        has_type = False
        length = lengths = None
        for header in headers:
            if header.__class__ is tuple and len(header) == 2:
                name, value = header
                if name.__class__ is not str or value.__class__ is not str:
                    self._check_pair(header)
            else:
                self._check_pair(header)
                name, value = header
            kind = _NAME_KIND.get(name) if name.__class__ is str else None
            if kind is None:
                kind = _name_kind(name)
            if kind is _BAD_NAME:
                find("wsgi.headers.bad_name", name=repr(name))
                raise WSGIError(f"invalid header name {name!r}")
            if _CONTROL.search(value):
                find("wsgi.headers.control_chars", name=repr(name))
                raise WSGIError(f"control character in header {name!r}")
            if not value.isascii():  # the common case skips the per-character scan
                bad = next((c for c in value if ord(c) > 0xFF), None)
                if bad is not None:
                    find("wsgi.headers.not_latin1", name=repr(name), char=repr(bad))
                    raise WSGIError(f"header {name!r} is not Latin-1")
            if kind is _OTHER:
                clean.append(header)
            elif kind is _VALIDATE_ONLY:
                find("wsgi.headers.name_validate_only", name=repr(name))
                clean.append(header)
            elif kind is _TYPE:
                has_type = True
                clean.append(header)
            elif kind is _LENGTH:
                if length is None:
                    length = value
                else:
                    lengths = (lengths or [length]) + [value]
                clean.append(header)
            elif kind is _STATUS_FIELD:
                find("wsgi.headers.status_header")
            else:  # hop-by-hop
                find("wsgi.headers.hop_by_hop", name=repr(name))
        if length is not None and (lengths is not None or not (length.isascii() and
                                                               length.isdigit())):
            self._check_lengths(lengths or [length])
        code = status[:3]
        if code in ("204", "304") and has_type:
            find("wsgi.headers.content_type_forbidden", status=repr(status))
        elif code not in ("204", "304") and not has_type and not code.startswith("1"):
            find("wsgi.headers.content_type_missing", status=repr(status))
        return clean, length

    def _check_lengths(self, values: list[str]) -> None:
        """Content-Length values that state no one length (limits.length_problem): the
        client could not tell where the body ends, so it is never sent (gunicorn's int()
        of 'abc' fails in start_response too; h11 refuses '+5' and '1,2' as well)."""
        problem = length_problem(values)
        if problem is not None:
            self.trace.find("wsgi.content_length.invalid", problem=problem)
            raise WSGIError(f"invalid Content-Length: {problem}")

    def _check_pair(self, header) -> None:
        """A header that is not exactly a tuple of two str: a subclass will do."""
        if not (isinstance(header, tuple) and len(header) == 2
                and isinstance(header[0], str) and isinstance(header[1], str)):
            self.trace.find("wsgi.headers.not_tuple", header=repr(header))
            raise WSGIError(f"header {header!r} is not a tuple of two str")

    def _check_status(self, status) -> None:
        find = self.trace.find
        if not isinstance(status, str):
            find("wsgi.status.not_str", type=type(status).__name__, status=repr(status))
            raise WSGIError(f"status must be a str, not {type(status).__name__}")
        well_formed = _STATUS.match(status) is not None
        if not well_formed:
            find("wsgi.status.malformed", status=clip(status, 60))
            # Passed on only when a server could still write a status line from it:
            # '200' without a reason.  A code outside 100..599 (RFC 9110 §15), digits
            # that are not ASCII ('２００'), a CR or LF (a status line split in two) or
            # a character Latin-1 cannot encode (§Unicode Issues) is never sent.
            if not _SENDABLE_STATUS.match(status):
                raise WSGIError(f"status {clip(status, 60)} cannot be sent as a status line")
        if status[:1] == "1":
            # RFC 9110 §15.2: a 1xx is interim, always followed by the final response;
            # WSGI has no way to send one (the server sends 100 Continue itself), so a
            # 1xx from the app would be a response that never ends.
            find("wsgi.status.informational", status=clip(status, 60))
            raise WSGIError(f"{clip(status, 60)} is an interim (1xx) status, not a final one")
        if well_formed and status.__class__ is str and len(_GOOD_STATUS) < 1024:
            _GOOD_STATUS.add(status)

    # PEP 3333 §The write() Callable
    def write(self, data) -> None:
        if self.status is None:
            self.trace.find("wsgi.write.before_start_response")
            raise WSGIError("write() called before start_response()")
        if not isinstance(data, (bytes, bytearray)):
            self.trace.find("wsgi.write.not_bytes", type=type(data).__name__)
            raise WSGIError(f"write() takes bytes, not {type(data).__name__}")
        if self.iterating:
            self.trace.find("wsgi.write.inside_iterable")
        data = bytes(data)
        self.trace.step(WRITE, kept(data, self.size))
        self._send(data)

    def _send(self, chunk: bytes) -> None:
        t = now()
        if chunk:
            self.size = size = self.size + len(chunk)
            if size > self.max_body:
                self._too_large(size)
        if not self.sent:
            self.sent = True
            self.trace.record((SEND_HEADERS, t, (self.status, self.headers)))
        if chunk:
            self.body.append(chunk)
            # A trace keeps the first TRACE_CLIP bytes of a body, then sizes only.
            self.trace.record((SEND_BODY, t, chunk if size <= TRACE_CLIP else
                               kept(chunk, size - len(chunk))))

    def _too_large(self, size: int) -> None:
        """The server stops taking chunks past max_body (limits.py): the client gets a
        500 if nothing was sent yet, a cut connection otherwise."""
        self.trace.find("wsgi.body.too_large", actor="server", limit=self.max_body,
                        size=size, sent="a cut connection" if self.sent else "a 500")
        raise _Handled()

    def run(self, app, environ):
        """Call the app and drain its iterable (under the sandbox's deadline)."""
        record = self.trace.record
        record((CALL, now(), None))
        try:
            result = app(environ, self.start_response)
        except TypeError as error:
            if _is_signature_error(error, app):
                if is_async_callable(app):
                    self.trace.find("wsgi.app.is_async", name=_name_of(app))
                else:
                    self.trace.find("wsgi.app.signature", error=str(error))
                raise _Handled() from error
            raise
        record((RETURN, now(), type(result)))
        if type(result) is list:  # the usual body: no close(), and its len() is true
            self._drain(result, None)
            return
        self._check_result(result)
        try:
            self._drain(result, _declared_length(result))
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                record((CLOSE, now(), None))
                try:
                    close()
                except sandbox.Stopped:
                    raise
                except BaseException as error:  # noqa: BLE001 - SystemExit from close()
                    self.trace.find("wsgi.close.raised", error=describe_error(error))

    def _check_result(self, result) -> None:
        """The app must return an iterable of bytes (PEP 3333 §The Application/Framework
        Side); a str or bytes is one, but yields one character or integer at a time."""
        if result is None or isinstance(result, (str, bytes)) or not _iterable(result):
            if isinstance(result, types.CoroutineType):
                # `async def app(environ, start_response)`: calling it only made a
                # coroutine, which a WSGI server has no loop to run; closed here, so
                # Python does not also warn that it was never awaited.
                result.close()
                self.trace.find("wsgi.app.is_async", name=_name_of(result))
            elif isinstance(result, (str, bytes)):
                unit = "character" if isinstance(result, str) else "integer (one byte)"
                self.trace.find("wsgi.body.str_or_bytes", type=type(result).__name__,
                                unit=unit)
            else:
                self.trace.find("wsgi.body.not_iterable", type=type(result).__name__)
            if result is None or not _iterable(result):
                raise _Handled()

    def _drain(self, result, declared: int | None) -> None:
        """Send every chunk of `result`, which said it had `declared` of them."""
        count = 0
        self.iterating = True
        for chunk in result:
            count += 1
            if chunk.__class__ is not bytes:
                if not isinstance(chunk, (bytes, bytearray)):
                    self.trace.find("wsgi.body.not_bytes", type=type(chunk).__name__,
                                    value=clip(chunk))
                    raise _Handled()
                chunk = bytes(chunk)
            if not chunk:
                continue
            if self.status is None:
                self.trace.find("wsgi.body.before_start_response")
                raise _Handled()
            self._send(chunk)
        self.iterating = False
        if declared is not None and declared != count and not isinstance(result, FileWrapper):
            self.trace.find("wsgi.len.wrong", declared=declared, actual=count)
        if self.status is None:
            self.trace.find("wsgi.start_response.missing")
            raise _Handled()
        if not self.sent:
            self._send(b"")  # headers go out now if the body was empty (PEP 3333)


class _Handled(Exception):
    """The gateway already recorded why the app failed; just answer 500."""


def _declared_length(result) -> int | None:
    """len(result), if it has one (PEP 3333: a server may trust it for Content-Length)."""
    try:  # a generator has no len(): ask first rather than catch the TypeError
        return len(result) if hasattr(result, "__len__") else None
    except Exception:
        return None


def _iterable(obj) -> bool:
    try:
        iter(obj)
    except TypeError:
        return False
    return True


def _name_of(app) -> str:
    """`app` by its name (a coroutine has its function's), for a message."""
    return repr(getattr(app, "__name__", None) or type(app).__name__)


def _is_signature_error(error: TypeError, app) -> bool:
    tb = error.__traceback__
    # The TypeError came from the call itself, not from inside the app.
    return tb is not None and tb.tb_next is None


def run_wsgi(app, request: Request | bytes | None = None, *, timeout: float = DEFAULT_TIMEOUT,
             script_name: str = "", multithread: bool = False, multiprocess: bool = False,
             run_once: bool = False, coach: bool = True, max_body: int = MAX_BODY,
             isolate=None) -> Exchange:
    """Run one request through a WSGI app and return the Exchange.

    `request` is a Request or the raw bytes of one (refused with 400 if no
    server may accept them; the app is then never called).
    After `timeout` seconds the app is stopped and the client gets 504.
    A response body past `max_body` bytes is cut off (limits.py).
    `isolate=True` runs the app in a child process killed at the deadline
    (isolate.py); by default only an app whose code would swallow the stop
    runs there (stoppable.py), and `isolate=False` never.
    With `coach=False` the app is served the same way, but broken rules are
    not recorded as findings (the benchmark uses it to price the coach).
    """
    if type(request) is not Request:  # None, raw bytes, or not a request at all
        request, refused = accept("wsgi", request)
        if refused is not None:
            return refused
    if isolate is not False and (isolate or (app is not plain.app or plain.changes !=
                                             _counts.code_changes) and swallowers(app)):
        from .isolate import run_isolated

        return run_isolated("wsgi", app, request, timeout, isolate, {
            "script_name": script_name, "multithread": multithread, "coach": coach,
            "multiprocess": multiprocess, "run_once": run_once, "max_body": max_body})
    trace = Trace("wsgi", coach)
    received(trace, request)
    if not callable(app):
        trace.find("wsgi.app.not_callable", actor="server", type=type(app).__name__)
        return respond("wsgi", request, trace, Response.error(500))
    environ, shown = _environ(request, trace,
                              ("wsgi", script_name, multithread, multiprocess, run_once))
    trace.record((ENVIRON, now(), shown))
    call = _Call(trace, request.method == "HEAD")
    if max_body != MAX_BODY:
        call.max_body = check_max_body(max_body)
    outcome = sandbox.call(call.run, timeout, app, environ, watch=True)
    if outcome.left is not None:
        report_leftovers(trace, outcome.left)
    if outcome.changed:
        report_changes(trace, outcome.changed, "wsgi")
    try:
        response = _response(call, outcome, timeout)
    except MemoryError:  # even with the body bounded, the process may be short of memory
        call.body = []
        trace.find("wsgi.app.out_of_memory", actor="server")
        response = Response.error(500)
    return respond("wsgi", request, trace, response)


def _response(call: _Call, outcome, timeout: float) -> Response:
    """What the client gets, from how the call went."""
    trace = call.trace
    if outcome.timed_out:
        how = f" and could not be stopped {outcome.why}" if outcome.stuck else "; it was stopped"
        trace.find("wsgi.app.timeout", actor="server", timeout=timeout, how=how)
        if call.sent:
            return _cut(call)
        return Response.error(504)
    error = outcome.error
    if error is not None:
        if not isinstance(error, (_Handled, WSGIError)):
            trace.add("server", "log", format_error(error),
                      f"{PEP} §Error Handling")
            rule = "wsgi.app.raised_after_start" if call.sent else "wsgi.app.raised"
            trace.find(rule, error=describe_error(error))
        if call.sent:
            return _cut(call)
        return Response.error(500)
    body = b"".join(call.body)
    complete = True
    if call.head_request:
        # RFC 9110 §9.3.2: the server never sends a body for HEAD, and the
        # Content-Length describes the body a GET would get.
        body = b""
    elif _no_content(call.status[:3]):
        if body:
            trace.find("wsgi.body.not_allowed", status=repr(call.status), size=len(body))
            body = b""
    elif call.length is not None:
        body, complete = _content_length_check(call, body)
    code, reason = _code_and_reason(call.status)
    return Response(code, call.headers, body, reason, complete)


def _code_and_reason(status: str) -> tuple[int, str]:
    """'404 Not Found' -> (404, 'Not Found'); start_response let through only statuses
    that begin with three ASCII digits (_SENDABLE_STATUS), the reason maybe after a tab."""
    return int(status[:3]), status[4:]


def _no_content(code: str) -> bool:
    """A status whose response ends with its headers (RFC 9112 §6.3): 1xx, 204, 304."""
    return code in ("204", "304") or code[:1] == "1"


def _content_length_check(call: _Call, body: bytes) -> tuple[bytes, bool]:
    """A declared Content-Length the body disagrees with (PEP 3333 §Handling the
    Content-Length Header).
    More bytes than declared are cut; fewer leave the client waiting, i.e. truncated."""
    n = declared_length(call.length)
    if n is None:
        return body, True
    if n != len(body):
        call.trace.find("wsgi.content_length.mismatch", declared=length_text(call.length),
                        actual=len(body))
        return body[:n], len(body) >= n
    return body, True


def _cut(call: _Call) -> Response:
    """The status line already went out: all the server can do is close."""
    code, reason = _code_and_reason(call.status)
    call.trace.step(CUT)
    return Response(code, call.headers, b"".join(call.body), reason=reason,
                    complete=False)
