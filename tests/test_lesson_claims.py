"""Each lesson's claims, checked against what the lesson's own run shows (issue 15).

The lessons run once per session (test_notebooks.executed); these tests read the
outputs of those runs. A lesson's text about a measurement is printed from the
run's numbers, so here the printed sentences are held against the printed tables.
The simulator's cost model is tested directly.
"""

import asyncio
import re
import threading

import pytest

import gateway_lab as gl

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from test_notebooks import LESSONS, NOTEBOOKS, executed, text_of  # noqa: E402

pytestmark = pytest.mark.timeout(300)  # a lesson's first run happens in whichever test asks


def lesson(stem: str):
    return executed(NOTEBOOKS / f"{stem}.ipynb")


def output_of(nb, marker: str) -> str:
    """The output of the first code cell whose source contains `marker`."""
    for cell in nb.cells:
        if cell.cell_type == "code" and marker in cell.source:
            return text_of(cell)
    raise AssertionError(f"no code cell contains {marker!r}")


def seconds(cell: str) -> float:
    """A table cell as the lab formats it ('57.3 ms', '1.234 s') in seconds."""
    value, unit = cell.replace(",", "").split()
    return float(value) / 1000 if unit == "ms" else float(value)


def html_tables(text: str) -> list[dict[str, dict[str, str]]]:
    """Every lab table in `text`: for each, model -> {column heading: cell}."""
    tables = []
    for table in re.findall(r"<table><thead>(.*?)</tbody></table>", text, re.S):
        heads = re.findall(r"<th>(.*?)</th>", table)
        rows = {}
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1]):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
            rows[cells[0]] = dict(zip(heads, cells, strict=True))
        tables.append(rows)
    return tables


# -- 01, 02: what the spec says, shown -----------------------------------------------------

def test_lesson_01_runs_a_wsgi_app_as_a_cgi_script():
    out = output_of(lesson("01_cgi"), "CGIHandler")
    assert "200 Hello, Ada, from WSGI in CGI process" in out
    assert "wsgi.run_once=True" in out and "'spawn'" in out and "'exit'" in out


def test_lesson_02_handles_a_missing_query_string_and_shows_exc_info_step_by_step():
    nb = lesson("02_wsgi")
    assert "QUERY_STRING in wsgiref's test environ: False" in output_of(nb, "setup_testing")
    assert "Hello, world!" in output_of(nb, "setup_testing")
    # Before the headers went out: the second start_response replaced the first.
    assert "500 b'sorry, something broke' findings: []" in output_of(nb, "def careful")
    # After: the connection is cut and the response is incomplete.
    late = output_of(nb, "def too_late")
    assert "complete: False" in late and "exc_info after the headers" in late


# -- 03, 06: measured text agrees with its table ------------------------------------------

def test_lesson_03_cpu_sentences_agree_with_the_measured_table():
    nb = lesson("03_wsgi_servers")
    table_out = output_of(nb, "cpu_runs = {")
    assert re.search(r"this machine: \d+ cores, load (unknown|\d+\.\d)", table_out)
    rows = html_tables(table_out)[0]
    one = seconds(rows["Sequential()"]["makespan"])
    threads = seconds(rows["Threads(4)"]["makespan"])
    procs = seconds(rows["Processes(2)"]["makespan"])
    said = output_of(nb, "span = {")
    shown_t = float(re.search(r"Threads\(4\) took (\d+\.\d+)x", said).group(1))
    shown_p = float(re.search(r"Processes\(2\) took (\d+\.\d+)x", said).group(1))
    assert shown_t == pytest.approx(threads / one, abs=0.02)
    assert shown_p == pytest.approx(procs / one, abs=0.02)
    # The words follow the numbers, whichever way this machine went.
    assert ("computed in parallel" in said) == (procs < 0.8 * one)
    assert ("no faster, as the GIL predicts" in said) == (threads > 0.8 * one)


def test_lesson_03_compares_with_a_free_threaded_python_only_when_there_is_one():
    out = output_of(lesson("03_wsgi_servers"), "probe = ")
    assert re.search(r"this kernel's Python: 3\.\d+\.\d+\S*, GIL (on|off)", out)
    assert "No free-threaded Python found here" in out or "free-threaded " in out


def test_lesson_06_verdicts_agree_with_their_tables():
    nb = lesson("06_concurrency_showdown")
    ranked = output_of(nb, "ranked = sorted")
    order = re.findall(r"(\w+\([^)]*\)) (\d+) ms", ranked.split("\n")[0])
    assert [float(ms) for _, ms in order] == sorted(float(ms) for _, ms in order)
    for marker, alone in (("print(\"1. waiting", 0.101), ("print(\"2. and 3.", 0.1015)):
        out = output_of(nb, marker)
        rows = {}
        for table in html_tables(out):
            rows.update(table)
        verdicts = re.findall(r"(\S+): (keeps up|falls behind) \(p95 ([\d,]+) ms", out)
        assert len(verdicts) >= 3
        for model, verdict, p95 in verdicts:
            p95 = float(p95.replace(",", "")) / 1000
            assert p95 == pytest.approx(seconds(rows[model]["p95"]), abs=0.002)
            assert (verdict == "keeps up") == (p95 < 2 * alone), (model, verdict, p95)
    # The pool at its limit, one loop at its CPU ceiling, several loops on cores.
    pool = output_of(nb, "print(\"1. waiting")
    assert "Threads(64): falls behind" in pool
    ceiling = output_of(nb, "print(\"2. and 3.")
    assert "EventLoop(): falls behind" in ceiling
    assert "EventLoop(processes=2): keeps up" in ceiling


# -- 04, 05: lifespan per worker, the chat and a dead peer --------------------------------

def test_lesson_06_threads_12_is_run_not_asserted():
    """'The gap was the pool size' is said only beside a run of Threads(12) that shows it."""
    out = output_of(lesson("06_concurrency_showdown"), "model=gl.Threads(12)")
    four, twelve, loop = (float(x) for x in re.search(
        r"Threads\(4\) (\d+) ms, Threads\(12\) (\d+) ms, EventLoop\(\) (\d+) ms", out).groups())
    said = "the gap was the pool size" in out
    assert said == (twelve < 0.75 * four), out


def test_lesson_04_a_startup_that_raises_does_not_stop_the_server():
    """The text says raising lets the server carry on without lifespan, and that
    lifespan.startup.failed is what stops it: the run shows both."""
    out = output_of(lesson("04_asgi"), "async def raises_at_startup")
    raised, reported = out.split("reports_failure:")
    assert "supported: False" in raised and "does not support lifespan" in raised
    assert "supported: True, started: False" in reported
    assert "lifespan.startup.failed" in reported


def test_lesson_04_lifespan_runs_once_in_each_worker_process():
    out = output_of(lesson("04_asgi"), "--workers")
    pids = re.findall(r"startup in process (\d+)", out)
    assert len(pids) == 2 and len(set(pids)) == 2, out
    assert "2 startups, in 2 different processes" in out


def test_lesson_05_the_guarded_chat_survives_a_dead_peer():
    nb = lesson("05_long_lived")
    fragile = output_of(nb, "async def fragile_chat")
    assert "B's connection closed with 1011" in fragile and "B's broadcast died" in fragile
    guarded = output_of(nb, "async def broadcast")
    assert "B's broadcast survived" in guarded
    assert "B received: ['hi, I am A', 'B here', 'anyone?']" in guarded


def _guarded_chat():
    room = set()

    async def chat(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        room.add(send)
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                for peer in list(room):
                    try:
                        await peer({"type": "websocket.send", "text": message["text"]})
                    except OSError:  # ASGI WebSocket spec 2.4: that peer has gone
                        room.discard(peer)
        finally:
            await asyncio.sleep(0.05)  # clean-up that awaits: the peer is still in the room
            room.discard(send)

    return chat


@pytest.mark.parametrize("leave", [[], [gl.Close(1006)]], ids=["closes", "drops-1006"])
def test_a_guarded_broadcast_survives_a_peer_that_left(leave):
    chat = _guarded_chat()

    async def both():
        return await asyncio.gather(
            gl.run_asgi_async(chat, gl.Request.websocket("/chat", [0.02, "hi", *leave])),
            gl.run_asgi_async(chat, gl.Request.websocket("/chat", [0.06, "one", 0.05, "two"])))

    alice, bob = asyncio.run(both())
    assert bob.close_code == 1000, bob.trace
    assert bob.messages[-2:] == ["one", "two"]


# -- 07: where gl.run_asgi runs ---------------------------------------------------------------

def _run_asgi_uses_the_calling_thread() -> bool:
    async def where(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body",
                    "body": threading.current_thread().name.encode()})

    async def from_a_running_loop():  # as in a notebook cell
        return gl.run_asgi(where, gl.Request()).response.text

    return asyncio.run(from_a_running_loop()) == threading.current_thread().name


def test_lesson_07_shows_where_run_asgi_ran_and_it_is_the_cells_thread():
    out = output_of(lesson("07_event_loops"), "async def where")
    cell, ran = re.search(r"this cell runs on (\S+); gl.run_asgi ran the app on (\S+):",
                          out).groups()
    # What the lesson printed is what the engine does ...
    assert ("the same thread." in out) == (cell == ran)
    # ... and what its text says: the app ran on the cell's own thread.
    assert _run_asgi_uses_the_calling_thread()
    assert cell == ran


def test_lesson_07_runs_both_nest_asyncio_packages_in_child_processes():
    out = output_of(lesson("07_event_loops"), "nest_asyncio2")
    for module in ("nest_asyncio:", "nest_asyncio2:"):
        part = out.split(module, 1)[1]
        assert "after apply():" in part and "inner result" in part


# -- 08: bridges measured on the same path --------------------------------------------------

def test_lesson_08_bridges_are_compared_with_a_native_app_on_the_same_path():
    nb = lesson("08_bridges")
    table_out = output_of(nb, "async def native_app")
    rows = re.findall(r"^(gl\.run_asgi|await gl\.run_asgi_async)\s+(.+?)\s+([\d.]+) µs\s+"
                      r"([\d.]+)x$", table_out, re.MULTILINE)
    by_path: dict = {}
    for path, app, us, ratio in rows:
        by_path.setdefault(path, {})[app] = (float(us), float(ratio))
    assert set(by_path) == {"gl.run_asgi", "await gl.run_asgi_async"}
    for apps in by_path.values():
        assert set(apps) == {"native ASGI app", "asgiref WsgiToAsgi", "a2wsgi WSGIMiddleware"}
        native = apps["native ASGI app"][0]
        assert apps["native ASGI app"][1] == 1.0
        for us, ratio in apps.values():
            assert ratio == pytest.approx(us / native, rel=0.02, abs=0.02)
    # The sentences are the table's differences.
    said = output_of(nb, "added = {")
    for path, apps in by_path.items():
        line = next(s for s in said.splitlines() if s.startswith(f"On the {path} path"))
        native = apps["native ASGI app"][0]
        for name in ("asgiref WsgiToAsgi", "a2wsgi WSGIMiddleware"):
            added = float(re.search(rf"([\d,]+) µs \({name}\)", line).group(1).replace(",", ""))
            assert added == pytest.approx(apps[name][0] - native, abs=1.5)


def test_lesson_08_mounting_splits_the_path_the_same_way_in_both_interfaces():
    out = output_of(lesson("08_bridges"), "DispatcherMiddleware(")
    lines = [s for s in out.splitlines() if s.strip()]
    assert len(lines) == 3
    for line in lines:
        assert "SCRIPT_NAME='/shop' PATH_INFO='/cart'" in line
    assert "scope path='/shop/cart', root_path='/shop'" in lines[1]


# -- 10: the claims lesson -------------------------------------------------------------------

def test_lesson_10_verdicts_follow_the_numbers():
    nb = lesson("10_claims_tested")
    claim1 = output_of(nb, "one_at_a_time = ")
    rows = html_tables(claim1)[0]
    peak = int(rows["Threads(8)"]["peak conc."])
    assert peak > 1 and f"served {peak} requests at once" in claim1
    assert "Verdict: false" in claim1

    claim2 = output_of(nb, "per_request = {")
    listed = re.findall(r"^(.+?)\s+([\d,]+) µs per request$", claim2, re.MULTILINE)
    values = [float(us.replace(",", "")) for _, us in listed]
    assert len(listed) == 4 and values == sorted(values)
    assert f"the fastest here was {listed[0][0].strip()}" in claim2

    many = output_of(nb, "io16 = ")
    rows = html_tables(many)[0]
    loop, pool = seconds(rows["EventLoop()"]["makespan"]), seconds(rows["Threads(4)"]["makespan"])
    assert ("true only when many requests wait at once" in many) == (loop < 0.8 * pool)


def test_lesson_10_shows_client_disconnects_on_a_real_server():
    out = output_of(lesson("10_claims_tested"), "seen = {}")
    assert "mid-request       http.request then http.disconnect" in out
    assert re.search(r"mid-stream\s+stopped after \d+ events, on http.disconnect", out)
    assert re.search(r"send after close\s+send\(\) (returned|raised)", out)


def test_lesson_10_debug_mode_reports_what_plain_python_hides():
    nb = lesson("10_claims_tested")
    verdict = output_of(nb, "def reported")
    debug = int(re.search(r"in debug mode, (\d)", verdict).group(1))
    plain = int(re.search(r"Plain, Python reported (\d) of the 3", verdict).group(1))
    assert debug == 3 and plain < debug


def test_lesson_10_django_speaks_asgi_and_fastapi_offloads_sync_endpoints():
    nb = lesson("10_claims_tested")
    django = output_of(nb, "import channels")
    assert re.search(r"via ASGI: 200 'Hello from Django'", django)
    threads = output_of(nb, "for endpoint in")
    sync = re.search(r"/sync\s+ran on thread '([^']+)'", threads).group(1)
    asynchronous = re.search(r"/async\s+ran on thread '([^']+)'", threads).group(1)
    assert sync != asynchronous and "thread pool" in threads


# -- no lesson hard-codes a speed ordering ------------------------------------------------------

SPEED_WORDS = re.compile(
    r"\b(faster|slower|quicker) than\b|\b\d+(\.\d+)?\s*(x|×|times) (faster|slower|as (much|long))"
    r"|\bfalls? behind\b.*\d|\d.*\bfalls? behind\b|\bwins?\b|\bbeats?\b", re.IGNORECASE)


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_no_lesson_states_a_measured_ordering_in_its_fixed_text(path):
    """What a run measured is printed from its numbers; the fixed text (markdown) may ask
    for a prediction or explain a mechanism, but not state who was faster."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        # The self-check questions ask; their answers are collapsed: neither is checked.
        text = re.sub(r"## Check yourself.*?</details>", "", cell.source, flags=re.S)
        for paragraph in text.split("\n\n"):
            if "Predict first" in paragraph or "<details>" in paragraph or "|" in paragraph:
                continue  # a question, a collapsed answer, or a rule-of-thumb table
            hit = SPEED_WORDS.search(paragraph)
            assert hit is None, f"{path.name}: {hit.group(0)!r} in: {paragraph[:200]}"


# -- the simulator charges for workers ----------------------------------------------------------

def test_the_simulator_charges_for_threads():
    waiting = gl.Workload(requests=2000, cpu=0.001, io=0.1, rate=400)
    free = gl.Costs.free()
    t_free, l_free = (gl.simulate(m, waiting, costs=free).summary()
                      for m in (gl.Threads(1000), gl.EventLoop()))
    for key in ("makespan", "p50", "p95", "p99", "peak_concurrency"):
        assert t_free[key] == l_free[key], key  # charging nothing: the same run
    threads, loop = (gl.simulate(m, waiting) for m in (gl.Threads(1000), gl.EventLoop()))
    assert threads.summary().p50 > loop.summary().p50  # a thread's switch costs more
    assert threads.memory > loop.memory                # and a stack per thread
    assert any("1,000 threads" in n and "reserved" in n for n in threads.notes)
    # The charge is what the costs say: two switches per request, on the CPU.
    one = gl.simulate(gl.Sequential(), gl.Workload(requests=1, cpu=0.001, io=0.01))
    c = gl.Costs()
    assert one.makespan == pytest.approx(0.001 + 0.01 + 2 * c.thread_switch)


def test_a_thread_hands_the_gil_over_and_a_task_keeps_the_loop():
    # Five computations of 50 ms each, all at once.
    work = gl.Workload(requests=5, cpu=0.05, io=0.0, rate=None)
    long_first = gl.simulate(gl.Threads(5), work)
    spans = long_first.spans
    preempted = [s for s in spans if sum(1 for k, *_ in s.phases if k == "cpu") > 1]
    assert preempted, "computing threads take turns every switch interval"
    loop = gl.simulate(gl.EventLoop(), work)
    assert all(sum(1 for k, *_ in s.phases if k == "cpu") == 1 for s in loop.spans)
    # Turns share the GIL: the first thread finishes later than alone, the loop's first does not.
    assert spans[0].end > 0.06 and loop.spans[0].end == pytest.approx(0.05, abs=0.001)


def test_where_each_model_breaks():
    pool = gl.Workload(requests=4000, cpu=0.001, io=0.1, rate=800)
    assert gl.simulate(gl.Threads(64), pool).summary().p95 > 1.0     # 80 in flight, 64 threads
    assert gl.simulate(gl.Threads(200), pool).summary().p95 < 0.2
    cpu = gl.Workload(requests=4000, cpu=0.0015, io=0.1, rate=800)  # 1.2 s of CPU a second
    assert gl.simulate(gl.EventLoop(), cpu).summary().p95 > 1.0
    two = gl.simulate(gl.EventLoop(processes=2, cores=2), cpu)
    assert two.summary().p95 < 0.2 and two.lanes == [0, 1]
    assert gl.simulate(gl.EventLoop(processes=2, cores=1), cpu).summary().p95 > 1.0


def test_event_loop_processes_is_named_and_checked():
    assert gl.EventLoop(processes=3).label == "EventLoop(processes=3)"
    with pytest.raises(ValueError):
        gl.EventLoop(processes=0)
    with pytest.raises(gl.concurrency.RunError, match="uvicorn --workers"):
        gl.run_many(lambda e, s: [], 1, model=gl.EventLoop(processes=2))
    with pytest.raises(ValueError):
        gl.Costs(thread_switch=-1)


@pytest.mark.timeout(60)
def test_costs_are_measured_on_this_machine():
    c = gl.Costs.measure(connections=100)
    assert 0 < c.thread_switch < 0.01 and 0 < c.task_switch < 0.01
    assert c.thread_memory > 0 and c.task_memory > 0 and c.process_memory > 2**20
    assert "per switch" in str(c)


def test_lesson_05_guarded_chat_survives_a_peer_that_vanished():
    out = output_of(lesson("05_long_lived"), "gl.Close(1006)")
    assert "A's connection ended with 1006" in out
    assert "survived A vanishing." in out and "died." not in out


# -- what the text says, shown by the run (an expert reading of the lessons) -------------

def markdown_of(stem: str) -> str:
    nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_lesson_01_shows_path_info_decoded_and_query_string_still_encoded():
    # RFC 3875 §4.1.5: PATH_INFO "is not URL-encoded"; §4.1.7: QUERY_STRING is URL-encoded.
    # The lesson says both, so its request must carry something to decode in each.
    out = output_of(lesson("01_cgi"), 'scripts / "env.py"').splitlines()
    assert "PATH_INFO=/extra path" in out
    assert "QUERY_STRING=city=S%C3%A3o+Paulo" in out
    text = markdown_of("01_cgi")
    assert "`/extra path`" in text and "tens of milliseconds" not in text


def test_lesson_01_cgi_cost_sentence_is_the_measured_ratio():
    out = output_of(lesson("01_cgi"), "cgi_ms = per_request")
    cgi = float(re.search(r"CGI:\s+([\d.]+) ms", out).group(1))
    wsgi = float(re.search(r"WSGI:\s+([\d.]+) ms", out).group(1))
    said = float(re.search(r"about ([\d,]+) times", out).group(1).replace(",", ""))
    assert said == pytest.approx(cgi / wsgi, rel=0.25)  # the WSGI figure is printed rounded


def test_lesson_02_environ_text_matches_what_the_get_and_the_post_carry():
    out = output_of(lesson("02_wsgi"), "for key in sorted(environ)")
    listing, post = out.split("a POST's body headers:")
    assert not re.search(r"^(HTTP_)?CONTENT_", listing, re.MULTILINE)  # this GET has none
    assert "'CONTENT_TYPE': 'text/plain'" in post and "'CONTENT_LENGTH': '2'" in post
    assert "HTTP_CONTENT" not in post


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def test_lesson_04_streaming_prompt_counts_the_sends_the_trace_shows():
    text = markdown_of("04_asgi")
    said = re.search(r"will the (\w+)\s+`send` events", text).group(1)
    out = output_of(lesson("04_asgi"), "async def countdown")
    sends = [s for s in out.splitlines() if "http.response." in s]
    assert NUMBER_WORDS[said] == len(sends), (said, sends)
    # The spec says nothing about when a part reaches the client; the text must not either.
    assert "goes to the client at once" not in text


def test_lesson_07_overlap_sentence_follows_the_time_it_printed():
    out = output_of(lesson("07_event_loops"), "results = await asyncio.gather")
    took = float(re.search(r"in (\d+\.\d+) s:", out).group(1))
    assert ("sleeps overlapped" in out) == (took < 0.03)


def test_lesson_08_adapter_verdicts_follow_the_columns():
    out = output_of(lesson("08_bridges"), "def bridged")
    rows = {name: (int(parts), int(closes)) for name, parts, closes in re.findall(
        r"^(asgiref WsgiToAsgi|a2wsgi WSGIMiddleware)\s+\d{3} .*?body messages: (\d+)\s+"
        r"close\(\) called: (\d+)", out, re.MULTILINE)}
    assert set(rows) == {"asgiref WsgiToAsgi", "a2wsgi WSGIMiddleware"}
    for name, (parts, closes) in rows.items():
        line = next(s for s in out.splitlines() if s.startswith(f"{name} ("))
        assert ("streamed, one body message per part" in line) == (parts == 3)
        assert ("never called close()" in line) == (closes == 0)
        assert re.search(r"\((asgiref|a2wsgi) \d+\.\d+", line)   # the version it is about
    # The fixed text names no adapter's behaviour: the run's lines do.
    text = markdown_of("08_bridges")
    assert "had no call to `close()`" not in text and "Both stream" not in text
    # ASGI HTTP spec §WSGI Compatibility, quoted as it reads.
    assert "PATH_INFO can be derived by stripping root_path from path" in text
    assert "derived from path and root_path" not in text


def test_lesson_10_streaming_and_debugging_verdicts_follow_the_numbers():
    nb = lesson("10_claims_tested")
    sse = output_of(nb, "ex_sse = gl.run_wsgi")
    times = [float(t) for t in re.findall(r"^\s*([\d.]+) ms\s+\d+ bytes", sse, re.MULTILINE)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    streamed = len(times) == 3 and round(min(gaps)) >= 40
    assert ("Verdict: false as stated" in sse) == streamed
    verdict = output_of(nb, "def reported")
    plain, debug = map(int, re.search(
        r"[Pp]lain,? Python reported (\d) of the 3 bugs[^;,]*[;,] (?:in )?debug mode,? (\d)",
        verdict).groups())
    assert ("true only without the tools" in verdict) == (debug > plain)
    text = markdown_of("10_claims_tested")
    assert "true only when many requests wait at once; one at a time" not in text


def test_lesson_11_does_not_credit_hypercorns_docs_with_prior_knowledge():
    # hypercorn docs/discussion/http2.rst describe only `Upgrade: h2c`; the probe uses
    # prior knowledge (RFC 9113 §3.3), so the text says which is which.
    text = markdown_of("11_real_servers")
    assert "Upgrade: h2c" in text and "RFC 9113 §3.3" in text


# -- names a learner is told to use exist ----------------------------------------------------

def _texts_a_learner_reads() -> dict[str, str]:
    import ast
    texts = {p.name: markdown_of(p.stem) for p in LESSONS}
    root = NOTEBOOKS.parent
    for name in ("README.md", "exercises/README.md"):
        texts[name] = (root / name).read_text(encoding="utf-8")
    for stub in sorted((root / "exercises").glob("*.py")):
        texts[f"exercises/{stub.name}"] = ast.get_docstring(
            ast.parse(stub.read_text(encoding="utf-8"))) or ""
    return texts


def test_every_gl_name_the_text_mentions_exists():
    missing = []
    for where, text in _texts_a_learner_reads().items():
        for dotted in re.findall(r"\bgl\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", text):
            obj = gl
            for part in dotted.split("."):
                if not hasattr(obj, part):
                    missing.append((where, f"gl.{dotted}"))
                    break
                obj = getattr(obj, part)
    assert not missing, missing


def test_every_gateway_lab_command_and_exercise_the_text_names_exists():
    from gateway_lab.cli import COMMANDS
    root = NOTEBOOKS.parent
    for where, text in _texts_a_learner_reads().items():
        for command in re.findall(r"`gateway-lab ([a-z][\w-]*)", text):
            assert command in COMMANDS, (where, command)
        for name in re.findall(r"gateway-lab check (\d\d_\w+)", text):
            assert (root / "exercises" / f"{name}.py").is_file(), (where, name)


MAGNITUDES = re.compile(r"\b(tens|hundreds|thousands) of (micro|milli)?seconds\b", re.IGNORECASE)


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_no_lesson_states_a_measured_magnitude_in_its_fixed_text(path):
    """A measured duration comes from the run; a busy machine made lesson 01's 'tens of
    milliseconds' read 219 ms."""
    hit = MAGNITUDES.search(markdown_of(path.stem))
    assert hit is None, f"{path.name}: {hit.group(0)!r}"
