"""Checks for 12 (a WSGI-to-ASGI adapter), 13 (an SCGI codec) and 14 (a port to Starlette)."""

from __future__ import annotations

import threading

from ..request import Request
from . import core as _core
from .core import LearnerError, call, clip, exercise, expect, fact, need

LESSON_BRIDGES = "08 Bridges (notebooks/08_*.ipynb)"
LESSON_WIRE = "SCGI, the wire protocols (the SCGI protocol: python.ca/scgi/protocol.txt)"
from .asgi_checks import LESSON_ASGI, TEXT, _asgi  # noqa: E402  (one loader for the gateway)

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
]


def _fix_lengths():
    # The malformed cases must be wrong in exactly one way: fix each netstring
    # length unless the length is the fault being tested.
    fixed = []
    for why, data in MALFORMED:
        if why in ("no ':' after the length", "a length with a leading zero",
                   "the length is longer than the data"):
            fixed.append((why, data))
            continue
        head, _, rest = data.partition(b":")
        end = rest.rfind(b"\x00") + 1
        fixed.append((why, str(end).encode() + b":" + rest))
    return fixed


MALFORMED = _fix_lengths()


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
    try:
        got = call(encode, dict(headers), VECTOR_BODY, what="encode_request")
        ok = got == VECTOR
        message = "" if ok else f"expected {VECTOR!r}\n got     {clip(repr(got), 300)}"
    except LearnerError as error:
        ok, message, got = False, str(error), None
    yield fact("encode_request gives the protocol's own example, byte for byte", ok, message,
               sent=f"encode_request({headers!r}, {VECTOR_BODY!r})", got=clip(repr(got), 200))
    try:
        got = call(parse, VECTOR, what="parse_request")
        ok = (isinstance(got, tuple) and len(got) == 2 and dict(got[0]) == VECTOR_HEADERS
              and got[1] == VECTOR_BODY)
        message = "" if ok else (f"expected ({VECTOR_HEADERS!r}, {VECTOR_BODY!r}),\n"
                                 f"got {clip(repr(got), 300)}")
    except LearnerError as error:
        ok, message, got = False, str(error), None
    yield fact("parse_request reads the protocol's example", ok, message,
               sent=clip(repr(VECTOR), 200), got=clip(repr(got), 200))
    bad = []
    for environ, body in ROUND_TRIPS:
        try:
            back = call(parse, call(encode, dict(environ), body, what="encode_request"),
                        what="parse_request")
        except LearnerError as error:
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
               "(binary body, Latin-1 value, 2 kB body)", not bad, "\n".join(bad),
               sent=f"{len(ROUND_TRIPS)} requests")
    for why, data in MALFORMED:
        outcome = _raises(parse, data)
        yield fact(f"parse_request refuses {why} with ValueError", outcome is None,
                   outcome or "", sent=clip(repr(data), 120))
    yield from _cross_check(encode)


def _raises(parse, data) -> str | None:
    """None when parse(data) raises ValueError, else what went wrong, in words."""
    from .. import sandbox
    from .core import describe

    outcome = sandbox.call(lambda: parse(data), 3.0)
    if outcome.timed_out:
        return "parse_request did not return within 3 s (a loop that never ends?)"
    if isinstance(outcome.error, ValueError):
        return None
    if outcome.error is not None:
        return (f"expected ValueError, parse_request raised {describe(outcome.error)}; "
                "raise ValueError('...') for malformed input")
    return f"expected ValueError, parse_request returned {clip(repr(outcome.value), 200)}"


def _cross_check(encode):
    """If the lab's own SCGI codec is installed, its parser must read the learner's bytes."""
    try:
        from ..wire import scgi
    except ImportError:
        return
    reader = getattr(scgi, "parse_request", None) or getattr(scgi, "decode_request", None)
    if reader is None:
        return
    environ, body = ROUND_TRIPS[2]
    try:
        data = call(encode, dict(environ), body, what="encode_request")
        parsed = reader(data)
    except LearnerError as error:
        yield fact("the lab's SCGI parser reads your bytes", False, str(error))
        return
    except Exception as error:  # the lab's parser refused the learner's bytes
        yield fact("the lab's SCGI parser reads your bytes", False,
                   f"gateway_lab.wire.scgi refused them: {error}")
        return
    yield fact("the lab's SCGI parser reads your bytes", parsed is not None, "")


# -- 12: WSGI to ASGI -------------------------------------------------------------------

class _Closing:
    """A WSGI app the adapter must wrap: streams the POST body back, counts close()."""

    def __init__(self):
        self.closed = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Type", TEXT), ("X-Method",
                                                            environ["REQUEST_METHOD"])])
        return _Body(self, [b"you sent ", data, b" to ", environ["PATH_INFO"].encode(
            "latin-1"), b"?", environ["QUERY_STRING"].encode("latin-1")])


class _Body:
    def __init__(self, app, chunks):
        self.app, self.chunks = app, chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        with self.app.lock:
            self.app.closed += 1


def _not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", TEXT), ("Set-Cookie", "a=1"),
                                     ("Set-Cookie", "b=2")])
    return [b"no such page\n"]


@exercise("12_wsgi_to_asgi", "your own WSGI-to-ASGI adapter that calls close()",
          LESSON_BRIDGES, hints=[
    "wsgi_to_asgi(wsgi_app) returns `async def app(scope, receive, send)`. For an http scope: "
    "read the whole body first (loop on receive() while message.get('more_body')), then "
    "build an environ from the scope (method, path, query_string as latin-1 str, headers as "
    "HTTP_* keys, CONTENT_TYPE/CONTENT_LENGTH without HTTP_).",
    "Call the WSGI app with a start_response that remembers status and headers. Send "
    "http.response.start with status=int(status[:3]) and headers as (bytes, bytes) pairs, "
    "then one http.response.body per chunk with more_body=True, and a last one with "
    "more_body=False.",
    "Wrap the iteration in try/finally and call result.close() in the finally if it has one "
    "(PEP 3333 §Specification Details): that is what bridges often forget. Running the WSGI "
    "app in a thread (asyncio.to_thread) keeps the event loop free.",
])
def check_12(module):
    asgi = _asgi()
    from ..wsgi import run_wsgi

    adapt = need(module, "wsgi_to_asgi", "wsgi_to_asgi(wsgi_app) -> an ASGI app")
    inner, reference = _Closing(), _Closing()
    app = call(adapt, inner, what="wsgi_to_asgi(app)")
    requests = [
        ("GET with a query string", Request("GET", "/hello?x=1&y=%20")),
        ("POST with a body in 3 chunks", Request("POST", "/items", {"Content-Type": TEXT},
                                                 chunks=[b"ab", b"cd", b"ef"])),
    ]
    for title, request in requests:
        want = run_wsgi(reference, request, timeout=_core.RUN_TIMEOUT).response
        ex = asgi.run_asgi(app, request, timeout=_core.RUN_TIMEOUT)
        yield expect(f"{title}: the same response as under a WSGI server", ex,
                     status=want.status, body=want.body,
                     headers={"X-Method": request.method, "Content-Type": TEXT})
    n = len(requests)
    yield fact("close() of the WSGI iterable is called once per request", inner.closed == n,
               "" if inner.closed == n else f"the WSGI app's iterable was closed "
               f"{inner.closed} time(s) for {n} requests through your adapter; call "
               "result.close() in a finally: block (PEP 3333 §Specification Details)",
               got=f"close() calls: {inner.closed}")
    app = call(adapt, _not_found, what="wsgi_to_asgi(app)")
    ex = asgi.run_asgi(app, Request("GET", "/missing"), timeout=_core.RUN_TIMEOUT)
    cookies = [v for k, v in ex.response.headers if k.lower() == "set-cookie"]
    yield expect("status and repeated headers pass through (404, two Set-Cookie)", ex,
                 status=404, body="no such page\n",
                 problems=[None if cookies == ["a=1", "b=2"] else
                           f"expected two Set-Cookie headers a=1 and b=2, got {cookies!r}"])


# -- 14: WSGI to Starlette --------------------------------------------------------------

PORT_REQUESTS = [
    Request("GET", "/"),
    Request("GET", "/hello/Ada"),
    Request("GET", "/hello/J%C3%BCrgen?shout=1"),
    Request("POST", "/echo", {"Content-Type": "application/json"}, b'{"a": [1, 2]}'),
    Request("POST", "/echo", {"Content-Type": "application/json"}, b"not json"),
    Request("GET", "/nowhere"),
]


@exercise("14_starlette_port", "port a WSGI app to Starlette with identical responses",
          LESSON_ASGI, hints=[
    "One Route per path: Route('/', home), Route('/hello/{name}', hello), "
    "Route('/echo', echo, methods=['POST']); each endpoint is `async def f(request)`.",
    "Match the WSGI app's bodies *and* Content-Types exactly: PlainTextResponse gives "
    "'text/plain; charset=utf-8'; JSONResponse compacts JSON differently from json.dumps, "
    "so build the body with json.dumps yourself and return Response(body, media_type=...).",
    "request.path_params['name'] is already percent-decoded; "
    "request.query_params.get('shout'); await request.body() for the POST. The 404 "
    "must be the same too: pass your own handler, exception_handlers={404: not_found}.",
])
def check_14(module):
    asgi = _asgi()
    from ..wsgi import run_wsgi

    wsgi_app = need(module, "wsgi_app", "the original WSGI app (it is in the stub)")
    app = need(module, "app", "your Starlette application")
    for request in PORT_REQUESTS:
        want = run_wsgi(wsgi_app, request, timeout=_core.RUN_TIMEOUT).response
        ex = asgi.run_asgi(app, request, timeout=_core.RUN_TIMEOUT)
        yield expect(f"{request.method} {request.target}: same status, Content-Type and body "
                     "as the WSGI app", ex, status=want.status, body=want.body,
                     headers={"Content-Type": want.header("content-type")})
