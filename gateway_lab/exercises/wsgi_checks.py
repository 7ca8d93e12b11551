"""Checks for the WSGI exercises (PEP 3333): 03 hello, 04 router, 05 middleware, 06 streaming.

Each check sends a request through `run_wsgi` (the lab's WSGI server) and
compares the response with the task; the coach's findings come with it.
"""

from __future__ import annotations

import re
import time

from ..request import Request
from ..trace import Trace
from ..wsgi import build_environ, run_wsgi
from . import core as _core
from .core import LearnerError, call, exercise, expect, fact, need

LESSON_WSGI = "02 WSGI (notebooks/02_*.ipynb)"
TEXT = "text/plain; charset=utf-8"


def _app(module):
    app = need(module, "app", "the WSGI application, a callable app(environ, start_response)")
    if not callable(app):
        raise LearnerError(f"`app` must be callable, it is a {type(app).__name__}")
    return app


# -- 03 -----------------------------------------------------------------------------

@exercise("03_wsgi_hello", "WSGI hello, world with a query string", LESSON_WSGI, hints=[
    "Call start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'), "
    "('Content-Length', str(len(body)))]) once, then return a list holding one bytes object.",
    "The query string is environ['QUERY_STRING'] (always there, maybe ''). "
    "urllib.parse.parse_qs(environ['QUERY_STRING']).get('name', ['world'])[0] gives the name, "
    "already percent-decoded.",
    "Encode the text to bytes with .encode('utf-8') *before* measuring Content-Length: "
    "'Jürgen' is 6 characters but 7 bytes.",
])
def check_03(module):
    app = _app(module)
    ex = run_wsgi(app, Request("GET", "/"), timeout=_core.RUN_TIMEOUT)
    yield expect("GET / says hello to the world", ex, status=200, body="Hello, world!",
                 headers={"Content-Type": TEXT})
    ex = run_wsgi(app, Request("GET", "/?name=Ada"), timeout=_core.RUN_TIMEOUT)
    yield expect("GET /?name=Ada greets Ada", ex, status=200, body="Hello, Ada!")
    ex = run_wsgi(app, Request("GET", "/?name=J%C3%BCrgen"), timeout=_core.RUN_TIMEOUT)
    yield expect("a percent-encoded UTF-8 name is decoded, Content-Length counts bytes", ex,
                 status=200, body="Hello, Jürgen!".encode(),
                 headers={"Content-Length": str(len("Hello, Jürgen!".encode()))})
    ex = run_wsgi(app, Request("HEAD", "/?name=Ada"), timeout=_core.RUN_TIMEOUT)
    yield expect("HEAD works too (the server drops the body)", ex, status=200)


# -- 04 -----------------------------------------------------------------------------

def _allow_ok(expected: set[str]):
    def judge(value: str) -> str:
        got = {m.strip().upper() for m in value.split(",") if m.strip()}
        missing, extra = expected - got, got - expected - {"HEAD", "OPTIONS"}
        if missing or extra:
            return (f"should list exactly {', '.join(sorted(expected))}"
                    + (f" (missing {', '.join(sorted(missing))})" if missing else "")
                    + (f" (not allowed: {', '.join(sorted(extra))})" if extra else ""))
        return ""
    return judge


@exercise("04_wsgi_router", "a WSGI router with 404 and 405 (and an Allow header)", LESSON_WSGI,
          hints=[
    "Look up environ['PATH_INFO'] in a dict of routes first: an unknown path is 404 Not Found. "
    "Only then look at environ['REQUEST_METHOD']: a known path with the wrong method is "
    "405 Method Not Allowed.",
    "RFC 9110 §15.5.6: a 405 response MUST carry an Allow header listing the methods the "
    "path does support, e.g. ('Allow', 'GET, POST').",
    "Keep ROUTES as {path: {method: handler}}; then Allow is ', '.join(sorted(ROUTES[path])). "
    "Every response, 404 and 405 included, needs a Content-Type.",
])
def check_04(module):
    app = _app(module)
    ex = run_wsgi(app, Request("GET", "/"), timeout=_core.RUN_TIMEOUT)
    yield expect("GET / is the home page", ex, status=200, body_has="Welcome")
    ex = run_wsgi(app, Request("GET", "/items"), timeout=_core.RUN_TIMEOUT)
    yield expect("GET /items lists the items", ex, status=200, body_has=["apple", "pear"])
    ex = run_wsgi(app, Request("POST", "/items", {"Content-Type": "text/plain"}, "plum"),
                  timeout=_core.RUN_TIMEOUT)
    yield expect("POST /items adds one: 201 Created", ex, status=201, body_has="plum")
    ex = run_wsgi(app, Request("GET", "/nowhere"), timeout=_core.RUN_TIMEOUT)
    yield expect("an unknown path is 404 Not Found", ex, status=404)
    ex = run_wsgi(app, Request("DELETE", "/items"), timeout=_core.RUN_TIMEOUT)
    yield expect("DELETE /items is 405 with Allow: GET, POST (RFC 9110 §15.5.6)", ex,
                 status=405, headers={"Allow": _allow_ok({"GET", "POST"})})
    ex = run_wsgi(app, Request("POST", "/"), timeout=_core.RUN_TIMEOUT)
    yield expect("POST / is 405 with Allow: GET", ex, status=405,
                 headers={"Allow": _allow_ok({"GET"})})


# -- 05 -----------------------------------------------------------------------------

class _Inner:
    """The app the learner's middleware wraps: slow, streaming, with a close()."""

    def __init__(self, status="200 OK", delay=0.06):
        self.status, self.delay, self.closed = status, delay, 0

    def __call__(self, environ, start_response):
        time.sleep(self.delay)
        start_response(self.status, [("Content-Type", TEXT), ("X-Inner", "yes")])
        return self

    def __iter__(self):
        yield b"inner "
        yield b"body"

    def close(self):
        self.closed += 1


def _timing_ok(min_ms: float):
    def judge(value: str) -> str:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms)?\s*", value)
        if not m:
            return "should be a number of milliseconds, e.g. '61.2ms'"
        if float(m.group(1)) < min_ms:
            return (f"the wrapped app took at least {min_ms:.0f} ms, so the header should "
                    "say at least that much (measure around the call to the app, in ms)")
        return ""
    return judge


def _log_lines(ex) -> list[str]:
    return [e.detail for e in ex.trace.events if e.kind == "wsgi.errors"]


@exercise("05_wsgi_middleware", "WSGI middleware: a timing header and a log line in wsgi.errors",
          LESSON_WSGI, hints=[
    "Middleware is a WSGI app that calls another WSGI app: TimingMiddleware(app) returns an "
    "object whose __call__(environ, start_response) calls self.app(environ, my_start_response).",
    "Your own start_response adds ('X-Response-Time', f'{ms:.1f}ms') to the headers and calls "
    "the server's start_response; remember the status it saw, for the log line.",
    "Log with environ['wsgi.errors'].write(f'{method} {path} {status}\\n'), not print(). "
    "Return the inner app's iterable itself (or call its close() from yours): the server "
    "must be able to call close() on it (PEP 3333 §Specification Details).",
])
def check_05(module):
    wrap = need(module, "TimingMiddleware",
                "a class (or function) TimingMiddleware(app) returning a WSGI app")
    inner = _Inner()
    app = call(wrap, inner, what="TimingMiddleware(app)")
    ex = run_wsgi(app, Request("GET", "/report?year=2024"), timeout=_core.RUN_TIMEOUT)
    yield expect("the inner app's status, headers and body pass through unchanged", ex,
                 status=200, body="inner body", headers={"X-Inner": "yes", "Content-Type": TEXT})
    yield expect("an X-Response-Time header measures the app (it took ≥ 60 ms)", ex,
                 headers={"X-Response-Time": _timing_ok(50)}, coach=False)
    lines = _log_lines(ex)
    ok = any("GET" in line and "/report" in line and "200" in line for line in lines)
    yield fact("one line goes to environ['wsgi.errors']: method, path and status", ok,
               "" if ok else "expected a line like 'GET /report 200' written to "
               f"environ['wsgi.errors']; it received {lines!r}", sent="GET /report?year=2024",
               got=f"wsgi.errors lines: {lines!r}")
    yield fact("the inner app's close() is called once by the server", inner.closed == 1,
               f"the inner iterable's close() was called {inner.closed} time(s); "
               "return it (or a wrapper whose close() calls it) so the server can close it")
    inner404 = _Inner("404 Not Found", delay=0)
    ex = run_wsgi(call(wrap, inner404, what="TimingMiddleware(app)"),
                  Request("POST", "/missing", {"Content-Type": "text/plain"}, "x"),
                  timeout=_core.RUN_TIMEOUT)
    lines = _log_lines(ex)
    ok = any("POST" in line and "/missing" in line and "404" in line for line in lines)
    yield expect("a 404 from the inner app is passed through and logged", ex, status=404,
                 headers={"X-Response-Time": _timing_ok(0)},
                 problems=[None if ok else f"expected a log line with POST /missing 404, "
                           f"got {lines!r}"])


# -- 06 -----------------------------------------------------------------------------

@exercise("06_wsgi_streaming", "WSGI streaming that cleans up in close()", LESSON_WSGI, hints=[
    "Return an iterable that yields one bytes chunk per line (f'{i}\\n'.encode()), not one "
    "joined body: the server sends each chunk as it comes (PEP 3333 §Buffering and Streaming).",
    "The server calls close() on what you return when it is done, even when the client went "
    "away half way (PEP 3333 §Specification Details). A generator has close(): put "
    "resource.close() in a `finally:` around the loop.",
    "Open the Resource inside the generator (or in a class's __init__) and never set "
    "Content-Length to a guess; without it the server frames the stream for you.",
])
def check_06(module):
    app = _app(module)
    opened = need(module, "OPEN", "the set of open Resource objects (it is in the stub)")
    opened.clear()
    made = _count_resources(module)
    ex = run_wsgi(app, Request("GET", "/count?n=5"), timeout=_core.RUN_TIMEOUT)
    sends = sum(1 for e in ex.trace.events if e.kind == "send body")
    yield expect("GET /count?n=5 streams 1..5, one line per chunk", ex, status=200,
                 body="1\n2\n3\n4\n5\n",
                 problems=[None if sends >= 5 else
                           f"expected at least 5 separate body chunks, the server sent {sends}: "
                           "yield each line instead of returning one joined body"])
    problems = []
    if not made:
        problems.append("no Resource() was made for the response: use one while streaming")
    if opened:
        problems.append(f"{len(opened)} Resource(s) still open after the server called "
                        "close(); release it in close() / a finally: block")
    yield fact("the response uses a Resource and it is closed afterwards", not problems,
               "\n".join(problems), sent="GET /count?n=5",
               got=f"Resources made: {len(made)}, still open: {len(opened)}")
    opened.clear()
    yield _client_goes_away(app, opened)


def _count_resources(module) -> list:
    """Count the Resource objects the app makes (module.Resource stays a Resource)."""
    base = need(module, "Resource", "the Resource class (it is in the stub)")
    made: list = []

    class CountedResource(base):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    module.Resource = CountedResource
    return made


def _client_goes_away(app, opened):
    """Play a server whose client disconnects after the first chunk: it stops iterating
    and calls close() at once (PEP 3333 §Specification Details)."""
    trace = Trace("wsgi")
    environ = build_environ(Request("GET", "/count?n=1000"), trace)
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def serve_one_chunk():
        result = app(environ, start_response)
        chunk = next(iter(result), b"")
        still_open = len(opened)
        close = getattr(result, "close", None)
        if close is not None:
            close()
        return chunk, still_open, close is not None

    try:
        chunk, still_open, closable = call(serve_one_chunk, what="your app")
    except LearnerError as error:
        return fact("a client that leaves after one chunk: close() releases the Resource",
                    False, str(error), sent="GET /count?n=1000, then disconnect")
    problems = []
    if chunk != b"1\n":
        problems.append(f"the first chunk should be b'1\\n', it was {chunk!r}")
    if not closable:
        problems.append("what your app returned has no close(): the server cannot tell it "
                        "that the client went away")
    if opened:
        problems.append(f"{len(opened)} Resource(s) still open after close(): "
                        "close it in close() / a finally: block")
    elif still_open == 0 and closable:
        problems.append("no Resource was open while streaming: open one per response")
    return fact("a client that leaves after one chunk: close() releases the Resource",
                not problems, "\n".join(problems), sent="GET /count?n=1000, then disconnect",
                got=f"first chunk {chunk!r}; open resources after close(): {len(opened)}")


