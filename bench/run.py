"""`make bench`: the engine side by side with the reference tools, in one run.

Every case is timed in rounds that interleave all cases (so a slow moment of
the machine hurts them alike), and the median per-call time over the rounds
is reported, with ratios to the bare call and to each reference.  Results go
to bench/results.json; the README shows the latest table.

    python bench/run.py [--quick] [--no-notebooks]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gateway_lab as gl  # noqa: E402

CHUNK = b"x" * 4096
STREAM_CHUNKS = 16  # 16 x 4 KiB = 64 KiB


def available(name: str) -> bool:
    """Is gl.<name> there yet?  (Parts of the lab load lazily.)"""
    try:
        getattr(gl, name)
        return True
    except (AttributeError, ImportError):
        return False


# -- the apps -------------------------------------------------------------------

def wsgi_hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!"]


def wsgi_stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return (CHUNK for _ in range(STREAM_CHUNKS))


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


# -- the cases: name -> (group, a function doing one call) ------------------------

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
        env = {}
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
        f"wsgi {label}: gl.run_wsgi": lambda: gl.run_wsgi(app, req),
        f"wsgi {label}: gl.run_wsgi (coach off)": lambda: gl.run_wsgi(app, req, coach=False),
    }


def floor_wsgi(app, req):
    """The least a gateway that records a trace must do per call, and nothing more:
    copy an environ, record the 8 steps gl.run_wsgi records, call the app, join the
    body, build the Response and Exchange.  No rule is checked, no deadline set.
    It shows how much of gl.run_wsgi's time is the trace itself."""
    from gateway_lab.exchange import Exchange, Response
    from gateway_lab.trace import Trace
    from gateway_lab.wsgi import build_environ

    clock = time.perf_counter
    base = build_environ(req, Trace("wsgi"))

    def call():
        trace = Trace("wsgi")
        log = trace._pending.append
        log(("client", "request", req.target, "", clock(), req, "server", None))
        environ = base.copy()
        log(("server", "environ", "", "", clock(), environ.copy(), "gateway", None))
        got = []
        log(("gateway", "call", "", "", clock(), None, "app", None))

        def start_response(status, headers, exc_info=None):
            log(("app", "start_response", status, "", clock(), None, "gateway", None))
            got[:] = [status, headers]

        result = app(environ, start_response)
        log(("app", "return", "", "", clock(), None, "gateway", None))
        body = []
        for chunk in result:
            if not body:
                log(("server", "send headers", "", "", clock(), None, "client", None))
            body.append(chunk)
            log(("server", "send body", "", "", clock(), None, "client", None))
        response = Response(int(got[0][:3]), got[1], b"".join(body), reason=got[0][4:])
        log(("server", "response", "", "", clock(), response, "client", None))
        return Exchange("wsgi", req, response, trace)

    return call


def asgi_cases(app, label):
    cases = {}
    req = gl.Request("GET", "/")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/",
             "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost")],
             "client": ("127.0.0.1", 5000), "server": ("localhost", 80)}
    loop = asyncio.new_event_loop()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    cases[f"asgi {label}: bare await"] = lambda: loop.run_until_complete(
        app(dict(scope), receive, send))
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
            lambda: loop.run_until_complete(communicate())
    except ImportError:
        pass
    try:
        import httpx

        transport = httpx.ASGITransport(app=app)
        aclient = httpx.AsyncClient(transport=transport, base_url="http://localhost")
        cases[f"asgi {label}: httpx ASGITransport"] = \
            lambda: loop.run_until_complete(aclient.get("/"))
    except ImportError:
        pass
    from starlette.testclient import TestClient

    tclient = TestClient(app)
    cases[f"asgi {label}: starlette TestClient"] = lambda: tclient.get("/")
    if available("run_asgi"):
        cases[f"asgi {label}: gl.run_asgi (sync caller)"] = lambda: gl.run_asgi(app, req)
        cases[f"asgi {label}: gl.run_asgi (sync caller, coach off)"] = \
            lambda: gl.run_asgi(app, req, coach=False)

        async def inside_loop():
            return gl.run_asgi(app, req)

        cases[f"asgi {label}: gl.run_asgi (inside a running loop)"] = \
            lambda: loop.run_until_complete(inside_loop())
        cases[f"asgi {label}: await gl.run_asgi_async"] = \
            lambda: loop.run_until_complete(gl.run_asgi_async(app, req))
    return cases


def cgi_cases(tmp: Path):
    script = tmp / "hello.py"
    script.write_text(CGI_SCRIPT)
    env = {"PATH": "/usr/bin:/bin", "REQUEST_METHOD": "GET", "QUERY_STRING": "",
           "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "/hello.py", "SERVER_NAME": "localhost",
           "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "bench"}
    cases = {"cgi: bare subprocess.run": lambda: subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, input=b"", check=True)}
    if available("run_cgi"):
        cases["cgi: gl.run_cgi"] = lambda: gl.run_cgi(script, gl.Request("GET", "/"))
    return cases


# -- timing -----------------------------------------------------------------------------

def per_call(fn, budget: float) -> float:
    """Seconds per call of fn, timing as many calls as fit in `budget` seconds."""
    fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            return elapsed / n


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

    bare = statistics.median(once("pass") for _ in range(repeats))
    lab = statistics.median(once("import gateway_lab") for _ in range(repeats))
    return max(0.0, lab - bare)


def simulation_time() -> float | None:
    if not available("simulate"):
        return None
    try:
        workload = gl.Workload(requests=100_000, io=0.05, cpu=0.0)
        start = time.perf_counter()
        gl.simulate(gl.EventLoop(), workload)
        return time.perf_counter() - start
    except (AttributeError, ImportError, TypeError):
        return None


def notebook_times() -> dict:
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        return {}
    out = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
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
    nan = float("nan")
    for title, bare_key, lab_key, keys in groups:
        present = [k for k in keys if k in results]
        if not present:
            continue
        lines.append(f"\n{title}")
        lines.append(f"  {'case':<52} {'median':>11}  {'× bare':>8}  {'÷ lab':>7}")
        for k in present:
            bare = results[k] / results[bare_key] if bare_key in results else nan
            lab = results[k] / results[lab_key] if lab_key in results else nan
            lines.append(f"  {k.split(': ', 1)[1]:<52} {fmt(results[k])}  {bare:8.1f}"
                         f"  {lab:7.2f}")
    return "\n".join(lines)


def targets(r: dict) -> list[tuple[str, str, bool | None]]:
    """The speed goals of issue 6, each as (goal, measured, met?)."""
    def ratio(a, b):
        return r[a] / r[b] if a in r and b in r else None

    checks = []

    def add(goal, value, ok):
        checks.append((goal, "n/a" if value is None else f"{value:.1f}×",
                       None if value is None else ok(value)))

    add("gl.run_wsgi ≥ 8× faster than werkzeug Client",
        ratio("wsgi hello: werkzeug Client", "wsgi hello: gl.run_wsgi"), lambda v: v >= 8)
    add("gl.run_wsgi ≥ 5× faster than wsgiref.validate",
        ratio("wsgi hello: wsgiref.validate", "wsgi hello: gl.run_wsgi"), lambda v: v >= 5)
    add("gl.run_asgi ≥ 50× faster than starlette TestClient",
        ratio("asgi hello: starlette TestClient", "asgi hello: gl.run_asgi (sync caller)"),
        lambda v: v >= 50)
    add("gl.run_asgi ≥ 2× faster than ApplicationCommunicator",
        ratio("asgi hello: asgiref ApplicationCommunicator",
              "asgi hello: gl.run_asgi (sync caller)"), lambda v: v >= 2)
    add("await gl.run_asgi_async ≤ 15× the bare await",
        ratio("asgi hello: await gl.run_asgi_async", "asgi hello: bare await"),
        lambda v: v <= 15)
    add("gl.run_cgi ≤ 1.15× a bare subprocess.run",
        ratio("cgi: gl.run_cgi", "cgi: bare subprocess.run"), lambda v: v <= 1.15)
    return checks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--no-notebooks", action="store_true")
    args = parser.parse_args(argv)
    # Many short rounds: on a shared machine slow moments come in bursts of a
    # fraction of a second, and 31 rounds of 70 ms each spread every case across
    # them (11 rounds of 200 ms gave ratios that moved by a third between runs).
    rounds, budget = (5, 0.03) if args.quick else (31, 0.07)

    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        cases.update(wsgi_cases(wsgi_hello, "hello"))
        cases.update(wsgi_cases(wsgi_stream, "64 KiB stream"))
        cases.update(asgi_cases(asgi_hello, "hello"))
        cases.update(asgi_cases(asgi_stream, "64 KiB stream"))
        fast = interleaved(cases, rounds, budget)
        slow = interleaved(cgi_cases(Path(tmp)), min(rounds, 11), max(budget, 0.5))
    results = {**fast, **slow}
    extra = {"import gateway_lab": import_time(5 if args.quick else 11),
             "simulate 100,000 requests": simulation_time()}
    notebooks = {} if args.no_notebooks else notebook_times()

    groups = []
    for label in ("hello", "64 KiB stream"):
        groups.append((f"WSGI, {label} app", f"wsgi {label}: bare call",
                       f"wsgi {label}: gl.run_wsgi",
                       [k for k in results if k.startswith(f"wsgi {label}:")]))
        groups.append((f"ASGI, {label} app", f"asgi {label}: bare await",
                       f"asgi {label}: gl.run_asgi (sync caller)",
                       [k for k in results if k.startswith(f"asgi {label}:")]))
    groups.append(("CGI, a Python script", "cgi: bare subprocess.run", "cgi: gl.run_cgi",
                   [k for k in results if k.startswith("cgi:")]))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"gateway-lab benchmark ({machine}; median of {rounds} interleaved rounds, "
          f"{min(rounds, 11)} for CGI)")
    print(table(results, groups))
    print()
    for name, value in extra.items():
        print(f"{name:<30} {'n/a' if value is None else fmt(value)}")
    for name, value in notebooks.items():
        print(f"notebook {name:<40} {value if isinstance(value, str) else fmt(value)}")
    print("\nGoals (issue 6):")
    goals = targets(results)
    if extra["import gateway_lab"] is not None:
        goals.append(("import gateway_lab ≤ 100 ms", fmt(extra["import gateway_lab"]).strip(),
                      extra["import gateway_lab"] <= 0.1))
    if extra["simulate 100,000 requests"] is not None:
        goals.append(("simulation of 100,000 requests ≤ 1 s",
                      fmt(extra["simulate 100,000 requests"]).strip(),
                      extra["simulate 100,000 requests"] <= 1.0))
    for goal, measured, ok in goals:
        mark = "n/a " if ok is None else ("met " if ok else "MISS")
        print(f"  [{mark}] {goal:<55} measured {measured}")
    out = {"machine": machine, "rounds": rounds, "seconds_per_call": results,
           "extra_seconds": extra, "notebooks_seconds": notebooks,
           "goals": [{"goal": g, "measured": m, "met": ok} for g, m, ok in goals]}
    (ROOT / "bench" / "results.json").write_text(json.dumps(out, indent=2) + "\n")
    print("\nwrote bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
