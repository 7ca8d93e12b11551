"""`make bench`: the engine side by side with the reference tools, in one run.

Every case is timed in rounds that interleave all cases (so a slow moment of
the machine hurts them alike), and the median per-call time over the rounds
is reported, with ratios to the bare call and to the lab's call.  Results go
to bench/results.json; bench/README.md shows the latest table.

Two ways of calling are timed, as a learner would meet them:

* from plain code (a script, a test): one call, one result; an ASGI tool
  then has to run an event loop for each call, as `gl.run_asgi`,
  asgiref's ApplicationCommunicator and httpx do;
* inside a running event loop (a notebook cell, an async test): many awaits
  in one loop run, so the loop's own start and stop is not counted.  The
  bare ASGI await is timed this way: the least a server does, awaiting the
  app and keeping what it sends.

    python bench/run.py [--quick] [--no-notebooks] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gateway_lab as gl  # noqa: E402

# starlette 1.x suggests httpx2 for its TestClient; the reference client still works.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

CHUNK = b"x" * 4096
STREAM_CHUNKS = 16  # 16 x 4 KiB = 64 KiB
LOOP = asyncio.new_event_loop()  # the loop every "inside a running loop" case runs in


# -- the apps -------------------------------------------------------------------

def wsgi_hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!"]


def wsgi_stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return (CHUNK for _ in range(STREAM_CHUNKS))


def wsgi_hop_by_hop(environ, start_response):
    """Breaks a rule on every call (PEP 3333: no hop-by-hop headers): what a finding costs."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
    return [b"Hello, world!"]


async def asgi_hello(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def asgi_stream(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    for _ in range(STREAM_CHUNKS - 1):
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": CHUNK})


CGI_SCRIPT = 'import sys\nsys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nHello, world!")\n'


class InLoop:
    """A case timed inside one running loop: `make()` returns one call's awaitable."""

    def __init__(self, make):
        self.make = make


# -- the cases: name -> a function doing one call (or an InLoop) --------------------

def wsgi_cases(app, label):
    from wsgiref.util import setup_testing_defaults
    from wsgiref.validate import validator

    from werkzeug.test import Client

    base = {}
    setup_testing_defaults(base)
    validated = validator(app)
    client = Client(app)
    req = gl.Request("GET", "/")

    def bare():
        env = dict(base)
        result = app(env, lambda status, headers, exc_info=None: None)
        b"".join(result)

    def wsgiref_defaults():
        env = {}
        setup_testing_defaults(env)
        b"".join(app(env, lambda status, headers, exc_info=None: None))

    def wsgiref_validate():
        env = {"QUERY_STRING": ""}  # else validate warns on every call (and is slower)
        setup_testing_defaults(env)
        it = validated(env, lambda status, headers, exc_info=None: None)
        for _ in it:
            pass
        it.close()

    return {
        f"wsgi {label}: bare call": bare,
        f"wsgi {label}: wsgiref defaults + call": wsgiref_defaults,
        f"wsgi {label}: wsgiref.validate": wsgiref_validate,
        f"wsgi {label}: werkzeug Client": lambda: client.get("/").get_data(),
        f"wsgi {label}: floor: traced, no checks, no deadline": floor_wsgi(app, req),
        f"wsgi {label}: gl.run_wsgi": functools.partial(gl.run_wsgi, app, req),
        f"wsgi {label}: gl.run_wsgi (coach off)":
            functools.partial(gl.run_wsgi, app, req, coach=False),
        f"wsgi {label}: gl.run_wsgi (a new Request each call)":
            lambda: gl.run_wsgi(app, gl.Request("GET", "/")),
    }


def broken_wsgi_cases(app, label):
    req = gl.Request("GET", "/")

    def bare():
        b"".join(app({}, lambda status, headers, exc_info=None: None))

    return {
        f"wsgi {label}: bare call": bare,
        f"wsgi {label}: gl.run_wsgi": functools.partial(gl.run_wsgi, app, req),
        f"wsgi {label}: gl.run_wsgi (coach off)":
            functools.partial(gl.run_wsgi, app, req, coach=False),
    }


def floor_wsgi(app, req):
    """The least a gateway that records a true trace must do per call, and nothing more:
    copy an environ, record the 8 steps gl.run_wsgi records (each with its snapshot:
    the request's parts, the headers as a tuple, the response's fields), call the app,
    join the body, build the Response and Exchange.  No rule is checked, no deadline
    set.  It shows how much of gl.run_wsgi's time is the trace itself."""
    from gateway_lab import wsgi
    from gateway_lab.exchange import REQUEST, RESPONSE, Exchange, Response
    from gateway_lab.trace import Trace

    base = wsgi.build_environ(req, Trace("wsgi"))

    def call():
        trace = Trace("wsgi")
        step = trace.step
        step(REQUEST, req.parts)
        environ = base.copy()
        step(wsgi.ENVIRON, base)
        got = []
        step(wsgi.CALL)

        def start_response(status, headers, exc_info=None):
            step(wsgi.START_RESPONSE, (status, tuple(headers), list))
            got[:] = [status, tuple(headers)]

        result = app(environ, start_response)
        step(wsgi.RETURN, type(result))
        body = []
        for chunk in result:
            if not body:
                step(wsgi.SEND_HEADERS, tuple(got))
            body.append(chunk)
            step(wsgi.SEND_BODY, chunk)
        response = Response(int(got[0][:3]), got[1], b"".join(body), got[0][4:])
        step(RESPONSE, (response.status, got[1], response.body, response.reason, True, ()))
        return Exchange("wsgi", req, response, trace)

    return call


def asgi_cases(app, label):
    cases = {}
    req = gl.Request("GET", "/")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/",
             "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost")],
             "client": ("127.0.0.1", 5000), "server": ("localhost", 80)}

    async def bare():
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        await app(dict(scope), receive, send)

    cases[f"asgi {label}: bare await"] = InLoop(bare)
    try:
        from asgiref.testing import ApplicationCommunicator

        async def communicate():
            comm = ApplicationCommunicator(app, dict(scope))
            await comm.send_input({"type": "http.request", "body": b""})
            while True:
                msg = await comm.receive_output(1)
                if msg["type"] == "http.response.body" and not msg.get("more_body"):
                    break
            await comm.wait()

        cases[f"asgi {label}: asgiref ApplicationCommunicator"] = \
            lambda: LOOP.run_until_complete(communicate())
        cases[f"asgi {label}: asgiref ApplicationCommunicator (inside a running loop)"] = \
            InLoop(communicate)
    except ImportError:
        pass
    try:
        import httpx

        transport = httpx.ASGITransport(app=app)
        aclient = httpx.AsyncClient(transport=transport, base_url="http://localhost")
        cases[f"asgi {label}: httpx ASGITransport"] = \
            lambda: LOOP.run_until_complete(aclient.get("/"))
    except ImportError:
        pass
    from starlette.testclient import TestClient

    tclient = TestClient(app)
    cases[f"asgi {label}: starlette TestClient"] = lambda: tclient.get("/")
    cases[f"asgi {label}: gl.run_asgi"] = functools.partial(gl.run_asgi, app, req)
    cases[f"asgi {label}: gl.run_asgi (coach off)"] = \
        functools.partial(gl.run_asgi, app, req, coach=False)
    cases[f"asgi {label}: gl.run_asgi (a new Request each call)"] = \
        lambda: gl.run_asgi(app, gl.Request("GET", "/"))

    async def inside_loop():
        return gl.run_asgi(app, req)

    async def inside_loop_new_request():  # a notebook cell: a new Request, a sync call
        return gl.run_asgi(app, gl.Request("GET", "/"))

    cases[f"asgi {label}: gl.run_asgi (inside a running loop)"] = InLoop(inside_loop)
    cases[f"asgi {label}: gl.run_asgi (inside a running loop, a new Request each call)"] = \
        InLoop(inside_loop_new_request)
    cases[f"asgi {label}: await gl.run_asgi_async"] = \
        InLoop(functools.partial(gl.run_asgi_async, app, req))
    return cases


def cgi_cases(tmp: Path):
    script = tmp / "hello.py"
    script.write_text(CGI_SCRIPT)
    env = {"PATH": "/usr/bin:/bin", "REQUEST_METHOD": "GET", "QUERY_STRING": "",
           "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "/hello.py", "SERVER_NAME": "localhost",
           "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "bench"}
    req = gl.Request("GET", "/")
    return {
        "cgi: bare subprocess.run": lambda: subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, input=b"", check=True),
        "cgi: gl.run_cgi": functools.partial(gl.run_cgi, script, req),
    }


# -- timing -----------------------------------------------------------------------------

def per_call(fn, budget: float) -> float:
    """Seconds per call of fn (or per await, for an InLoop case), over as many calls
    as fit in `budget` seconds.

    The clock is read once per batch of calls (a batch takes about a
    millisecond), not once per call: a clock read and a compare cost about a
    tenth of a microsecond, which would count against the fastest cases most.
    """
    clock = time.perf_counter
    if isinstance(fn, InLoop):
        make = fn.make

        async def awaits(n):  # timed inside the loop: its start and stop do not count
            start = clock()
            for _ in range(n):
                await make()
            return clock() - start

        def batch(n):
            return LOOP.run_until_complete(awaits(n))
    else:
        def batch(n):
            start = clock()
            for _ in range(n):
                fn()
            return clock() - start

    batch(1)  # once untimed: imports, caches, the lab's loop thread
    n, calls, spent = 1, 0, 0.0
    while spent < budget:
        took = batch(n)
        calls, spent = calls + n, spent + took
        if took < 1e-3:
            n *= 2
    return spent / calls


def interleaved(cases: dict, rounds: int, budget: float) -> dict:
    samples = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(per_call(fn, budget))
    return {name: statistics.median(s) for name, s in samples.items()}


def import_time(repeats: int) -> float:
    def once(code):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - start

    bare, lab = [], []
    for _ in range(repeats):  # interleaved, like everything else
        bare.append(once("pass"))
        lab.append(once("import gateway_lab"))
    return max(0.0, statistics.median(lab) - statistics.median(bare))


def simulation_time(repeats: int) -> float:
    workload = gl.Workload(requests=100_000, io=0.05, cpu=0.0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gl.simulate(gl.EventLoop(), workload)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def notebook_times() -> dict:
    import nbformat
    from nbclient import NotebookClient

    out = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        try:
            # The kernel process's own log (a warning about its TCP transport) would
            # only clutter the report; what the cells print is still collected.
            NotebookClient(nb, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}
                           ).execute(stderr=subprocess.DEVNULL)
            out[path.name] = time.perf_counter() - start
        except Exception as error:  # report, don't stop the benchmark
            out[path.name] = f"failed: {type(error).__name__}"
    return out


# -- report ----------------------------------------------------------------------------

def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def table(results: dict, groups: list[tuple[str, str, str, list[str]]]) -> str:
    """One block per group: each case's median, its ratio to the bare call, and
    how many times the lab's call (`lab_key`) fits in it (above 1: the lab is faster)."""
    lines = []
    for title, bare_key, lab_key, keys in groups:
        lines.append(f"\n{title}")
        lines.append(f"  {'case':<52} {'median':>11}  {'× bare':>8}  {'÷ lab':>7}")
        for k in keys:
            lines.append(f"  {k.split(': ', 1)[1]:<52} {fmt(results[k])}"
                         f"  {results[k] / results[bare_key]:8.1f}"
                         f"  {results[k] / results[lab_key]:7.2f}")
    return "\n".join(lines)


def targets(r: dict) -> list[tuple[str, float, float, bool]]:
    """The speed goals (issue 13), each as (goal, measured, goal's bound, met?).  The
    first three are on the paths learners take: a new Request for each call, and ASGI
    called from a notebook cell (inside a running loop)."""
    def faster(goal, reference, lab, at_least):
        value = r[reference] / r[lab]
        return goal, value, at_least, value >= at_least

    new_wsgi = "wsgi hello: gl.run_wsgi (a new Request each call)"
    in_loop = "asgi hello: gl.run_asgi (inside a running loop, a new Request each call)"
    async_ratio = r["asgi hello: await gl.run_asgi_async"] / r["asgi hello: bare await"]
    cgi_ratio = r["cgi: gl.run_cgi"] / r["cgi: bare subprocess.run"]
    return [
        faster("gl.run_wsgi, new Request each call, ≥ 6× faster than werkzeug Client",
               "wsgi hello: werkzeug Client", new_wsgi, 6),
        faster("gl.run_wsgi, new Request each call, ≥ 3× faster than wsgiref.validate",
               "wsgi hello: wsgiref.validate", new_wsgi, 3),
        faster("gl.run_asgi in a running loop, new Request, ≥ 2× faster than "
               "ApplicationCommunicator",
               "asgi hello: asgiref ApplicationCommunicator (inside a running loop)", in_loop, 2),
        faster("gl.run_asgi ≥ 50× faster than starlette TestClient",
               "asgi hello: starlette TestClient", "asgi hello: gl.run_asgi", 50),
        ("await gl.run_asgi_async ≤ 15× the bare await", async_ratio, 15, async_ratio <= 15),
        ("gl.run_cgi ≤ 1.15× a bare subprocess.run", cgi_ratio, 1.15, cgi_ratio <= 1.15),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few short rounds: a smoke run, not a measurement")
    parser.add_argument("--no-notebooks", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    # Many short rounds: on a shared machine slow moments come in bursts of a
    # fraction of a second, and 31 rounds of 70 ms each spread every case across
    # them (11 rounds of 200 ms gave ratios that moved by a third between runs).
    rounds, budget, cgi_rounds, cgi_budget = (3, 0.005, 3, 0.05) if args.quick else \
        (31, 0.07, 11, 0.5)

    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        cases.update(wsgi_cases(wsgi_hello, "hello"))
        cases.update(wsgi_cases(wsgi_stream, "64 KiB stream"))
        cases.update(broken_wsgi_cases(wsgi_hop_by_hop, "rule-breaking"))
        cases.update(asgi_cases(asgi_hello, "hello"))
        cases.update(asgi_cases(asgi_stream, "64 KiB stream"))
        fast = interleaved(cases, rounds, budget)
        slow = interleaved(cgi_cases(Path(tmp)), cgi_rounds, cgi_budget)
    results = {**fast, **slow}
    extra = {"import gateway_lab": import_time(3 if args.quick else 11),
             "simulate 100,000 requests": simulation_time(1 if args.quick else 3)}
    notebooks = {} if args.no_notebooks else notebook_times()

    groups = [("The paths learners take (issue 13's goals are on these rows)",
               "wsgi hello: bare call", "wsgi hello: gl.run_wsgi (a new Request each call)",
               ["wsgi hello: gl.run_wsgi (a new Request each call)",
                "wsgi hello: wsgiref.validate", "wsgi hello: werkzeug Client"]),
              ("", "asgi hello: bare await",
               "asgi hello: gl.run_asgi (inside a running loop, a new Request each call)",
               ["asgi hello: gl.run_asgi (inside a running loop, a new Request each call)",
                "asgi hello: asgiref ApplicationCommunicator (inside a running loop)",
                "asgi hello: starlette TestClient"])]
    for label in ("hello", "64 KiB stream"):
        groups.append((f"WSGI, {label} app", f"wsgi {label}: bare call",
                       f"wsgi {label}: gl.run_wsgi",
                       [k for k in results if k.startswith(f"wsgi {label}:")]))
        groups.append((f"ASGI, {label} app", f"asgi {label}: bare await",
                       f"asgi {label}: gl.run_asgi",
                       [k for k in results if k.startswith(f"asgi {label}:")]))
    groups.append(("WSGI, an app that breaks a rule on every call (a hop-by-hop header)",
                   "wsgi rule-breaking: bare call", "wsgi rule-breaking: gl.run_wsgi",
                   [k for k in results if k.startswith("wsgi rule-breaking:")]))
    groups.append(("CGI, a Python script", "cgi: bare subprocess.run", "cgi: gl.run_cgi",
                   [k for k in results if k.startswith("cgi:")]))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"gateway-lab benchmark ({machine}; median of {rounds} interleaved rounds, "
          f"{cgi_rounds} for CGI{'; --quick: not a measurement' if args.quick else ''})")
    print(table(results, groups))
    print("\n  (÷ lab: how many lab calls fit in that case's time; above 1 the lab is faster."
          "\n   ASGI rows marked 'inside a running loop', the bare await and await"
          " gl.run_asgi_async\n   are timed inside one running loop; the rest are called"
          " from plain code.)\n")
    for name, value in extra.items():
        print(f"{name:<30} {fmt(value)}")
    for name, value in notebooks.items():
        print(f"notebook {name:<40} {value if isinstance(value, str) else fmt(value)}")
    goals = [(g, f"{v:.1f}×", ok) for g, v, _, ok in targets(results)]
    goals.append(("import gateway_lab ≤ 100 ms", fmt(extra["import gateway_lab"]).strip(),
                  extra["import gateway_lab"] <= 0.1))
    goals.append(("simulation of 100,000 requests ≤ 1 s",
                  fmt(extra["simulate 100,000 requests"]).strip(),
                  extra["simulate 100,000 requests"] <= 1.0))
    print("\nGoals (issue 13):")
    for goal, measured, ok in goals:
        print(f"  [{'met ' if ok else 'MISS'}] {goal:<55} measured {measured}")
    out = {"machine": machine, "rounds": rounds, "quick": args.quick,
           "seconds_per_call": results, "extra_seconds": extra,
           "notebooks_seconds": notebooks,
           "goals": [{"goal": g, "measured": m, "met": ok} for g, m, ok in goals]}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
