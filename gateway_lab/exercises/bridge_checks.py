"""Checks for 12 (a WSGI-to-ASGI adapter) and 14 (a port to Starlette): one interface
under the other, compared request by request with the lab's own WSGI server."""

from __future__ import annotations

import sys
import threading
import time

from ..request import Request
from . import freedoms
from .asgi_checks import LESSON_ASGI, TEXT
from .core import (
    LearnerError,
    asgi,
    call,
    call_async,
    describe,
    exercise,
    expect,
    fact,
    failed,
    need,
    wsgi,
)

LESSON_BRIDGES = "08 Bridges (notebooks/08_*.ipynb)"
COMPAT = "ASGI HTTP spec §WSGI Compatibility"


# -- 12: WSGI to ASGI -------------------------------------------------------------------

class _Closing:
    """A WSGI app the adapter must wrap: echoes what it saw, counts close()."""

    def __init__(self):
        self.closed = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Type", TEXT), ("X-Method",
                                                            environ["REQUEST_METHOD"])])
        where = f"{environ.get('SCRIPT_NAME', '')}|{environ['PATH_INFO']}"
        return _Body(self, [b"you sent ", data, b" to ", where.encode("latin-1"), b"?",
                            environ.get("QUERY_STRING", "").encode("latin-1")])


class _Body:
    def __init__(self, app, chunks, fail_after=None, gap=0.0):
        self.app, self.chunks, self.fail_after, self.gap = app, chunks, fail_after, gap

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if self.fail_after is not None and i >= self.fail_after:
                raise ConnectionError("the database went away half way")
            if i and self.gap:
                time.sleep(self.gap)
            yield chunk

    def close(self):
        with self.app.lock:
            self.app.closed += 1


class _Streaming(_Closing):
    """Yields a first chunk, then waits (up to 1 s) for a sign that the client has it."""

    def __init__(self):
        super().__init__()
        self.client_has_first = threading.Event()

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", TEXT)])
        return self._body()

    def _body(self):
        try:
            yield b"first\n"
            streamed = self.client_has_first.wait(1.0)
            yield b"then the rest\n" if streamed else b"(the client still had nothing)\n"
        finally:
            with self.lock:
                self.closed += 1


class _Slow(_Closing):
    """A WSGI app that takes 0.15 s of blocking work before it answers."""

    def __call__(self, environ, start_response):
        time.sleep(0.15)
        start_response("200 OK", [("Content-Type", TEXT)])
        return _Body(self, [b"slow but fine\n"])


class _Failing(_Closing):
    def __init__(self, fail_after=1, gap=0.0, n=2):
        super().__init__()
        self.fail_after, self.gap, self.n = fail_after, gap, n

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", TEXT)])
        return _Body(self, [f"line {i}\n".encode() for i in range(self.n)],
                     self.fail_after, self.gap)


class _SlowBody(_Closing):
    """A WSGI app that answers at once but whose body takes 0.15 s of blocking work (a
    template rendered, rows fetched, as the server iterates it)."""

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", TEXT)])
        return self._body()

    def _body(self):
        try:
            time.sleep(0.15)
            yield b"rendered slowly\n"
        finally:
            with self.lock:
                self.closed += 1


def _error_page(environ, start_response):
    """A WSGI app that replaces its 200 with a 500 when it fails before any body went out,
    as PEP 3333 §Error Handling shows."""
    start_response("200 OK", [("Content-Type", TEXT)])
    try:
        raise LookupError("no such item")
    except LookupError:
        start_response("500 Internal Server Error", [("Content-Type", TEXT)], sys.exc_info())
    return [b"the error page\n"]


def _starts_twice(environ, start_response):
    """A WSGI app that calls start_response twice without exc_info: a fatal error."""
    start_response("200 OK", [("Content-Type", TEXT)])
    start_response("404 Not Found", [("Content-Type", TEXT)])
    return [b"which status?\n"]


# The environ keys whose values must match what a WSGI server gives (PEP 3333 §environ
# Variables); a missing QUERY_STRING, CONTENT_TYPE, CONTENT_LENGTH or SCRIPT_NAME counts
# as "" (the first three "may be empty or absent").
_COMPARED = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
             "CONTENT_LENGTH")
# What wsgiref.validate insists on (PEP 3333 §environ Variables, "must be present").
_REQUIRED = ("REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "wsgi.version", "wsgi.input",
             "wsgi.errors", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
             "wsgi.url_scheme")


def _environ_report(environ, start_response):
    """A WSGI app that answers with what it found in its environ, one line each."""
    lines = [f"{k}={environ.get(k, '')!r}" for k in _COMPARED]
    lines += [f"{k}={v!r}" for k, v in sorted(environ.items()) if k.startswith("HTTP_")]
    lines += [f"missing {k}" for k in _REQUIRED if k not in environ]
    lines += [f"{k} is of type {type(v).__name__}, not str" for k, v in sorted(environ.items())
              if "." not in k and not isinstance(v, str)]
    if not callable(getattr(environ.get("wsgi.errors"), "write", None)):
        lines.append("wsgi.errors has no write()")
    start_response("200 OK", [("Content-Type", TEXT)])
    return ["\n".join(lines).encode("latin-1", "replace")]


def _not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", TEXT), ("Set-Cookie", "a=1"),
                                     ("Set-Cookie", "b=2")])
    return [b"no such page\n"]


CLOSE_RULE = (f"{freedoms.PEP_CLOSE}: close() is called “whether the request was completed "
              "normally, or terminated early due to an application error during iteration or "
              "an early disconnect”")
CLOSE_HINT = "result = wsgi_app(...); try: for chunk in result: ... finally: result.close()"


@exercise("12_wsgi_to_asgi", "your own WSGI-to-ASGI adapter: streaming, in a thread, "
          "closing, mounted", LESSON_BRIDGES,
          needs_threads="your adapter runs the WSGI app in a thread, off the event loop",
          hints=[
    "wsgi_to_asgi(wsgi_app) returns `async def app(scope, receive, send)`. For an http scope: "
    "read the whole request body first (loop on receive() while message.get('more_body', "
    "False)), then build an environ: method, SCRIPT_NAME = root_path, PATH_INFO = path with "
    "root_path cut off the front, QUERY_STRING as latin-1 str, headers as HTTP_* keys, "
    "CONTENT_TYPE/CONTENT_LENGTH without HTTP_.",
    "A WSGI app blocks: run it and its iteration in a thread (asyncio.to_thread). From that "
    "thread, send each chunk as it comes: asyncio.run_coroutine_threadsafe(send(message), "
    "loop).result() (http.response.start before the first non-empty chunk, body messages "
    "with more_body=True, a last one with more_body=False).",
    "Wrap the iteration in try/finally and call result.close() in the finally if it has one "
    "(PEP 3333 §Specification Details): when the client leaves, send() raises, and the "
    "finally still runs.",
])
def check_12(module):
    adapt = need(module, "wsgi_to_asgi", "wsgi_to_asgi(wsgi_app) -> an ASGI app")
    inner, reference = _Closing(), _Closing()
    app = call(adapt, inner, what="wsgi_to_asgi(app)")
    requests = [
        ("GET with a query string", Request("GET", "/hello?x=1&y=%20"), {}, {}),
        ("POST with a body in 3 chunks", Request("POST", "/items", {"Content-Type": TEXT},
                                                 chunks=[b"ab", b"cd", b"ef"]), {}, {}),
        ("mounted at /app (root_path): SCRIPT_NAME is /app, PATH_INFO what follows",
         Request("GET", "/app/hello?x=1"), {"script_name": "/app"}, {"root_path": "/app"}),
    ]
    for title, request, wsgi_options, asgi_options in requests:
        want = wsgi(reference, request, **wsgi_options).response
        ex = asgi(app, request, **asgi_options)
        mounted = bool(asgi_options)
        yield expect(f"{title}: the same response as under a WSGI server", ex,
                     status=want.status, body=want.body,
                     headers={"X-Method": request.method, "Content-Type": TEXT},
                     note="(the ASGI server gives root_path='/app', path='/app/hello'; the "
                          "WSGI server SCRIPT_NAME='/app', PATH_INFO='/hello')" if mounted
                     else "",
                     rule=f"{COMPAT}: “SCRIPT_NAME is root_path; PATH_INFO can be derived by "
                          "stripping root_path from path”" if mounted else
                          f"{COMPAT}: the environ comes from the scope",
                     hint="environ['PATH_INFO'] = path[len(root_path):] if "
                          "path.startswith(root_path) else path" if mounted else
                          "compare your environ with gateway_lab.wsgi.build_environ's")
    n = len(requests)
    yield fact("close() of the WSGI iterable is called once per request", inner.closed == n,
               f"the WSGI app's iterable was closed {inner.closed} time(s) for {n} requests "
               "through your adapter", got=f"close() calls: {inner.closed}", rule=CLOSE_RULE,
               hint=CLOSE_HINT)
    app = call(adapt, _not_found, what="wsgi_to_asgi(app)")
    ex = asgi(app, Request("GET", "/missing"))
    cookies = [v for k, v in ex.response.headers if k.lower() == "set-cookie"]
    yield expect("status and repeated headers pass through (404, two Set-Cookie)", ex,
                 status=404, body="no such page\n",
                 problems=[None if cookies == ["a=1", "b=2"] else
                           f"expected two Set-Cookie headers a=1 and b=2, got {cookies!r}"],
                 rule="ASGI HTTP spec §Response Start: headers are a list of pairs, repeats "
                      "kept", hint="one (name, value) pair per WSGI header, in order")
    reference, inner = _Closing(), _Closing()
    request = Request("POST", "/items", {"Content-Type": TEXT}, chunks=[b"ab", b"cd"])
    want = wsgi(reference, request).response
    ex = asgi(freedoms.bare_messages(call(adapt, inner, what="wsgi_to_asgi(app)")), request)
    yield expect("a server that leaves out the optional keys body and more_body", ex,
                 status=want.status, body=want.body,
                 note="(this server leaves 'more_body' out of the last http.request)",
                 rule=f"{freedoms.ASGI_REQUEST}: body and more_body are optional "
                      "(defaults b'' and False)",
                 hint="message.get('body', b'') and message.get('more_body', False)")
    slow = _Slow()
    ex = asgi(call(adapt, slow, what="wsgi_to_asgi(app)"), Request("GET", "/slow"))
    blocked = [f for f in ex.findings if f.rule == "asgi.loop.blocked"]
    yield expect("a WSGI app that works for 0.15 s does not block the event loop", ex,
                 status=200, body="slow but fine\n",
                 problems=["the WSGI app ran on the event loop thread: while it worked, no "
                           "other request could run" if blocked else None],
                 rule=f"{COMPAT}: “WSGI applications, being synchronous, must be run in a "
                      "threadpool in order to be served”",
                 hint="await asyncio.to_thread(...) around the call and the iteration")
    ex = asgi(call(adapt, _SlowBody(), what="wsgi_to_asgi(app)"), Request("GET", "/render"))
    blocked = [f for f in ex.findings if f.rule == "asgi.loop.blocked"]
    yield expect("a WSGI body whose iteration works for 0.15 s does not block the event loop",
                 ex, status=200, body="rendered slowly\n",
                 problems=["the WSGI body was iterated on the event loop thread: each next() "
                           "on it ran the app's code there, and nothing else could run"
                           if blocked else None],
                 note="(the app returns at once; its generator works 0.15 s before the first "
                      "chunk)",
                 rule=f"{COMPAT}: WSGI applications “must be run in a threadpool”: iterating "
                      "the body runs the application's code too",
                 hint="call the app *and* loop over its body in the thread; send each chunk "
                      "from there")
    yield from _environ_and_start_response(adapt)
    yield _streams(adapt)
    failing = _Failing(fail_after=1)
    ex = asgi(call(adapt, failing, what="wsgi_to_asgi(app)"), Request("GET", "/broken"))
    yield fact("a WSGI body that raises half way: close() still runs", failing.closed == 1,
               f"the WSGI iterable's close() was called {failing.closed} time(s), expected "
               "once", sent="GET /broken (the WSGI body raises ConnectionError after one chunk)",
               got=f"close() calls: {failing.closed}; status {ex.response.status}",
               rule=CLOSE_RULE, hint=CLOSE_HINT)
    yield _client_leaves(adapt)


def _environ_and_start_response(adapt):
    request = Request("POST", "/env?q=a%20b", [("Content-Type", TEXT), ("Accept", "text/html"),
                                               ("Accept", "application/json"),
                                               ("X-Trace-Id", "abc")], b"hi")
    want = wsgi(_environ_report, request).response
    ex = asgi(call(adapt, _environ_report, what="wsgi_to_asgi(app)"), request)
    yield expect("the environ holds what a WSGI server puts there: str values, HTTP_* keys, "
                 "a repeated header joined", ex, status=200,
                 problems=[_environ_difference(want.body, ex.response.body)],
                 note="(the request has two Accept headers; the WSGI app lists its environ)",
                 rule="PEP 3333 §environ Variables: the CGI keys are native strings (str), "
                      "wsgi.* keys are required; RFC 3875 §4.1.18: HTTP_ + the name upper-cased "
                      "with '-' as '_', repeated headers joined with ', '",
                 hint="compare your environ with gateway_lab.wsgi.build_environ's: "
                      "str(port), and one 'a, b' value for a header sent twice")
    for app, title, hint in (
            (_error_page, "a WSGI app that replaces its status with start_response(..., "
             "exc_info): the 500 goes out, not the 200",
             "keep status and headers until the first non-empty chunk; a second call with "
             "exc_info replaces them (and raises exc_info[1] only if they were sent)"),
            (_starts_twice, "a WSGI app that calls start_response twice without exc_info: "
             "an error, as on a WSGI server",
             "in start_response: if a status is set already and exc_info is None, raise "
             "(PEP 3333 calls it a fatal error)")):
        request = Request("GET", "/twice")
        want = wsgi(app, request).response
        ex = asgi(call(adapt, app, what="wsgi_to_asgi(app)"), request)
        result = expect(title, ex, status=want.status, coach=False,
                     body=want.body if app is _error_page else None,
                     rule="PEP 3333 §The start_response() Callable: a second call is allowed "
                          "“if and only if the exc_info argument is provided”; it is “a fatal "
                          "error” otherwise; headers go out only with the first non-empty chunk",
                     hint=hint)
        if result.passed and app is _starts_twice:
            # Raising is the right answer to a fatal error: the coach's "your app raised"
            # is then what the check asks for, not a broken rule to show.
            result.findings = []
        yield result


def _environ_difference(want: bytes, got: bytes) -> str | None:
    """What the WSGI app saw under the adapter and not under a WSGI server, line by line."""
    wanted = want.decode("latin-1").splitlines()
    seen = got.decode("latin-1").splitlines()
    wrong = [f"    your environ: {line}" for line in seen if line not in wanted]
    wrong += [f"    a WSGI server's: {line}" for line in wanted if line not in seen
              and not line.startswith(("missing ", "wsgi.errors "))]
    if not wrong:
        return None
    return "the WSGI app found another environ than under a WSGI server:\n" + "\n".join(wrong)


def _streams(adapt):
    title = "it streams: the first chunk reaches the client before the WSGI app is done"
    inner = _Streaming()
    sent = ("GET /stream; the WSGI app yields b'first\\n', then waits up to 1 s for the "
            "client to have it")

    def on_send(message):
        if message.get("type") == "http.response.body" and message.get("body"):
            inner.client_has_first.set()

    try:
        app = call(adapt, inner, what="wsgi_to_asgi(app)")
        played = call_async(lambda: freedoms.play_http(app, Request("GET", "/stream"),
                                                       on_send=on_send, limit=3.0),
                            what="GET /stream through your adapter", timeout=4.0)
    except LearnerError as error:
        return failed(title, error, sent=sent)
    want = b"first\nthen the rest\n"
    problems = []
    if played.body != want:
        problems.append(f"expected the body {want!r}, got {played.body!r}: the client got "
                        "nothing until the WSGI app had finished (the adapter buffers the "
                        "whole body)")
    if played.error is not None:
        problems.append(f"the adapter raised {describe(played.error)}")
    return fact(title, not problems, "\n".join(problems), sent=sent,
                got=f"{len(played.body_messages)} body messages, body {played.body!r}",
                rule="PEP 3333 §Buffering and Streaming: each block goes to the client as it "
                     "is yielded; lesson 08 asks the bridge to keep that",
                hint="send each chunk from the thread as soon as it is yielded, with "
                     "asyncio.run_coroutine_threadsafe(send(...), loop).result()")


def _client_leaves(adapt):
    title = "a client that leaves mid-stream: send() raises, close() still runs"
    inner = _Failing(fail_after=None, gap=0.02, n=50)
    sent = ("GET /long (50 chunks); after the first body message the client leaves: send() "
            "raises an OSError")
    try:
        app = call(adapt, inner, what="wsgi_to_asgi(app)")
        played = call_async(lambda: freedoms.play_http(app, Request("GET", "/long"),
                                                       leave_after_bodies=1, linger=1.0),
                            what="GET /long through your adapter (the client leaves)",
                            timeout=4.0)
    except LearnerError as error:
        return failed(title, error, sent=sent)
    deadline = time.monotonic() + 1.0
    while inner.closed == 0 and time.monotonic() < deadline:  # the thread may still be closing
        time.sleep(0.01)
    problems = []
    if inner.closed != 1:
        problems.append(f"the WSGI iterable's close() was called {inner.closed} time(s), "
                        "expected once")
    if played.still_running:
        problems.append("the adapter was still running 1 s after the client left")
    return fact(title, not problems, "\n".join(problems), sent=sent,
                got=f"close() calls: {inner.closed}; messages after the client left: "
                    f"{len(played.after_leaving)}", rule=CLOSE_RULE, hint=CLOSE_HINT)


# -- 14: WSGI to Starlette --------------------------------------------------------------

PORT_REQUESTS = [
    Request("GET", "/"),
    Request("GET", "/hello/Ada"),
    Request("GET", "/hello/J%C3%BCrgen?shout=1"),
    # parse_qs drops a blank value, so ?shout= does not shout; "shout" in query_params
    # would (Starlette keeps blank values).
    Request("GET", "/hello/Ada?shout="),
    Request("POST", "/echo", {"Content-Type": "application/json"}, b'{"a": [1, 2]}'),
    Request("POST", "/echo", {"Content-Type": "application/json"}, b"not json"),
    Request("GET", "/nowhere"),
    # The WSGI app compares method and path together: a known path with the other
    # method is its 404, where Starlette's routing would answer 405; and its
    # startswith("/hello/") takes a name with a "/" in it.
    Request("POST", "/", {"Content-Type": "text/plain"}, b"x"),
    Request("GET", "/echo"),
    Request("GET", "/hello/Ada/Lovelace"),
]


@exercise("14_starlette_port", "port a WSGI app to Starlette with identical responses",
          LESSON_ASGI, hints=[
    "One Route per path: Route('/', home), Route('/hello/{name:path}', hello) (a name "
    "may hold a '/'), Route('/echo', echo, methods=['POST']); each endpoint is "
    "`async def f(request)`.",
    "Match the WSGI app's bodies *and* Content-Types exactly: PlainTextResponse gives "
    "'text/plain; charset=utf-8'; JSONResponse compacts JSON differently from json.dumps, "
    "so build the body with json.dumps yourself and return Response(body, media_type=...).",
    "request.path_params['name'] is already percent-decoded; "
    "request.query_params.get('shout'); await request.body() for the POST. The 404 "
    "must be the same too, also where Starlette would say 405: pass your own handler, "
    "exception_handlers={404: not_found, 405: not_found}. "
    "Let Starlette's routing match paths: it knows about root_path when the app is mounted.",
])
def check_14(module):
    wsgi_app = need(module, "wsgi_app", "the original WSGI app (it is in the stub)")
    app = need(module, "app", "your Starlette application")
    for request in PORT_REQUESTS:
        want = wsgi(wsgi_app, request).response
        ex = asgi(app, request)
        what = f" {request.body.decode()!r}" if request.body else ""
        yield expect(f"{request.method} {request.target}{what}: same status, Content-Type and "
                     "body as the WSGI app", ex, status=want.status, body=want.body,
                     headers={"Content-Type": want.header("content-type")},
                     hint="compare your endpoint's Response with the WSGI app's branch")
    for target in ("/api/hello/Ada", "/api/"):
        request = Request("GET", target)
        want = wsgi(wsgi_app, request, script_name="/api").response
        ex = asgi(app, request, root_path="/api")
        yield expect(f"mounted at /api: GET {target} answers as the WSGI app mounted there", ex,
                     status=want.status, body=want.body,
                     headers={"Content-Type": want.header("content-type")},
                     note="(root_path='/api'; the WSGI app gets SCRIPT_NAME='/api')",
                     rule=f"{COMPAT}: root_path is SCRIPT_NAME; scope['path'] still holds "
                          "the whole path",
                     hint="route with Starlette's Route(...) (it strips root_path), not on "
                          "request.url.path")
