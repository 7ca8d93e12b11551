"""Checks for 15 (errors answered with start_response(..., exc_info)) and 18 (a counter
that survives threads).

15 wraps apps of the checker's that fail in every way PEP 3333 §Error Handling
discusses: before start_response, after it, while the body is iterated before
and after the first byte went out.  18 sends 160 requests through the
concurrency lab's `run_many` on 8 real threads.
"""

from __future__ import annotations

import time

from ..request import Request
from ..trace import Trace
from . import freedoms
from .core import LearnerError, call, doing, exercise, expect, fact, failed, need, wsgi
from .wsgi_checks import LESSON_SERVERS, LESSON_WSGI, TEXT

ERROR_RULE = ("PEP 3333 §The start_response() Callable: start_response may be called again "
              "“if and only if the exc_info argument is provided”; if the headers were sent "
              "already, that call raises the error again, and “The application must not trap "
              "any exceptions raised by start_response, if it called start_response with "
              "exc_info”")


# -- 15 -----------------------------------------------------------------------------------

class _Faulty:
    """A WSGI app that fails where it is told to; counts close() of its bodies.

    how: "ok", "before_start" (raises before start_response), "after_start" (after it,
    before returning), "first_chunk" (its body raises before its first chunk), "later"
    (its body raises after one chunk went out)."""

    def __init__(self, how: str):
        self.how, self.closed = how, 0

    def __call__(self, environ, start_response):
        if self.how == "before_start":
            raise KeyError("user")
        start_response("200 OK", [("Content-Type", TEXT), ("X-Inner", "yes")])
        if self.how == "after_start":
            raise ValueError("the template is broken")
        return _FaultyBody(self)


class _FaultyBody:
    def __init__(self, app: _Faulty):
        self.app = app

    def __iter__(self):
        if self.app.how == "first_chunk":
            raise ZeroDivisionError("division by zero")
        yield b"part one, "
        if self.app.how == "later":
            raise ConnectionError("the database went away half way")
        yield b"part two"

    def close(self):
        self.app.closed += 1


ERROR_PAGE = b"Internal Server Error\n"


def _wrap(wrap, inner):
    return call(wrap, inner, what="ErrorMiddleware(app)")


def _log(ex) -> str:
    return "\n".join(e.detail for e in ex.trace.events if e.kind == "wsgi.errors")


@exercise("15_wsgi_errors", "WSGI error handling: a 500 page with start_response(..., "
          "exc_info)", LESSON_WSGI, hints=[
    "Wrap the call in try/except Exception: on an error write traceback.format_exc() to "
    "environ['wsgi.errors'] and return the error page after "
    "start_response('500 Internal Server Error', headers, sys.exc_info()).",
    "The third argument is what makes a second start_response legal: the server then "
    "replaces the first status and headers, as long as it has sent nothing yet. Errors while "
    "the body is iterated count too: return a generator that loops over the app's body "
    "inside the same try/except, and close the app's body in its finally:.",
    "When the headers were already sent, start_response(..., exc_info) raises the error "
    "again: do not catch that; the server closes the connection. Catch Exception, never a "
    "bare except: (a generator's close() raises GeneratorExit into it, which must go "
    "through).",
])
def check_15(module):
    wrap = need(module, "ErrorMiddleware",
                "a class (or function) ErrorMiddleware(app) returning a WSGI app")
    inner = _Faulty("ok")
    ex = wsgi(_wrap(wrap, inner), Request("GET", "/fine"))
    yield expect("an app that works passes through unchanged", ex, status=200,
                 body="part one, part two", headers={"X-Inner": "yes", "Content-Type": TEXT},
                 problems=[None if inner.closed == 1 else
                           f"the app's body was closed {inner.closed} time(s), expected once"],
                 rule="PEP 3333 §Middleware; §Specification Details: close() must reach the "
                      "wrapped iterable",
                 hint="pass the body through and call its close() when yours is closed")
    cases = [
        ("an app that raises before start_response: 500 and the traceback in wsgi.errors",
         "before_start", "KeyError", "GET /before (the app raises KeyError('user'))",
         "catch Exception around self.app(environ, start_response)"),
        ("an app that raises after start_response('200 OK'): still a 500", "after_start",
         "ValueError", "GET /after (the app calls start_response, then raises ValueError)",
         "start_response('500 Internal Server Error', headers, sys.exc_info()): without "
         "exc_info the server refuses a second call"),
        ("a body that raises before its first chunk: a 500 too", "first_chunk",
         "ZeroDivisionError", "GET /first (the body raises ZeroDivisionError at once)",
         "iterate the app's body inside your try/except (a generator of your own)"),
    ]
    for title, how, name, sent, hint in cases:
        inner = _Faulty(how)
        ex = wsgi(_wrap(wrap, inner), Request("GET", f"/{how}"))
        log = _log(ex)
        problems = [None if name in log and "Traceback" in log else
                    f"expected the traceback of the {name} in environ['wsgi.errors'], it got "
                    f"{log[:200]!r}"]
        if how == "first_chunk" and inner.closed != 1:
            problems.append(f"the app's body was closed {inner.closed} time(s), expected once")
        yield expect(title, ex, status=500, body=ERROR_PAGE,
                     headers={"Content-Type": TEXT}, problems=problems, note=sent,
                     rule=ERROR_RULE, hint=hint)
    inner = _Faulty("later")
    ex = wsgi(_wrap(wrap, inner), Request("GET", "/later"))
    problems = []
    if ex.response.complete:
        problems.append("the response looked complete to the client, but it was cut short by "
                        "an error: the error raised again by start_response(..., exc_info) "
                        "was caught; let it go, so the server closes the connection")
    if ERROR_PAGE in ex.response.body:
        problems.append("the error page was sent after half a page: the status line (200) is "
                        "gone already, so the client would take it as part of the page")
    if inner.closed != 1:
        problems.append(f"the app's body was closed {inner.closed} time(s), expected once")
    yield fact("an error after the first chunk went out: the connection is closed, not patched",
               not problems, "\n".join(problems),
               sent="GET /later (the body raises ConnectionError after b'part one, ')",
               got=f"{ex.response.status}, body {ex.response.body!r}, "
                   f"{'complete' if ex.response.complete else 'connection cut'}",
               rule=ERROR_RULE,
               hint="call start_response(..., sys.exc_info()) and let what it raises go")
    yield _errors_client_leaves(wrap)


def _errors_client_leaves(wrap):
    title = "a client that leaves after the first chunk: close() goes through cleanly"
    inner = _Faulty("ok")
    from ..wsgi import build_environ

    environ = build_environ(Request("GET", "/early"), Trace("wsgi"))
    sent = "GET /early; the server takes one chunk, then calls close() (the client left)"
    try:
        app = _wrap(wrap, inner)
        taken, closable, _ = call(freedoms.serve_partly, app, environ, 1,
                                  what="your middleware (the client leaves)")
    except LearnerError as error:
        return failed(title, error, sent=sent, rule=freedoms.PEP_CLOSE,
                      hint="a bare except: (or except BaseException) around a yield catches "
                           "the GeneratorExit that close() raises: catch Exception")
    problems = []
    if not closable:
        problems.append("what your middleware returned has no close()")
    if inner.closed != 1:
        problems.append(f"the app's body was closed {inner.closed} time(s), expected once")
    return fact(title, not problems, "\n".join(problems), sent=sent,
                got=f"chunks {taken!r}; the app's body closed {inner.closed} time(s)",
                rule=f"{freedoms.PEP_CLOSE}: the server calls close() after an early "
                     "disconnect", hint="close the app's body in a finally: of your generator")


# -- 18 -----------------------------------------------------------------------------------

THREADS, HITS = 8, 160


@exercise("18_thread_safe", "a hit counter that survives 8 threads", LESSON_SERVERS,
          timed=True, needs_threads="they serve your app from 8 threads at once, gl.Threads(8)",
          hints=[
    "POST /hit reads the count from STORE, adds one and writes it back: two threads can both "
    "read 41 and both write 42, and a hit is lost. Only one thread at a time may do that "
    "read-modify-write: guard it with one threading.Lock() made at module level.",
    "`with LOCK:` around the get, the +1 and the set (and remember the new value there, for "
    "the answer). A Lock made inside the function is a new lock per request and guards "
    "nothing; threading.local() gives each thread a counter of its own.",
    "Keep the rendering (time.sleep(RENDER)) outside the lock: a lock around the whole "
    "request makes the 8 threads take turns, as slow as one thread.",
])
def check_18(module):
    app = need(module, "app", "the WSGI application")
    store_class = need(module, "Store", "the Store class (it is in the stub)")
    render = float(getattr(module, "RENDER", 0.02))
    module.STORE = store_class()
    bodies = []
    for _ in range(3):
        ex = wsgi(app, Request("POST", "/hit"))
        bodies.append(ex.response.body)
    yield expect("three POST /hit one after another: hit 1, hit 2, hit 3", ex, status=200,
                 problems=[None if bodies == [b"hit 1\n", b"hit 2\n", b"hit 3\n"] else
                           f"expected the bodies [b'hit 1\\n', b'hit 2\\n', b'hit 3\\n'], got "
                           f"{bodies!r}"], hint="count = STORE.get('hits') + 1; "
                                                "STORE.set('hits', count)")
    ex = wsgi(app, Request("GET", "/count"))
    yield expect("GET /count says how many", ex, status=200, body="3 hits\n")
    ex = wsgi(app, Request("GET", "/nowhere"))
    yield expect("an unknown path is 404", ex, status=404)
    from .. import concurrency

    module.STORE = store_class()
    requests = [Request("POST", "/hit") for _ in range(HITS)]
    serial = HITS * render
    doing(f"{HITS} x POST /hit at once on gl.Threads({THREADS})", serial * 2 + 10)
    start = time.perf_counter()
    timeline = concurrency.run_many(app, requests, model=concurrency.Threads(THREADS),
                                    deadline=serial * 2 + 5)
    took = time.perf_counter() - start
    answers = [ex.response.body if ex is not None else b"" for ex in
               (timeline.exchanges or [])]
    ex = wsgi(app, Request("GET", "/count"))
    numbers = sorted(int(b.split()[1]) for b in answers
                     if b.startswith(b"hit ") and b.split()[1].isdigit())
    problems = []
    if ex.response.body != f"{HITS} hits\n".encode():
        problems.append(f"expected GET /count to say {HITS} hits, it says "
                        f"{ex.response.body!r}: {HITS - _count(ex.response.body)} hits were "
                        "lost (two threads read the same count and wrote the same count + 1)")
    if numbers != list(range(1, HITS + 1)):
        twice = len(numbers) - len(set(numbers))
        problems.append(f"expected the {HITS} answers hit 1 .. hit {HITS}, each once; "
                        f"{twice} number(s) were given twice")
    sent = f"{HITS} x POST /hit at once, gl.run_many(app, requests, model=gl.Threads({THREADS}))"
    yield fact(f"{HITS} hits from {THREADS} threads at once: none lost, none counted twice",
               not problems, "\n".join(problems), sent=sent,
               got=f"GET /count: {ex.response.body!r}; distinct answers: {len(set(numbers))}",
               rule="threads share the module's globals: a read-modify-write of shared data "
                    "must be done by one thread at a time",
               hint="LOCK = threading.Lock() at module level; with LOCK: around get, +1, set")
    limit = serial / 2
    yield fact(f"the threads still work at once: {HITS} hits take less than half of "
               f"{serial:.1f} s", took < limit,
               f"the {HITS} requests took {took:.2f} s on {THREADS} threads; one after another "
               f"they take {serial:.1f} s (each renders for {render * 1000:.0f} ms): the lock "
               "covers more than the update, so the threads take turns",
               sent=sent, got=f"all answered after {took:.2f} s",
               rule="a lock makes threads wait for each other: hold it as briefly as you can",
               hint="only the get, +1 and set inside `with LOCK:`; time.sleep(RENDER) after it")


def _count(body: bytes) -> int:
    word = body.split()[0] if body.split() else b""
    return int(word) if word.isdigit() else 0

