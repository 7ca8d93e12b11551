"""Real servers started by the lab: each starts, answers, and stops with nothing left
running; wrk's output becomes a summary; idle streams and their memory; the claims'
verdicts follow the run's numbers; the two-worker chat loses messages without a
broker and delivers all of them through a real redis-server.

Every server here is a real child process group (gunicorn, uWSGI, uvicorn, hypercorn,
granian from the `servers` extra); wrk and redis-server come from Debian (.ci/run).
What is not installed is skipped with the command that installs it.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway_lab.servers import NotInstalled, ServerError, Setup, start, write_app
from gateway_lab.servers.catalog import install_hint, installed
from gateway_lab.servers.process import group_pids

ROOT = Path(__file__).resolve().parents[1]
POSIX = os.name == "posix"
needs_posix = pytest.mark.skipif(not POSIX, reason="process groups and these servers: POSIX")


def need(setup: Setup) -> None:
    if not installed(setup.server):
        pytest.skip(f"{setup.server} is not installed: {install_hint(setup.server)}")
    if setup.worker_class == "gevent":
        pytest.importorskip("gevent", reason="pip install gevent")


def need_tool(name: str, hint: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed: {hint}")


def hammer(srv, n: int = 200, path: str = "/?io=0") -> tuple[list[int], set[str]]:
    """n GETs from 4 threads on keep-alive connections: statuses and answering pids."""
    def client(k):
        statuses, pids = [], set()
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        for i in range(k):
            conn.request("GET", path if i % 10 else "/pid")
            response = conn.getresponse()
            body = response.read()
            statuses.append(response.status)
            if i % 10 == 0:
                pids.add(body.decode())
            if response.will_close:  # gunicorn's sync workers close after each answer
                conn.close()
        conn.close()
        return statuses, pids

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(client, [n // 4] * 4))
    return [s for st, _ in parts for s in st], set().union(*(p for _, p in parts))


def gone(pids) -> bool:
    """No process of these pids runs any more (a zombie waiting for init does not run)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in "ZX":
            return False
    return True


def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return True
    return False


SETUPS = [
    Setup("gunicorn", 2),
    Setup("gunicorn", 2, 2),
    Setup("gunicorn", 1, worker_class="gevent"),
    Setup("uwsgi", 2),
    Setup("uwsgi", 1, 4),
    Setup("uvicorn", 1),
    Setup("uvicorn", 2),
    Setup("hypercorn", 1),
    Setup("granian", 1),
    Setup("granian", 1, 2, interface="wsgi"),
]


@needs_posix
@pytest.mark.timeout(60)
@pytest.mark.parametrize("setup", SETUPS, ids=[s.label.replace(" ", "-") for s in SETUPS])
def test_each_server_starts_answers_and_stops_with_nothing_left(setup):
    need(setup)
    with start(setup) as srv:
        assert srv.running and srv.url.startswith("http://127.0.0.1:")
        statuses, answered_by = hammer(srv)
        pids = srv.pids()
        assert statuses == [200] * len(statuses) and len(statuses) == 200
        # /pid names the worker that answered: one of the server's own processes
        assert {int(p) for p in answered_by} <= set(pids)
        # a master plus its workers (uvicorn --workers 1 and granian run in fewer)
        assert len(pids) >= setup.workers
        assert srv.rss() > 5 * 2**20
    assert srv.group.leftovers == [] and group_pids(srv.group.pid) == []
    assert gone(pids), f"still running after stop: {pids}"
    assert refused(srv.host, srv.port)
    assert "Traceback" not in srv.log()


@needs_posix
@pytest.mark.timeout(60)
def test_hypercorn_and_granian_speak_http2_and_uvicorn_does_not():
    pytest.importorskip("h2", reason="pip install h2 (it comes with hypercorn)")
    from gateway_lab.servers.probe import http2_probe

    answers = {}
    for setup in (Setup("hypercorn", 1), Setup("granian", 1), Setup("uvicorn", 1)):
        need(setup)
        with start(setup) as srv:
            answers[setup.server] = http2_probe(srv)
    assert answers["hypercorn"].accepted and answers["hypercorn"].detail == "HTTP/2 200"
    assert answers["granian"].accepted
    assert not answers["uvicorn"].accepted


@needs_posix
@pytest.mark.timeout(60)
def test_a_broken_app_fails_with_the_servers_own_log_and_leaves_nothing():
    need(Setup("uvicorn"))
    ref = write_app("import no_such_module_here\napp = None\n")
    with pytest.raises(ServerError) as caught:
        start("uvicorn", ref, timeout=20)
    message = str(caught.value)
    assert "no_such_module_here" in message and "exited" in message


def test_bad_requests_get_clear_messages():
    with pytest.raises(ValueError, match="choose one of gunicorn"):
        Setup("nginx")
    with pytest.raises(ValueError, match="one event loop per worker"):
        Setup("uvicorn", threads=2)
    with pytest.raises(ValueError, match="serves wsgi apps, not asgi"):
        Setup("uwsgi", interface="asgi")
    with pytest.raises(ValueError, match="gthread"):
        Setup("gunicorn", 1, 4, worker_class="sync")

    def app_of_this_file(environ, start_response):  # a nested function: not importable
        return []

    with pytest.raises(ValueError, match="write_app"):
        start("gunicorn", app_of_this_file)
    with pytest.raises(ValueError, match="module:attr"):
        start("uvicorn", "no_colon_here")
    with pytest.raises(SyntaxError):
        write_app("def app(:\n")


def test_an_app_object_from_a_module_is_named_for_the_server():
    import gateway_lab as gl
    from gateway_lab.servers import apps
    from gateway_lab.servers.server import app_ref

    assert gl.servers.start is start  # gl.servers is the package, reached lazily
    assert app_ref(apps.asgi_app, "asgi").target == "gateway_lab.servers.apps:asgi_app"
    assert app_ref(None, "wsgi").target == "gateway_lab.servers.apps:wsgi_app"
    ref = write_app("app = 1\n", attr="app", name="gl_test_named_module")
    assert ref.target == "gl_test_named_module:app" and Path(ref.path[0]).is_dir()


def test_missing_tools_say_how_to_install_them(monkeypatch):
    from gateway_lab.servers.broker import start_redis
    from gateway_lab.servers.loadgen import loadtest

    monkeypatch.setenv("PATH", "")  # nothing on PATH: wrk and redis-server are not found
    with pytest.raises(NotInstalled, match="apt install wrk"):
        loadtest("http://127.0.0.1:9/", duration=1)
    with pytest.raises(NotInstalled, match="apt install redis-server"):
        start_redis()
    assert "pip install pyuwsgi" in install_hint("uwsgi")


def test_load_tests_stay_on_this_machine():
    from gateway_lab.servers.loadgen import loadtest

    with pytest.raises(ValueError, match="this machine only"):
        loadtest("http://example.org/", duration=1)
    with pytest.raises(ValueError, match="threads .* cannot exceed connections"):
        loadtest("http://127.0.0.1:9/", connections=1, threads=2)


def test_wrk_report_parsing_rejects_output_without_a_report():
    from gateway_lab.servers.loadgen import parse

    with pytest.raises(ValueError, match="wrk printed no report"):
        parse("unable to connect to 127.0.0.1:9 Connection refused\n")


@needs_posix
@pytest.mark.timeout(60)
def test_wrk_results_become_the_labs_summary():
    need_tool("wrk", "apt install wrk")
    need(Setup("uvicorn"))
    from gateway_lab.servers.loadgen import loadtest

    with start("uvicorn") as srv:
        result = loadtest(srv.url + "?io=0.02", connections=4, duration=1, label="uvicorn 1",
                          workload="io")
        paced = loadtest(srv.url + "?io=0", connections=2, duration=1, rate=20)
    s = result.summary()
    assert s.source == "real (wrk)" and s.model == "uvicorn 1" and s.connections == 4
    assert s.failed == 0 and s.completed == s.requests > 20
    assert s.throughput == pytest.approx(s.completed / s.makespan)
    assert 1.0 <= s.makespan < 1.5
    # every answer waited at least the app's 20 ms; percentiles are ordered
    assert 0.02 <= s.p50 <= s.p95 <= s.p99 < 1.0
    # four connections, 20 ms each: at most about 200 a second
    assert s.throughput < 4 / 0.02 * 1.1
    # wrk's delay() hook paced two connections to 20 requests a second
    assert paced.summary().requests <= 20 * 1.5 + 2


@needs_posix
@pytest.mark.timeout(60)
def test_errors_are_counted_as_failed_not_as_throughput():
    need_tool("wrk", "apt install wrk")
    need(Setup("gunicorn"))
    from gateway_lab.servers.loadgen import loadtest

    ref = write_app(
        "def app(environ, start_response):\n"
        "    start_response('503 Service Unavailable', [('Content-Type', 'text/plain'),\n"
        "                                               ('Content-Length', '4')])\n"
        "    return [b'busy']\n")
    with start("gunicorn", ref) as srv:
        s = loadtest(srv.url, connections=2, duration=1).summary()
    assert s.requests > 10 and s.completed == 0 and s.failed >= s.requests
    assert s.throughput == 0


@needs_posix
@pytest.mark.timeout(60)
def test_waits_that_wrks_percentiles_do_not_see_are_said():
    # uWSGI's two threads kept answering the same few connections: wrk's mean was the app's
    # 50 ms while most connections waited the whole run, unanswered and so uncounted.
    # gunicorn's one sync worker took connections in turn: the two means agree.
    need_tool("wrk", "apt install wrk")
    for setup in (Setup("uwsgi", 1, 2), Setup("gunicorn", 1)):
        need(setup)
    from gateway_lab.servers.loadgen import loadtest
    from gateway_lab.servers.showdown import Point, Showdown

    points = []
    for setup, connections in ((Setup("uwsgi", 1, 2), 16), (Setup("gunicorn", 1), 8)):
        with start(setup) as srv:
            measured = loadtest(srv.url + "?io=0.05", connections=connections, duration=2,
                                label=setup.label, workload="io")
        points.append(Point(setup, "io", connections, measured, None))
    starved, fair = points
    assert starved.mean_wait_of_all() > 1.5 * starved.measured.summary().mean
    assert starved.unseen_waits() and not fair.unseen_waits()
    run = Showdown([p.setup for p in points], ("io",), (16, 8), 2, points=points)
    note = run.unseen_note()
    assert "uwsgi 1x2, io, 16 connections" in note and "gunicorn" not in note
    assert "mean wait (all)" in str(run) and note in str(run)


@needs_posix
@pytest.mark.timeout(60)
def test_idle_streams_a_worker_per_request_server_holds_few_an_event_loop_all():
    need(Setup("uvicorn"))
    need(Setup("gunicorn"))
    from gateway_lab.servers.idle import hold_idle

    with start("uvicorn") as loop:
        evented = hold_idle(loop, 200, hold=10)
    with start("gunicorn", workers=1) as sync:
        blocked = hold_idle(sync, 50, hold=4)
    assert evented.held == 200 and evented.waiting == 0
    assert evented.rss_during > evented.rss_before  # 200 open streams cost memory
    assert evented.per_held > 0
    # one sync worker serves one stream; the others wait, accepted but unanswered
    assert blocked.held == 1 and blocked.waiting == 49
    assert "1 of 50 idle streams held" in str(blocked)


@needs_posix
@pytest.mark.timeout(90)
def test_the_two_worker_chat_loses_messages_without_a_broker_and_not_with_redis():
    need(Setup("uvicorn"))
    need_tool("redis-server", "apt install redis-server")
    pytest.importorskip("redis", reason="pip install redis")
    pytest.importorskip("websockets", reason="pip install websockets")
    from gateway_lab.servers.chat_run import chat_run

    alone = chat_run(workers=2, messages=3)
    assert alone.workers[0] != alone.workers[1]       # the clients sit on different workers
    assert alone.sent_count == 6 and alone.delivered == 0 and alone.lost == 6
    # each client still hears itself: its own worker's in-memory room works
    assert all(len(alone.received[c]) == 3 for c in alone.sent)
    lost = alone.trace()
    assert [e.kind for e in lost][-1] == "note" and "never received" in lost[-1].detail

    brokered = chat_run(workers=2, broker="redis", messages=3)
    assert brokered.workers[0] != brokered.workers[1]
    assert brokered.channel == "redis"
    assert brokered.delivered == brokered.sent_count == 6 and brokered.lost == 0
    trace = brokered.trace()
    steps = [(e.actor, e.kind, e.target) for e in trace]
    a, b = brokered.workers
    assert ("client A", "send", a) in steps
    assert (a, "publish", "redis") in steps
    assert ("redis", "deliver", b) in steps and (b, "send", "client B") in steps
    times = [e.t for e in trace]
    assert times == sorted(times)  # the steps in the order they happened


@needs_posix
@pytest.mark.timeout(60)
def test_one_process_needs_no_broker():
    need(Setup("uvicorn"))
    pytest.importorskip("websockets", reason="pip install websockets")
    from gateway_lab.servers.chat_run import chat_run

    run = chat_run(workers=1, messages=2)
    assert run.workers[0] == run.workers[1] and run.channel.startswith("memory")
    assert run.delivered == run.sent_count == 4


@needs_posix
@pytest.mark.timeout(90)
def test_the_widget_runs_a_showdown_and_the_verdicts_follow_its_numbers():
    need_tool("wrk", "apt install wrk")
    for s in (Setup("uvicorn"), Setup("gunicorn")):
        need(s)
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from gateway_lab.servers.widget import ServersExplorer

    explorer = ServersExplorer(setups=[Setup("gunicorn", 1), Setup("uvicorn", 1)],
                               workloads=("io",), connections=(1, 8), idle=20)
    run = explorer.run()
    assert run is not None and explorer.result is run, explorer.status.value
    assert len(run.points) == 4 and run.leftovers == {"gunicorn sync 1": [], "uvicorn 1": []}
    assert "4 points on 2 servers" in explorer.status.value
    kinds = [o["output_type"] for o in explorer.output.outputs]
    assert kinds.count("display_data") == 2  # the tables and the curves
    verdicts = {v.claim: v for v in run.verdicts()}
    # One sync worker serves one 50 ms wait at a time: about 20 answers a second,
    # so this run's numbers make the claim true *for this setup*.
    sync = run.throughput("gunicorn sync 1", "io", 8)
    assert sync * 0.05 < 1.5
    assert verdicts["WSGI can't handle concurrency"].verdict == "true"
    assert f"{sync:,.0f} req/s" in verdicts["WSGI can't handle concurrency"].evidence
    loop = run.throughput("uvicorn 1", "io", 8)
    assert loop > 2 * sync                  # the event loop overlapped its eight waits
    assert verdicts["ASGI is faster"].verdict == "true"
    assert f"{loop:,.0f} req/s" in verdicts["ASGI is faster"].evidence
    ws = verdicts["WebSockets need ASGI"]
    assert run.probes["uvicorn 1"].accepted and not run.probes["gunicorn sync 1"].accepted
    assert ws.verdict == "true" and "held 1 of 20" in ws.evidence


@needs_posix
@pytest.mark.timeout(60)
def test_loadtest_on_the_command_line():
    need_tool("wrk", "apt install wrk")
    need(Setup("uvicorn"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "gateway_lab", "loadtest", "--server",
                           "uvicorn", "--workload", "io", "--concurrency", "1,4",
                           "--duration", "1"], capture_output=True, text=True, env=env,
                          timeout=50, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("uvicorn 1 ")]
    assert len(lines) == 2 and all(" io " in line and "req/s" in line for line in lines)
    assert "predicted throughput" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "gateway_lab", "loadtest", "--server",
                          "uvicorn", "--threads", "2", "--duration", "1"],
                         capture_output=True, text=True, env=env, timeout=30, cwd=ROOT)
    assert bad.returncode == 2 and "one event loop per worker" in bad.stderr


@needs_posix
@pytest.mark.timeout(90)
def test_the_real_server_bench_runs_and_writes_its_table(tmp_path):
    need_tool("wrk", "apt install wrk")
    need(Setup("uvicorn"))
    out = tmp_path / "servers.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "servers.py"), "--quick",
                           "--only", "uvicorn 1", "--workloads", "io", "--out", str(out)],
                          capture_output=True, text=True, timeout=80, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["quick"] is True
    assert results["setups"] == ["uvicorn 1"] and results["workloads"] == ["io"]
    [point] = results["points"]
    assert point["server"] == "uvicorn 1" and point["connections"] == 16
    assert point["throughput"] > 0 and point["failed"] == 0
    assert results["idle"]["uvicorn 1"]["held"] == 200
    assert results["leftovers"] == {"uvicorn 1": []}
    # one ASGI setup alone cannot judge an ASGI-vs-WSGI claim, and the table says so
    assert "NOT MEASURED" in done.stdout and "uvicorn 1" in done.stdout
