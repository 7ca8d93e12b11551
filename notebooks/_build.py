"""Write the lesson notebooks from the text below: `python notebooks/_build.py`.

The lessons are kept here as plain Python strings so that a change is a
readable diff, and so every notebook comes out the same way: kernel metadata
set (JupyterLab then opens it without asking for a kernel), stable cell ids,
and no outputs (run them to see the outputs; tests check none are stored).

Each lesson: objectives, runnable demos, at least one widget, a "your turn"
cell that checks its exercise, a short summary.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
LESSONS: dict[str, list] = {}

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (gateway-lab)", "language": "python"}


def M(text: str):
    return ("markdown", text.strip("\n"))


def C(text: str):
    return ("code", text.strip("\n"))


def lesson(name: str):
    def register(fn):
        LESSONS[name] = fn()
        return fn
    return register


def notebook(name: str, cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(metadata={
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    })
    for i, (kind, text) in enumerate(cells):
        cell = new_markdown_cell(text) if kind == "markdown" else new_code_cell(text)
        cell.id = f"{name[:40]}-{i:02d}"  # stable ids: rebuilding gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


# ---------------------------------------------------------------------------------------------

@lesson("00_welcome")
def _():
    return [
        M("""
# 00 · Welcome to gateway-lab

A browser sends **bytes**. Your Python code wants **a function call**. Between the two sits a
*gateway*: the part of a web server that turns one into the other. This lab shows that
conversation step by step, for the three ways Python has done it: **CGI** (1993), **WSGI**
(PEP 3333) and **ASGI**.

**In this notebook you will**
- see the raw HTTP bytes a browser sends, and what a server makes of them;
- run one request through a gateway and step through what happened, event by event;
- learn how the lessons, the widgets and the exercises fit together.

Run the cells from top to bottom (<kbd>Shift</kbd>+<kbd>Enter</kbd>).
"""),
        C("""
import gateway_lab as gl
from gateway_lab.views import RequestBuilder, TraceStepper, sequence
"""),
        M("""
## What travels on the wire

This is, byte for byte, what a browser sends for `http://example.org/hello?name=Ada`
(HTTP/1.1, RFC 9112): a request line, header fields, an empty line, and a body (empty here).
"""),
        C("""
raw = (b"GET /hello?name=Ada HTTP/1.1\\r\\n"
       b"Host: example.org\\r\\n"
       b"User-Agent: Mozilla/5.0\\r\\n"
       b"Accept: text/html\\r\\n"
       b"\\r\\n")
request = gl.Request.parse(raw)
print("method: ", request.method)
print("target: ", request.target)
print("path:   ", request.path_bytes, " query:", repr(request.query_string))
print("headers:", request.headers)
"""),
        M("""
A server must be strict about those bytes. Two `Content-Length` headers that disagree are how
*request smuggling* starts, so no server may accept them (RFC 9112 §6.3):
"""),
        C("""
smuggle = (b"POST /upload HTTP/1.1\\r\\nHost: example.org\\r\\n"
           b"Content-Length: 5\\r\\nContent-Length: 50\\r\\n\\r\\nhello")
try:
    gl.Request.parse(smuggle)
except gl.BadRequest as error:
    print(f"refused with {error.status}: {error}")
"""),
        M("""
## One request through a gateway

Here is the smallest Python web application there is, in WSGI form: a function that takes
the request as a dict (`environ`) and a callback (`start_response`). `gl.run_wsgi` plays the
server: it builds the `environ`, calls the app, collects the answer, and records every step.
"""),
        C("""
def app(environ, start_response):
    name = environ["QUERY_STRING"].partition("=")[2] or "world"
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [f"Hello, {name}!".encode()]

ex = gl.run_wsgi(app, request)
print(ex.response.status, ex.response.body)
"""),
        M("""
The exchange carries the whole **trace**: who did what, in which order, and which section of
which spec says so. Step through it with the buttons (or press ▶ to play it).
"""),
        C("""
TraceStepper(ex)
"""),
        M("""
The same trace as a static sequence diagram (it also shows in an exported page), and as a
table for a terminal:
"""),
        C("""
sequence(ex)
"""),
        C("""
print(ex.trace)
"""),
        M("""
## Build your own request

The request builder sends whatever you compose through a gateway. With no app it serves the
lab's guestbook, written once for each interface. Try `POST /guestbook` with the header
`Content-Type: application/x-www-form-urlencoded` and the body `name=Ada&message=hi`, then
switch the gateway and compare the traces.
"""),
        C("""
RequestBuilder(method="POST", path="/guestbook",
               headers="Content-Type: application/x-www-form-urlencoded",
               body="name=Ada&message=hi")
"""),
        M("""
## How the lab is organised

| lesson | what |
|---|---|
| 01 CGI | a process per request |
| 02 WSGI | `environ`, `start_response`, the iterable, middleware |
| 03 WSGI servers | sequential, threads, processes, on timelines |
| 04 ASGI | `scope`, `receive`, `send`, streaming, lifespan |
| 05 Long-lived connections | WebSockets, server-sent events |
| 06 The concurrency showdown | I/O-bound against CPU-bound work |
| 07 Event loops in notebooks | why `asyncio.run()` fails in a cell |
| 08 Bridges | WSGI under ASGI and back |
| 09 Build your own | a tiny framework, twice |

Every lesson ends with an exercise in `exercises/`. You edit the file, then check it, here or
in a terminal (`gateway-lab check 03_wsgi_hello`). The checker sends real requests through the
lab's gateways and tells you which rule of which spec your code broke.

## Your turn

Open `exercises/03_wsgi_hello.py`, read its docstring, and make the check below pass. It fails
until you have written the app; that is expected.
"""),
        C("""
gl.check("03_wsgi_hello")
"""),
        M("""
## Summary

- A request is bytes; a server parses them strictly and refuses what no server may accept.
- A gateway turns the parsed request into a call your code understands, and the answer back
  into bytes.
- `gl.run_wsgi` / `gl.run_asgi` / `gl.run_cgi` record each step in a trace; the stepper, the
  sequence diagram and the findings are all read from that trace.
"""),
    ]


@lesson("02_wsgi")
def _():
    return [
        M("""
# 02 · WSGI: one function call per request (PEP 3333)

CGI starts a new process for every request. WSGI (2003, revised for Python 3 as PEP 3333)
keeps the application loaded in the server and **calls a function** instead.

**In this notebook you will**
- read the `environ` dict a server builds, and call `start_response` yourself;
- see why the body is an *iterable of bytes*, and who calls `close()`, and when;
- meet the legacy `write()` callable and see why it is discouraged;
- wrap an app in middleware;
- run the same app written with werkzeug, and compare the traces;
- live-code an app with the `%%wsgi` cell magic.
"""),
        C("""
import gateway_lab as gl
from gateway_lab.views import RequestBuilder, TraceStepper, show
"""),
        M("""
## The application side (PEP 3333 §The Application/Framework Side)

An app is any callable taking two positional arguments, `environ` and `start_response`. It
calls `start_response(status, headers)` once, then returns an iterable of `bytes`.
"""),
        C("""
def hello(environ, start_response):
    name = environ["QUERY_STRING"].partition("=")[2] or "world"
    body = f"Hello, {name}!".encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]

ex = gl.run_wsgi(hello, gl.Request("GET", "/hello?name=Ada"))
ex.response.status, ex.response.headers, ex.response.body
"""),
        M("""
## Step through the call

Use **Next** to walk through the exchange. At the `environ` step the detail panel shows the
whole dict the app receives; at `start_response` the status and headers it passed.
"""),
        C("""
TraceStepper(ex)
"""),
        M("""
## The `environ` (PEP 3333 §environ Variables)

CGI-style variables (`REQUEST_METHOD`, `PATH_INFO`, `QUERY_STRING`, every header as
`HTTP_*`), plus the `wsgi.*` keys. Note that `CONTENT_TYPE` and `CONTENT_LENGTH` have no
`HTTP_` prefix, and that `QUERY_STRING` is there even when empty.
"""),
        C("""
environ = next(e.data for e in ex.trace if e.kind == "environ")
for key in sorted(environ):
    print(f"{key:20} {environ[key]!r}")
"""),
        M("""
## When the app breaks a rule

Return a `str` instead of a list of `bytes` and a real server would iterate over its
characters. The gateway answers 500, as a server would, and the trace gets a **finding**: the
rule, the spec section, and a hint.
"""),
        C("""
def broken(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return "Hello"          # a str, not an iterable of bytes

show(gl.run_wsgi(broken, gl.Request()))
"""),
        M("""
## The iterable, and `close()` (PEP 3333 §Specification Details)

The body can be produced lazily, by a generator. The server sends each chunk as it comes, and
**must** call the iterable's `close()` when it is done, even if the client went away or the
app failed. That is where a generator's `finally:` runs: put clean-up there, not after the
`yield`.
"""),
        C("""
log = []

def streaming(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def body():
        try:
            for i in range(3):
                yield f"chunk {i}\\n".encode()
        finally:
            log.append("clean-up ran")
    return body()

ex_stream = gl.run_wsgi(streaming, gl.Request())
steps = [e for e in ex_stream.trace if e.kind in ("send body", "close")]
print([f"{e.actor} {e.kind}: {e.detail}" for e in steps])
print(log)
"""),
        M("""
## `write()`: the imperative escape hatch (PEP 3333 §The write() Callable)

`start_response` returns a `write(data)` callable, kept for frameworks older than WSGI. It
sends at once, so the app can no longer be paused by the server. New code should return an
iterable instead.
"""),
        C("""
def imperative(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written, ")
    return [b"then returned"]

ex_write = gl.run_wsgi(imperative, gl.Request())
ex_write.response.body, [e.kind for e in ex_write.trace]
"""),
        M("""
## Middleware

Because an app is just a callable, wrapping one in another is all "middleware" is. This one
adds a header with the time the app took; it wraps `start_response` to do so.
"""),
        C("""
import time

def timed(app):
    def middleware(environ, start_response):
        started = time.perf_counter()
        def start_response_timed(status, headers, exc_info=None):
            ms = (time.perf_counter() - started) * 1000
            return start_response(status, headers + [("X-Response-Time", f"{ms:.2f} ms")],
                                  exc_info)
        return app(environ, start_response_timed)
    return middleware

ex_mw = gl.run_wsgi(timed(hello), gl.Request("GET", "/?name=Grace"))
ex_mw.response.headers
"""),
        M("""
## The same app in werkzeug

Frameworks build request and response objects on top of `environ` and `start_response`.
werkzeug (Flask's foundation) is a WSGI app like any other, so the lab traces it the same way.
"""),
        C("""
from werkzeug.wrappers import Request as WRequest, Response as WResponse

@WRequest.application
def wz_hello(request):
    return WResponse(f"Hello, {request.args.get('name', 'world')}!")

ex_wz = gl.run_wsgi(wz_hello, gl.Request("GET", "/hello?name=Ada"))
print(ex_wz.response.body, ex_wz.response.headers)
print([e.kind for e in ex_wz.trace])
"""),
        M("""
## Live coding with `%%wsgi`

Load the lab's magics once; then a cell that starts with `%%wsgi METHOD /path` defines an app
and runs it through the gateway at once. Options: `-H 'Name: value'`, `-d BODY`,
`--app NAME`, `--timeout S`, `--out NAME`.
"""),
        C("""
%load_ext gateway_lab
"""),
        C("""
%%wsgi GET /greet?name=Grace -H 'Accept-Language: en'
def app(environ, start_response):
    name = environ["QUERY_STRING"].partition("=")[2]
    lang = environ.get("HTTP_ACCEPT_LANGUAGE", "?")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"Hello, {name} ({lang})".encode()]
"""),
        M("""
## Try requests of your own

Change the method, the path, the headers; then **Run**.
"""),
        C("""
RequestBuilder(hello, path="/hello?name=Ada")
"""),
        M("""
## Your turn

Four exercises practise this lesson: `03_wsgi_hello`, `04_wsgi_router`,
`05_wsgi_middleware` and `06_wsgi_streaming`. Edit `exercises/03_wsgi_hello.py`, then run the
check (add `hint=1` for a hint):
"""),
        C("""
gl.check("03_wsgi_hello")
"""),
        M("""
## Summary

- A WSGI app is `app(environ, start_response)` returning an iterable of `bytes`.
- `environ` is a dict of CGI variables plus `wsgi.*`; `start_response` is called once
  (again only with `exc_info`).
- The server sends the headers with the first non-empty chunk and always calls `close()`.
- Middleware is a callable wrapping a callable; frameworks like werkzeug are WSGI apps too.
"""),
    ]


@lesson("01_cgi")
def _():
    return [
        M("""
# 01 · CGI: a process per request (RFC 3875)

The Common Gateway Interface (1993) is the simplest contract there is between a web server and
a program: for every request the server **starts a new process**, passes the request in
environment variables (the *meta-variables*) and on standard input, and reads the response
from standard output.

**In this notebook you will**
- write a CGI script and run it as a real child process;
- see the meta-variables a server sets (RFC 3875 §4.1) and read a body from stdin (§4.2);
- print a response in CGI's own format (§6) and see how the server turns it into HTTP;
- measure what starting a process per request costs;
- see *httpoxy*, the bug that comes from turning headers into environment variables.
"""),
        C("""
import os, sys, tempfile, time
from pathlib import Path

import gateway_lab as gl
from gateway_lab.views import TraceStepper, show

scripts = Path(tempfile.mkdtemp(prefix="cgi-lesson-"))   # our cgi-bin
"""),
        M("""
## A first script

A CGI script prints header lines, an empty line, then the body. `Content-Type` is required
for a document (§6.3.1); `Status` is optional and defaults to 200.
"""),
        C(r"""
(scripts / "hello.py").write_text('''\
import os
from urllib.parse import parse_qs

name = parse_qs(os.environ["QUERY_STRING"]).get("name", ["world"])[0]
print("Content-Type: text/plain; charset=utf-8")
print()
print(f"Hello, {name}! (I am process {os.getpid()})")
''')

ex = gl.run_cgi(scripts / "hello.py", gl.Request("GET", "/hello.py?name=Ada"))
print(ex.response.status, ex.response.body.decode())
print("the notebook's own process:", os.getpid())
"""),
        M("""
## Step through it

The trace shows the server building the meta-variables, **spawning** the process, closing its
stdin (there is no body), reading stdout, and the exit. Step to `meta-variables` to see every
variable the script received.
"""),
        C("""
TraceStepper(ex)
"""),
        M("""
## What the script sees

A careful server gives the script the meta-variables and almost nothing else: not the
server's own environment (secrets!). A request header becomes an `HTTP_*` variable
(§4.1.18), with a few exceptions: `Content-Type` and `Content-Length` have names of their own
(`CONTENT_TYPE`, `CONTENT_LENGTH`); `Transfer-Encoding` is gone, since the server has already
decoded the body; `Authorization` and `Proxy-Authorization` stay with the server (the script
only learns the scheme, as `AUTH_TYPE`); `Proxy` is dropped (httpoxy, below); and so is a name
with `_` in it, because `X_Token` and `X-Token` would both become `HTTP_X_TOKEN`.
"""),
        C(r"""
(scripts / "env.py").write_text('''\
import os
print("Content-Type: text/plain")
print()
for key in sorted(os.environ):
    print(f"{key}={os.environ[key]}")
''')
ex_env = gl.run_cgi(scripts / "env.py",
                    gl.Request("GET", "/env.py/extra/path?x=1", headers={"Accept-Language": "fr"}))
print(ex_env.response.body.decode())
"""),
        M("""
Note `SCRIPT_NAME` (`/env.py`, the script) and `PATH_INFO` (`/extra/path`, what follows it in
the URL), and that `QUERY_STRING` is still percent-encoded.

## The body arrives on stdin

For a POST the server writes exactly `CONTENT_LENGTH` bytes to the script's stdin (§4.2).
A script must read that many bytes and no more: a server need not close stdin at the end.
"""),
        C(r"""
(scripts / "form.py").write_text('''\
import os, sys
from urllib.parse import parse_qs

length = int(os.environ.get("CONTENT_LENGTH") or 0)
form = parse_qs(sys.stdin.buffer.read(length).decode())
print("Content-Type: text/plain")
print()
print("you sent:", {k: v[0] for k, v in form.items()})
''')
ex_form = gl.run_cgi(scripts / "form.py", gl.Request(
    "POST", "/form.py", headers={"Content-Type": "application/x-www-form-urlencoded"},
    body="name=Ada&lang=en"))
print(ex_form.response.body.decode())
"""),
        M("""
## Live coding with `%%cgi`

The `%%cgi` magic writes the cell to a temporary script and runs it as a CGI child process,
so the cell is the whole program: it sees nothing of this notebook.
"""),
        C("""
%load_ext gateway_lab
"""),
        C("""
%%cgi GET /?name=Grace
import os
print("Status: 201 Created")
print("Content-Type: text/plain")
print()
print("query:", os.environ["QUERY_STRING"])
"""),
        M("""
## The cost of a process per request

Every request pays for starting a Python interpreter. Compare with calling a function that is
already loaded (the next lesson, WSGI):
"""),
        C("""
def wsgi_hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello"]

def per_request(run, n=5):
    run()                                  # once to warm up (imports, caches)
    started = time.perf_counter()
    for _ in range(n):
        run()
    return (time.perf_counter() - started) / n * 1000

cgi_ms = per_request(lambda: gl.run_cgi(scripts / "hello.py", gl.Request("GET", "/hello.py")))
wsgi_ms = per_request(lambda: gl.run_wsgi(wsgi_hello, gl.Request()))
print(f"CGI:  {cgi_ms:7.2f} ms per request (a new process each time)")
print(f"WSGI: {wsgi_ms:7.2f} ms per request (a function call)")
print(f"CGI costs about {cgi_ms / wsgi_ms:,.0f} times as much, before the app does anything")
"""),
        M("""
## httpoxy: when a header becomes an environment variable

A request header `Proxy: http://evil.example` would become the meta-variable `HTTP_PROXY`.
Many HTTP client libraries read `HTTP_PROXY` from the environment as *their outgoing proxy*,
so a script that calls another service would send that traffic to the attacker (httpoxy,
2016). Servers now drop the header; the lab's gateway does too, and says so:
"""),
        C("""
ex_poxy = gl.run_cgi(scripts / "env.py",
                     gl.Request("GET", "/env.py", headers={"Proxy": "http://evil.example:8080"}))
print("HTTP_PROXY reached the script:", "HTTP_PROXY" in ex_poxy.response.body.decode())
show(ex_poxy)
"""),
        M("""
## Your turn

Write your first CGI script: `exercises/01_cgi_hello.py`, then `02_cgi_form.py` (a form
POST read from stdin). Check it here:
"""),
        C("""
gl.check("01_cgi_hello")
"""),
        M("""
## Summary

- CGI runs one process per request: meta-variables in, body on stdin, response on stdout.
- The response is CGI header lines (`Content-Type`, `Status`, `Location`), an empty line,
  the body; the server turns that into HTTP.
- Starting a process per request costs tens of milliseconds: the reason WSGI exists.
- Headers become environment variables, so `Proxy:` becomes `HTTP_PROXY`: never trust it.
"""),
    ]


@lesson("03_wsgi_servers")
def _():
    return [
        M("""
# 03 · WSGI servers and concurrency

A WSGI app is a function; a **server** decides who calls it, and when. One request at a time
(wsgiref), a pool of threads (werkzeug's threaded server, waitress), or a pool of pre-started
processes (gunicorn's sync workers, uWSGI): the same app behaves very differently.

**In this notebook you will**
- run the same requests through a sequential, a threaded and a prefork server, for real;
- read each run on a timeline (a Gantt chart), request by request;
- compare throughput and latency, for requests that wait and for requests that compute;
- scale up in virtual time, where a thousand requests take no time at all.
"""),
        C("""
import gateway_lab as gl
from gateway_lab.concurrency import table

# An app whose cost the query string sets: ?io=0.05 waits 50 ms, ?cpu=0.02 computes 20 ms.
# Worker processes import it by name, so it lives in a module.
APP = "gateway_lab.concurrency.apps:wsgi_app"
io_requests = [gl.Request("GET", f"/?io=0.05&n={i}") for i in range(12)]
"""),
        M("""
## One at a time

A sequential server finishes each request before it reads the next. Twelve requests that each
wait 50 ms (say, for a database) take 12 × 50 ms.
"""),
        C("""
sequential = gl.run_many(APP, io_requests, model=gl.Sequential())
sequential.summary()
"""),
        C("""
sequential.plot()
"""),
        M("""
## A pool of threads

While one thread waits (the wait releases the GIL), another runs. Four threads serve four
requests at once.
"""),
        C("""
threads = gl.run_many(APP, io_requests, model=gl.Threads(4))
threads.plot()
"""),
        M("""
## Prefork: a pool of processes

gunicorn's sync workers and uWSGI start worker processes *before* accepting connections, and
each takes requests from the same listening socket. Each process has its own interpreter (and
its own GIL), so CPU-bound work runs in parallel too, at the cost of memory per worker.
"""),
        C("""
processes = gl.run_many(APP, io_requests, model=gl.Processes(2))
processes.plot()
"""),
        C("""
table([sequential, threads, processes])
"""),
        M("""
## When the work is CPU, not waiting

Threads help while requests *wait*. When they *compute*, the GIL lets one thread run Python at
a time; processes do not share a GIL.
"""),
        C("""
cpu_requests = [gl.Request("GET", f"/?cpu=0.03&n={i}") for i in range(8)]
table([gl.run_many(APP, cpu_requests, model=m)
       for m in (gl.Sequential(), gl.Threads(4), gl.Processes(2))])
"""),
        M("""
## Bigger, in virtual time

Real runs are limited by this machine. `gl.simulate` runs the same worker models on a virtual
clock: exact, repeatable, and any size.
"""),
        C("""
work = gl.Workload(requests=1000, io=0.05, cpu=0.002)
table([gl.simulate(m, work) for m in (gl.Sequential(), gl.Threads(8), gl.Threads(32),
                                      gl.Processes(4))])
"""),
        M("""
## Explore

Pick a worker model, its size and a workload; run it for real or simulated.
"""),
        C("""
from gateway_lab.views import ConcurrencyExplorer
ConcurrencyExplorer()
"""),
        M("""
## Between nginx and the app server

In production a front-end server (nginx) takes the HTTP connections and passes each request
to the WSGI server's workers over a socket. uWSGI speaks its own binary **uwsgi** protocol,
flup and php-fpm speak **FastCGI**, and there is the simpler **SCGI**: the same CGI variables
and body, framed three ways. Step through the fields of one request:
"""),
        C("""
from gateway_lab.views import WireViewer
WireViewer(gl.Request("POST", "/guestbook", body="name=Ada",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}),
           protocol="uwsgi")
"""),
        M("""
## Your turn

`exercises/05_wsgi_middleware.py` asks for a middleware that times each request: the number a
server's access log shows for each one. (The timelines above are measured by the lab around
the app; your middleware measures from inside the server, one request at a time.)
"""),
        C("""
gl.check("05_wsgi_middleware")
"""),
        M("""
## Summary

- The WSGI spec says nothing about concurrency; the server chooses (`wsgi.multithread`,
  `wsgi.multiprocess` tell the app what it chose).
- Sequential: simple, and one slow request holds up everyone behind it.
- Threads: cheap concurrency while requests wait; the GIL serialises computing.
- Prefork processes: parallel computing and isolation, paid in memory and start-up.
"""),
    ]


@lesson("04_asgi")
def _():
    return [
        M("""
# 04 · ASGI: scope, receive, send

WSGI is one call that returns the whole answer. ASGI makes the app a **coroutine** that talks
to the server through two awaitables, so it can wait without holding a thread, stream in both
directions, and keep connections open (next lesson).

**In this notebook you will**
- read an HTTP `scope`, and the events `receive()` and `send()` carry;
- stream a response in parts with `more_body`;
- run the lifespan protocol (startup and shutdown) and share state with requests;
- see the spec's rules enforced: the order of events, bytes not str;
- run the same app written with Starlette, and live-code one with `%%asgi`.
"""),
        C("""
import asyncio
import gateway_lab as gl
from gateway_lab.views import RequestBuilder, TraceStepper, show
"""),
        M("""
## The smallest ASGI app (ASGI spec §Applications)

`scope` describes the connection. The app sends `http.response.start` (status and headers,
as bytes), then one or more `http.response.body` events.
"""),
        C("""
async def hello(scope, receive, send):
    assert scope["type"] == "http"
    query = scope["query_string"].decode()          # bytes, still percent-encoded
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": f"Hello! query={query}".encode()})

ex = gl.run_asgi(hello, gl.Request("GET", "/hi?name=Ada"))
ex.response.status, ex.response.body
"""),
        M("""
Step through it: the `scope` step shows the whole dict; each `send` shows the event.
"""),
        C("""
TraceStepper(ex)
"""),
        M("""
## Receiving a body

The request body arrives as `http.request` events, possibly in several chunks; `more_body`
says whether more follow. A correct app loops until it is False.
"""),
        C("""
async def echo(scope, receive, send):
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"got " + body})

chunked = gl.Request("POST", "/echo", headers={"Transfer-Encoding": "chunked"},
                     chunks=[b"first ", b"second ", b"third"])
ex_echo = gl.run_asgi(echo, chunked)
print(ex_echo.response.body)
print([e.detail for e in ex_echo.trace if e.kind == "receive"])
"""),
        M("""
## Streaming a response

Each `http.response.body` with `more_body: True` goes to the client at once, while the app
keeps working between parts.
"""),
        C(r"""
async def countdown(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    for n in (3, 2, 1):
        await send({"type": "http.response.body", "body": f"{n}...\n".encode(),
                    "more_body": True})
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"lift-off!\n"})

ex_stream = gl.run_asgi(countdown, gl.Request())
for e in ex_stream.trace:
    if e.kind == "send":
        print(f"{e.t * 1000:7.1f} ms  {e.detail}")
"""),
        M("""
## Broken rules

Sending the body before the start event, or a `str` where bytes belong, breaks the spec. The
gateway answers as a server would and says which rule:
"""),
        C("""
async def wrong_order(scope, receive, send):
    await send({"type": "http.response.body", "body": "oops"})

show(gl.run_asgi(wrong_order, gl.Request()))
"""),
        M("""
## Lifespan: startup and shutdown (ASGI lifespan spec)

Before any request, a server sends `lifespan.startup`; the app opens its database pools and
answers `lifespan.startup.complete`. What it puts in `scope["state"]` is copied into every
request's scope.
"""),
        C("""
async def with_lifespan(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "Hello from startup"
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["state"]["greeting"].encode()})

life = gl.lifespan(with_lifespan)
print(life)
gl.run_asgi(with_lifespan, gl.Request(), state=life.state).response.body
"""),
        M("""
## The same app in Starlette

Starlette is an ASGI app like any other; its `Request` and `Response` are built on the scope
and the events.
"""),
        C("""
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def greet(request):
    return PlainTextResponse(f"Hello, {request.query_params.get('name', 'world')}!")

starlette_app = Starlette(routes=[Route("/hi", greet)])
ex_st = gl.run_asgi(starlette_app, gl.Request("GET", "/hi?name=Ada"))
print(ex_st.response.body, ex_st.findings)
"""),
        M("""
## Live coding with `%%asgi`
"""),
        C("""
%load_ext gateway_lab
"""),
        C("""
%%asgi POST /shout -d 'quiet please'
async def app(scope, receive, send):
    event = await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": event["body"].upper()})
"""),
        C("""
RequestBuilder(starlette_app, gateway="asgi", path="/hi?name=Grace")
"""),
        M("""
## Your turn

`exercises/07_asgi_hello.py` (then `08_asgi_body`, `09_asgi_lifespan`, and
`14_starlette_port`):
"""),
        C("""
gl.check("07_asgi_hello")
"""),
        M("""
## Summary

- An ASGI app is `async def app(scope, receive, send)`; the scope describes the connection.
- The request body arrives in `http.request` events; the response leaves as
  `http.response.start` then `http.response.body` events, ending when `more_body` is False.
- Header names and bodies are bytes; the query string is bytes, percent-encoded.
- Lifespan runs once per server: startup fills `state`, which every request sees.
"""),
    ]


@lesson("06_concurrency_showdown")
def _():
    return [
        M("""
# 06 · The concurrency showdown

Which server should you pick? It depends on what your requests spend their time on: waiting
(I/O-bound) or computing (CPU-bound), and whether your code ever blocks.

**In this notebook you will**
- compare threads, processes and an event loop on I/O-bound and on CPU-bound work, measured;
- watch one `time.sleep` inside `async def` stop an entire event loop;
- simulate 10,000 requests at 400 and at 800 a second, and read throughput and latency
  percentiles;
- sum up when to pick which, with numbers instead of slogans.
"""),
        C("""
import gateway_lab as gl
from gateway_lab.concurrency import table

WSGI_APP = "gateway_lab.concurrency.apps:wsgi_app"
ASGI_APP = "gateway_lab.concurrency.apps:asgi_app"

def requests(query, n=12):
    return [gl.Request("GET", f"/?{query}&n={i}") for i in range(n)]
"""),
        M("""
## I/O-bound: requests that wait

Each request waits 50 ms. Threads overlap the waits; the event loop overlaps them with one
thread.
"""),
        C("""
io_runs = [gl.run_many(WSGI_APP, requests("io=0.05"), model=gl.Threads(4)),
           gl.run_many(ASGI_APP, requests("io=0.05"), model=gl.EventLoop())]
table(io_runs)
"""),
        C("""
io_runs[1].plot()
"""),
        M("""
## CPU-bound: requests that compute

Each request computes for 30 ms. Now threads take turns (the GIL) and the event loop runs one
request at a time; only processes compute in parallel (on this machine's cores).
"""),
        C("""
cpu_runs = [gl.run_many(WSGI_APP, requests("cpu=0.03", 8), model=m)
            for m in (gl.Threads(4), gl.Processes(2))]
cpu_runs.append(gl.run_many(ASGI_APP, requests("cpu=0.03", 8), model=gl.EventLoop()))
table(cpu_runs)
"""),
        M("""
## Blocking the loop

`time.sleep(0.05)` inside `async def` does not yield to the loop: every other request waits.
"""),
        C("""
blocked = gl.run_many(ASGI_APP, requests("block=0.05", 8), model=gl.EventLoop())
table([io_runs[1], blocked])
"""),
        C("""
blocked.plot()
"""),
        M("""
## 10,000 requests, simulated

A virtual clock runs the same models at a scale this laptop could not: 10,000 requests, each
1 ms of CPU and 100 ms of waiting, arriving at random at 400 per second on average, then at
800. These are open arrivals: requests keep coming whether or not the server keeps up.
"""),
        C("""
for rate in (400, 800):
    work = gl.Workload(requests=10_000, cpu=0.001, io=0.1, rate=rate)
    print(f"10,000 requests at {rate} per second")
    display(table([gl.simulate(model, work) for model in
                   (gl.Threads(8), gl.Threads(64), gl.Processes(4), gl.EventLoop())]))
"""),
        M("""
A worker that waits 100 ms per request serves at most about 10 requests a second. Eight
threads (about 80 a second) and four processes (about 40) fall behind at once: the queue
grows and latency climbs to minutes. At 400 a second, 64 threads and the event loop both keep
up, every request answered in about 101 ms. At 800 a second the 64 threads (at most about
630 a second) fall behind too, while the event loop, whose waits cost a task and not a
thread, still answers in about 0.1 s.
"""),
        M("""
## Explore

Change the model, the number of workers and the workload, and run it for real or simulated.
"""),
        C("""
from gateway_lab.views import ConcurrencyExplorer
ConcurrencyExplorer()
"""),
        M("""
## When to pick which

| your requests mostly… | pick | because |
|---|---|---|
| wait (databases, APIs), in moderate numbers | threads (WSGI) | simple code; waits overlap |
| wait, in large numbers or held open | an event loop (ASGI) | a wait costs a task, not a thread |
| compute | processes (prefork) or a pool | one GIL per process |
| mix, in one async app | an event loop, blocking calls offloaded | `to_thread` frees the loop |

## Your turn

`exercises/11_asgi_blocking.py`: make an async endpoint stop blocking the loop.
"""),
        C("""
gl.check("11_asgi_blocking")
"""),
        M("""
## Summary

- I/O-bound work: threads and event loops both overlap waiting; the loop scales further.
- CPU-bound work: only processes run Python in parallel.
- One blocking call in `async def` stalls every request on that loop.
- Simulation gives exact, repeatable numbers at scales a real run cannot reach.
"""),
    ]


def _late_lessons() -> None:
    """Lessons 05 and 07-09 live in notebooks/_lessons_late.py, as cell lists."""
    sys.path.insert(0, str(HERE))
    try:
        from _lessons_late import lessons
    finally:
        sys.path.remove(str(HERE))
    LESSONS.update(lessons())


def build() -> dict[str, nbformat.NotebookNode]:
    """Every lesson as a notebook, by name (tests compare them with the stored files)."""
    _late_lessons()
    return {name: notebook(name, cells) for name, cells in sorted(LESSONS.items())}


def main(argv: list[str]) -> int:
    wanted = set(argv)
    for name, nb in build().items():
        if wanted and name not in wanted:
            continue
        path = HERE / f"{name}.ipynb"
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(HERE.parent)} ({len(nb.cells)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
