"""Checks for the WSGI exercises (PEP 3333): 03 hello, 04 router, 05 middleware, 06 streaming.

Each check sends a request through `run_wsgi` (the lab's WSGI server) and
compares the response with the task; the coach's findings come with it.  Some
checks play a server that uses one of PEP 3333's freedoms (freedoms.py): no
QUERY_STRING, an empty CONTENT_LENGTH, a wsgi.input with no end-of-file, a
client that leaves before the body is done.
"""

from __future__ import annotations

import re
import sys
import time

from ..request import Request
from ..trace import Trace
from . import freedoms
from .core import LearnerError, call, exercise, expect, fact, failed, need, wsgi

LESSON_WSGI = "02 WSGI (notebooks/02_*.ipynb)"
LESSON_SERVERS = "03 WSGI servers (notebooks/03_*.ipynb)"
TEXT = "text/plain; charset=utf-8"
NO_QUERY = "(this server leaves QUERY_STRING out of the environ when the URL has no query)"
QUERY_RULE = (f"{freedoms.PEP_ENVIRON}: QUERY_STRING is “the portion of the request URL "
              "that follows the '?', if any. May be empty or absent.”")
QUERY_HINT = "environ.get('QUERY_STRING', '') instead of environ['QUERY_STRING']"


def _app(module):
    app = need(module, "app", "the WSGI application, a callable app(environ, start_response)")
    if not callable(app):
        raise LearnerError(f"`app` must be callable, it is a {type(app).__name__}")
    return app


# -- 03 -----------------------------------------------------------------------------

@exercise("03_wsgi_hello", "WSGI hello, world with a query string", LESSON_WSGI, hints=[
    "Call start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'), "
    "('Content-Length', str(len(body)))]) once, then return a list holding one bytes object.",
    "The query string is environ.get('QUERY_STRING', ''): PEP 3333 lets a server leave it "
    "out when the URL has none. urllib.parse.parse_qs(...).get('name', ['world'])[0] gives "
    "the name, already percent-decoded ('+' too).",
    "Encode the text to bytes with .encode('utf-8') *before* measuring Content-Length: "
    "'Jürgen' is 6 characters but 7 bytes.",
])
def check_03(module):
    app = _app(module)
    ex = wsgi(app, Request("GET", "/"))
    yield expect("GET / says hello to the world", ex, status=200, body="Hello, world!",
                 headers={"Content-Type": TEXT},
                 rule="PEP 3333 §The start_response() Callable: a status string and a list "
                      "of (name, value) str pairs; the body is an iterable of bytes",
                 hint="start_response('200 OK', [('Content-Type', 'text/plain; "
                      "charset=utf-8')]) and return [body_bytes]")
    ex = wsgi(app, Request("GET", "/?name=Ada"))
    yield expect("GET /?name=Ada greets Ada", ex, status=200, body="Hello, Ada!",
                 hint="parse_qs(environ.get('QUERY_STRING', '')).get('name', ['world'])[0]")
    ex = wsgi(app, Request("GET", "/?x=1&name=J%C3%BCrgen"))
    length = str(len("Hello, Jürgen!".encode()))
    yield expect("?x=1&name=J%C3%BCrgen: decoded, and Content-Length counts bytes", ex,
                 status=200, body="Hello, Jürgen!".encode(),
                 headers={"Content-Length": length},
                 rule="RFC 9110 §8.6: Content-Length is a number of bytes (octets)",
                 hint="body = text.encode('utf-8'); then str(len(body))")
    ex = wsgi(app, Request("GET", "/?name=Ada+Lovelace"))
    yield expect("?name=Ada+Lovelace: a '+' in a query is a space", ex, status=200,
                 body="Hello, Ada Lovelace!",
                 rule="HTML's application/x-www-form-urlencoded sends a space as '+'",
                 hint="urllib.parse.parse_qs decodes '+' (urllib.parse.unquote does not)")
    ex = wsgi(app, Request("HEAD", "/?name=Ada"))
    yield expect("HEAD works too (the server drops the body)", ex, status=200,
                 problems=[_head_length_problem(ex, len(b"Hello, Ada!"))],
                 rule="RFC 9110 §9.3.2: HEAD gets the same header fields as GET; §8.6: a "
                      "Content-Length in a HEAD response is the length the GET body would have",
                 hint="answer HEAD exactly as GET, body included: the server drops the body")
    ex = wsgi(freedoms.without(app, "QUERY_STRING"), Request("GET", "/"))
    yield expect("a server that leaves QUERY_STRING out when there is no query", ex,
                 status=200, body="Hello, world!", note=NO_QUERY, rule=QUERY_RULE,
                 hint=QUERY_HINT)


def _head_length_problem(ex, get_length: int) -> str | None:
    """RFC 9110 §8.6: a HEAD response's Content-Length, if any, is the GET body's length."""
    have = ex.response.header("Content-Length")
    if have is None or have.strip() == str(get_length):
        return None
    return (f"Content-Length: {have} on HEAD, but a GET would have a body of {get_length} "
            f"bytes: a HEAD answer carries the GET's Content-Length ({get_length}), or none")


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


ROUTE_RULE = ("PEP 3333 §environ Variables: PATH_INFO is the path *inside* the app (after "
              "SCRIPT_NAME), without the query string")
ROUTE_HINT = "route on environ['PATH_INFO'], not on REQUEST_URI or the whole URL"
LENGTH_RULE = (f"{freedoms.PEP_INPUT}: read at most CONTENT_LENGTH bytes; "
               f"{freedoms.PEP_ENVIRON}: CONTENT_LENGTH “may be empty or absent”")


@exercise("04_wsgi_router", "a WSGI router with 404 and 405 (and an Allow header)", LESSON_WSGI,
          hints=[
    "Look up environ['PATH_INFO'] in a dict of routes first: an unknown path is 404 Not Found "
    "whatever the method. Only then look at environ['REQUEST_METHOD']: a known path with the "
    "wrong method is 405 Method Not Allowed.",
    "RFC 9110 §15.5.6: a 405 response MUST carry an Allow header listing the methods the "
    "path does support, e.g. ('Allow', 'GET, POST').",
    "Read the body with environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0)): "
    "CONTENT_LENGTH may be missing or '', and read() with no size may wait forever on a real "
    "server. An empty item is 400 Bad Request.",
])
def check_04(module):
    app = _app(module)
    ex = wsgi(app, Request("GET", "/"))
    yield expect("GET / is the home page", ex, status=200, body_has="Welcome")
    ex = wsgi(app, Request("GET", "/items"))
    yield expect("GET /items lists the items", ex, status=200, body_has=["apple", "pear"])
    ex = wsgi(app, Request("POST", "/items", {"Content-Type": "text/plain"}, "plum"))
    yield expect("POST /items adds one: 201 Created", ex, status=201, body_has="plum")
    ex = wsgi(app, Request("GET", "/nowhere"))
    yield expect("an unknown path is 404 Not Found", ex, status=404)
    ex = wsgi(app, Request("POST", "/items", {"Content-Type": "text/plain; charset=utf-8"},
                           "crème".encode()))
    yield expect("POST /items with a non-ASCII item: Content-Length counts bytes", ex,
                 status=201, body_has="crème".encode(),
                 rule="RFC 9110 §8.6: Content-Length is a number of bytes (octets)",
                 hint="body = text.encode('utf-8'); then str(len(body)): 'crème' is 5 "
                      "characters but 6 bytes")
    ex = wsgi(app, Request("DELETE", "/items"))
    yield expect("DELETE /items is 405 with Allow: GET, POST (RFC 9110 §15.5.6)", ex,
                 status=405, headers={"Allow": _allow_ok({"GET", "POST"})},
                 rule="RFC 9110 §15.5.6: a 405 response MUST include an Allow header",
                 hint="('Allow', ', '.join(sorted(methods_of_this_path)))")
    ex = wsgi(app, Request("POST", "/"))
    yield expect("POST / is 405 with Allow: GET", ex, status=405,
                 headers={"Allow": _allow_ok({"GET"})})
    ex = wsgi(app, Request("DELETE", "/nowhere"))
    yield expect("DELETE /nowhere is 404: the path decides before the method", ex, status=404,
                 rule="RFC 9110 §15.5.5/§15.5.6: 405 means the resource exists but not with "
                      "this method; a path that does not exist is 404",
                 hint="look the path up first; check the method only for a known path")
    ex = wsgi(app, Request("GET", "/items?sort=asc"))
    yield expect("GET /items?sort=asc still lists the items (the query is not the path)", ex,
                 status=200, body_has=["apple", "pear"], rule=ROUTE_RULE, hint=ROUTE_HINT)
    ex = wsgi(app, Request("GET", "/shop/items"), script_name="/shop")
    yield expect("mounted at /shop: GET /shop/items lists the items", ex, status=200,
                 body_has=["apple", "pear"],
                 note="(the server mounts the app at /shop: SCRIPT_NAME='/shop', "
                      "PATH_INFO='/items')", rule=ROUTE_RULE, hint=ROUTE_HINT)
    streams: list = []
    ex = wsgi(freedoms.no_eof(app, streams),
              Request("POST", "/items", {"Content-Type": "text/plain"}, "fig"))
    stalled = freedoms.stalled_problem(streams)
    yield expect("POST /items on a server whose wsgi.input has no end-of-file", ex, status=201,
                 body_has="fig", problems=[stalled],
                 note="(wsgi.input gives CONTENT_LENGTH bytes, then would wait: like wsgiref)",
                 rule=LENGTH_RULE,
                 hint="environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))")
    ex = wsgi(freedoms.empty(app, "CONTENT_LENGTH"), Request("POST", "/items"))
    yield expect("POST /items with no body is 400, on a server that sets CONTENT_LENGTH to ''",
                 ex, status=400,
                 note="(no body; this server puts CONTENT_LENGTH='' in the environ)",
                 rule=LENGTH_RULE,
                 hint="int(environ.get('CONTENT_LENGTH') or 0): `or 0` covers '' and absent")


# -- 05 -----------------------------------------------------------------------------

class _Inner:
    """The app the learner's middleware wraps: it waits `delay` before start_response,
    `gap` between its body chunks, and counts close().  `lazy` calls start_response from
    inside the first iteration (PEP 3333 allows it); `fail_after` raises after that many
    chunks, as a database error half way through a page would."""

    def __init__(self, status="200 OK", delay=0.06, gap=0.0, lazy=False, fail_after=None):
        self.status, self.delay, self.gap, self.lazy = status, delay, gap, lazy
        self.fail_after = fail_after
        self.closed = 0

    def __call__(self, environ, start_response):
        if self.lazy:
            return self._lazy(start_response)
        time.sleep(self.delay)
        start_response(self.status, [("Content-Type", TEXT), ("X-Inner", "yes")])
        return _InnerBody(self)

    def _lazy(self, start_response):
        body = _InnerBody(self)

        class Lazy:
            def __iter__(self):
                time.sleep(body.app.delay)
                start_response(body.app.status, [("Content-Type", TEXT), ("X-Inner", "yes")])
                yield from body

            def close(self):
                body.close()
        return Lazy()


class _InnerBody:
    def __init__(self, app: _Inner):
        self.app = app

    def __iter__(self):
        for i, chunk in enumerate((b"inner ", b"body")):
            if self.app.fail_after is not None and i >= self.app.fail_after:
                raise ConnectionError("the database went away half way")
            if i:
                time.sleep(self.app.gap)
            yield chunk

    def close(self):
        self.app.closed += 1


_MS = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*ms\b")


def _timing_ok(min_ms: float):
    def judge(value: str) -> str:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms)?\s*", value)
        if not m:
            return "should be a number of milliseconds, e.g. '61.2ms'"
        if float(m.group(1)) < min_ms:
            return (f"the wrapped app took at least {min_ms:.0f} ms before it called "
                    "start_response, so the header should say at least that much")
        return ""
    return judge


def _log_lines(ex) -> list[str]:
    return [e.detail for e in ex.trace.events if e.kind == "wsgi.errors"]


def _logged_after_body(ex) -> bool:
    """The log line came after the last body chunk went to the client."""
    kinds = [e.kind for e in ex.trace.events]
    if "wsgi.errors" not in kinds:
        return False
    last_body = max((i for i, k in enumerate(kinds) if k == "send body"), default=-1)
    return kinds.index("wsgi.errors") > last_body


LOG_RULE = ("PEP 3333 §The start_response() Callable: the headers list is the server's once "
            "passed (\"the server may change its contents in any way it desires\") and goes "
            "out before the body; the server calls close() when the body is done, so the full "
            "time is known only there")
LOG_HINT = ("return a small iterable that passes the inner body through and, in its close(), "
            "calls the inner close() and then writes the log line with the time so far")


def _wrap(wrap, inner):
    return call(wrap, inner, what="TimingMiddleware(app)")


@exercise("05_wsgi_middleware", "WSGI middleware: a timing header and a log line in wsgi.errors",
          LESSON_SERVERS, hints=[
    "Middleware is a WSGI app that calls another WSGI app: TimingMiddleware(app) returns an "
    "object whose __call__(environ, start_response) calls self.app(environ, my_start_response).",
    "Your own start_response adds ('X-Response-Time', f'{ms:.1f}ms') to the headers, the time "
    "until the app called it (the headers go out before the body, so that is all a header can "
    "say), remembers the status, and calls the server's start_response.",
    "The full time is known only when the body is done: return an object whose __iter__ "
    "gives the inner body and whose close() calls the inner close() and then writes "
    "f'{method} {path} {status} {ms:.1f}ms\\n' to environ['wsgi.errors'] (in a finally:).",
])
def check_05(module):
    wrap = need(module, "TimingMiddleware",
                "a class (or function) TimingMiddleware(app) returning a WSGI app")
    inner = _Inner(gap=0.1)
    ex = wsgi(_wrap(wrap, inner), Request("GET", "/report?year=2024"))
    yield expect("the inner app's status, headers and body pass through unchanged", ex,
                 status=200, body="inner body", headers={"X-Inner": "yes", "Content-Type": TEXT},
                 rule="PEP 3333 §Middleware: a middleware is an app to its server and a "
                      "server to its app",
                 hint="return self.app(environ, my_start_response)'s body to the server")
    yield expect("X-Response-Time: the time until start_response (the app waits 60 ms first)",
                 ex, headers={"X-Response-Time": _timing_ok(50)}, coach=False,
                 rule="PEP 3333 §The start_response() Callable: the list is the server's from "
                      "there (\"the server may change its contents in any way it desires\")",
                 hint="measure from the call into the app to your start_response, in ms")
    lines = _log_lines(ex)
    line = next((x for x in lines if "GET" in x and "/report" in x and "200" in x), None)
    problems = []
    if line is None:
        problems.append("expected a line like 'GET /report 200 123.4ms' written to "
                        f"environ['wsgi.errors']; it received {lines!r}")
    else:
        m = _MS.search(line)
        if not m:
            problems.append(f"the line {line!r} should end with the full time, e.g. '123.4ms'")
        elif float(m.group(1)) < 140:
            problems.append(f"the line says {m.group(1)} ms, but the whole response took at "
                            "least 160 ms (60 before start_response, then 100 for the body): "
                            "measure when the body is done, in close()")
        if not _logged_after_body(ex):
            problems.append("the line was written before the body was sent: write it when "
                            "the server calls close()")
    yield fact("one line in wsgi.errors when the body is done: method, path, status, full time",
               not problems, "\n".join(problems),
               sent="GET /report?year=2024 (the app waits 60 ms, then its body 100 ms more)",
               got=f"wsgi.errors lines: {lines!r}", rule=LOG_RULE, hint=LOG_HINT)
    yield fact("the inner app's close() is called once by the server", inner.closed == 1,
               f"the inner iterable's close() was called {inner.closed} time(s)",
               sent="GET /report?year=2024", got=f"close() calls: {inner.closed}",
               rule=f"{freedoms.PEP_CLOSE}: close() must reach the wrapped iterable",
               hint="your close() calls the inner body's close(), if it has one")
    inner404 = _Inner("404 Not Found", delay=0)
    ex = wsgi(_wrap(wrap, inner404), Request("POST", "/missing", {"Content-Type": "text/plain"},
                                             "x"))
    lines = _log_lines(ex)
    ok = any("POST" in x and "/missing" in x and "404" in x for x in lines)
    yield expect("a 404 from the inner app is passed through and logged", ex, status=404,
                 headers={"X-Response-Time": _timing_ok(0)},
                 problems=[None if ok else f"expected a log line with POST /missing 404, "
                           f"got {lines!r}"])
    lazy = _Inner(delay=0.06, lazy=True)
    ex = wsgi(_wrap(wrap, lazy), Request("GET", "/lazy"))
    lines = _log_lines(ex)
    ok = any("/lazy" in x and "200" in x for x in lines)
    yield expect("an inner app that calls start_response only when its body is first "
                 "iterated", ex, status=200, body="inner body",
                 headers={"X-Response-Time": _timing_ok(50)},
                 problems=[None if ok else f"expected a log line with GET /lazy 200, got "
                           f"{lines!r}"],
                 rule="PEP 3333 §The start_response() Callable: “this invocation may be "
                      "performed by the iterable's first iteration”",
                 hint="do not read the status right after self.app(...) returns: it may not "
                      "be known until the body is iterated")
    yield _middleware_client_leaves(wrap)
    yield _middleware_body_fails(wrap)
    yield from _middleware_start_response(wrap)


def _writes(environ, start_response):
    """An inner app that sends part of its body with the legacy write() callable."""
    write = start_response("200 OK", [("Content-Type", TEXT)])
    write(b"written, ")
    return [b"then returned"]


def _error_page(environ, start_response):
    """An inner app that handles its own error: a second start_response with exc_info,
    before any body went out (PEP 3333 §Error Handling, the example)."""
    start_response("200 OK", [("Content-Type", TEXT)])
    try:
        raise LookupError("no such report")
    except LookupError:
        start_response("500 Internal Server Error", [("Content-Type", TEXT)], sys.exc_info())
    return [b"the error page"]


def _middleware_start_response(wrap):
    """The start_response the middleware gives its app must be a whole start_response:
    it returns write() and takes exc_info, and passes both on."""
    ex = wsgi(_wrap(wrap, _writes), Request("GET", "/written"))
    yield expect("an inner app that writes part of its body with write()", ex, status=200,
                 body="written, then returned", note="(the inner app calls the write() that "
                 "start_response returned)",
                 rule="PEP 3333 §The start_response() Callable: start_response “must return a "
                      "write(body_data) callable”; a middleware's start_response is one too",
                 hint="return start_response(status, headers, exc_info): the server's write()")
    ex = wsgi(_wrap(wrap, _error_page), Request("GET", "/failing"))
    yield expect("an inner app that replaces its status with start_response(..., exc_info)",
                 ex, status=500, body="the error page",
                 headers={"X-Response-Time": _timing_ok(0)},
                 note="(the inner app calls start_response('200 OK', ...), then, on an error "
                      "before any body, start_response('500 ...', headers, sys.exc_info()))",
                 rule="PEP 3333 §The start_response() Callable: a second call is allowed “if "
                      "and only if the exc_info argument is provided”: a middleware takes "
                      "exc_info and passes it on",
                 hint="def my_start_response(status, headers, exc_info=None): ... return "
                      "start_response(status, headers, exc_info)")


def _middleware_client_leaves(wrap):
    title = "a client that leaves after the first chunk: inner close() runs, the line is logged"
    inner = _Inner(delay=0)
    from ..wsgi import build_environ

    trace = Trace("wsgi")
    environ = build_environ(Request("GET", "/early"), trace)
    try:
        app = _wrap(wrap, inner)
        taken, closable, _ = call(freedoms.serve_partly, app, environ, 1, what="your middleware")
    except LearnerError as error:
        return failed(title, error, sent="GET /early, then the client disconnects")
    lines = [e.detail for e in trace.events if e.kind == "wsgi.errors"]
    problems = []
    if not closable:
        problems.append("what your middleware returned has no close(): the server cannot tell "
                        "it that the client left")
    if inner.closed != 1:
        problems.append(f"the inner close() was called {inner.closed} time(s), expected once")
    if not any("/early" in x for x in lines):
        problems.append(f"expected a log line for GET /early, wsgi.errors got {lines!r}")
    return fact(title, not problems, "\n".join(problems),
                sent="GET /early; the server takes one chunk, then calls close()",
                got=f"chunks {taken!r}; inner close() calls: {inner.closed}; log {lines!r}",
                rule=f"{freedoms.PEP_CLOSE}: close() is called “whether the request was "
                     "completed normally, or terminated early”",
                hint="write the line in close() (in a finally:), not after the last chunk")


def _middleware_body_fails(wrap):
    title = "an inner body that raises half way: inner close() runs, the line is logged"
    inner = _Inner(delay=0, fail_after=1)
    ex = wsgi(_wrap(wrap, inner), Request("GET", "/broken"))
    lines = _log_lines(ex)
    problems = []
    if inner.closed != 1:
        problems.append(f"the inner close() was called {inner.closed} time(s), expected once")
    if not any("/broken" in x for x in lines):
        problems.append(f"expected a log line for GET /broken, wsgi.errors got {lines!r}")
    return fact(title, not problems, "\n".join(problems),
                sent="GET /broken (the inner body raises ConnectionError after one chunk)",
                got=f"inner close() calls: {inner.closed}; log {lines!r}",
                rule=f"{freedoms.PEP_CLOSE}: close() runs also when the request is "
                     "“terminated early due to an application error during iteration”",
                hint="call the inner close() and log in a finally: inside your close()")


# -- 06 -----------------------------------------------------------------------------

LEAK_RULE = (f"{freedoms.PEP_CLOSE}: the server calls close() “whether the request was "
             "completed normally, or terminated early due to an application error during "
             "iteration or an early disconnect”")
LEAK_HINT = ("open the Resource inside the generator and close it in a finally: around the "
             "loop (a generator that never started has nothing open)")


@exercise("06_wsgi_streaming", "WSGI streaming that cleans up in close()", LESSON_WSGI, hints=[
    "Return an iterable that yields one bytes chunk per line (f'{i}\\n'.encode()), not one "
    "joined body: the server sends each chunk as it comes (PEP 3333 §Buffering and Streaming).",
    "The server calls close() on what you return when it is done, even when the client went "
    "away half way or before the first chunk (PEP 3333 §Specification Details). A generator "
    "has close(): put resource.close() in a `finally:` around the loop.",
    "Open the Resource *inside* the generator: if the client leaves before the first chunk, "
    "close() of a generator that never started runs none of its code. Read n with "
    "environ.get('QUERY_STRING', '') (default 10), and never set Content-Length to a guess.",
])
def check_06(module):
    app = _app(module)
    opened = need(module, "OPEN", "the set of open Resource objects (it is in the stub)")
    opened.clear()
    made = _count_resources(module)
    ex = wsgi(app, Request("GET", "/count?n=5"))
    sends = sum(1 for e in ex.trace.events if e.kind == "send body")
    yield expect("GET /count?n=5 streams 1..5, one line per chunk", ex, status=200,
                 body="1\n2\n3\n4\n5\n",
                 problems=[None if sends >= 5 else
                           f"expected at least 5 separate body chunks, the server sent {sends}: "
                           "yield each line instead of returning one joined body"],
                 rule="PEP 3333 §Buffering and Streaming: each yielded block is sent on",
                 hint="a generator: for i in range(1, n + 1): yield f'{i}\\n'.encode()")
    problems = []
    if not made:
        problems.append("no Resource() was made for the response: use one while streaming")
    if opened:
        problems.append(f"{len(opened)} Resource(s) still open after the server called "
                        "close(); release it in close() / a finally: block")
    yield fact("the response uses a Resource and it is closed afterwards", not problems,
               "\n".join(problems), sent="GET /count?n=5",
               got=f"Resources made: {len(made)}, still open: {len(opened)}", rule=LEAK_RULE,
               hint=LEAK_HINT)
    opened.clear()
    ex = wsgi(app, Request("GET", "/count?n=12"))
    yield expect("GET /count?n=12: two-digit lines, and no wrong Content-Length", ex,
                 status=200, body="".join(f"{i}\n" for i in range(1, 13)),
                 rule="PEP 3333 §Handling the Content-Length Header: leave it out when the length "
                      "is not known; the server frames the stream",
                 hint="do not send a Content-Length you guessed")
    opened.clear()
    ex = wsgi(freedoms.without(app, "QUERY_STRING"), Request("GET", "/count"))
    yield expect("GET /count on a server that leaves QUERY_STRING out: 10 lines", ex,
                 status=200, body="".join(f"{i}\n" for i in range(1, 11)), note=NO_QUERY,
                 rule=QUERY_RULE, hint=QUERY_HINT)
    opened.clear()
    yield _client_goes_away(app, opened, 1)
    opened.clear()
    yield _client_goes_away(app, opened, 0)


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


def _client_goes_away(app, opened, chunks: int):
    """Play a server whose client disconnects after `chunks` chunks (0: before the first):
    it stops iterating and calls close() at once (PEP 3333 §Specification Details)."""
    when = "after one chunk" if chunks else "before the first chunk"
    title = f"a client that leaves {when}: close() releases the Resource"
    sent = f"GET /count?n=1000, then the client disconnects {when}"
    from ..wsgi import build_environ

    environ = build_environ(Request("GET", "/count?n=1000"), Trace("wsgi"))
    seen = {}

    def serve():
        taken, closable, _ = freedoms.serve_partly(
            _Watch(app, opened, seen), environ, chunks)
        return taken, closable

    try:
        taken, closable = call(serve, what="your app")
    except LearnerError as error:
        return failed(title, error, sent=sent)
    problems = []
    if chunks and taken[:1] != [b"1\n"]:
        problems.append(f"the first chunk should be b'1\\n', it was {taken[:1]!r}")
    if not closable:
        problems.append("what your app returned has no close(): the server cannot tell it "
                        "that the client went away")
    if opened:
        problems.append(f"{len(opened)} Resource(s) still open after close(): "
                        "close it in close() / a finally: block"
                        + ("; a generator that never started runs none of its code, so open "
                           "the Resource inside it" if not chunks else ""))
    elif chunks and seen.get("open_while_streaming") == 0:
        problems.append("no Resource was open while streaming: open one per response")
    return fact(title, not problems, "\n".join(problems), sent=sent,
                got=f"chunks taken {taken!r}; resources open after close(): {len(opened)}",
                rule=LEAK_RULE, hint=LEAK_HINT)


class _Watch:
    """Wraps the app's iterable to count the Resources open while it streams."""

    def __init__(self, app, opened, seen):
        self.app, self.opened, self.seen = app, opened, seen

    def __call__(self, environ, start_response):
        result = self.app(environ, start_response)
        watch = self

        class Body:
            def __iter__(self):
                for chunk in result:
                    watch.seen["open_while_streaming"] = len(watch.opened)
                    yield chunk

        body = Body()
        if hasattr(result, "close"):
            body.close = result.close
        return body
