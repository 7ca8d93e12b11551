"""The exercise checker: stubs and task statements, reports, the checker surviving broken
files, the child process that kills code that will not stop, the CLI (one exercise, the
overview of a folder, --json, hints, exit status).  Stubs, reference solutions and the
wrong-solution catalog are checked in test_wrong_solutions.py."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway_lab import exercises
from gateway_lab.exercises import core

ROOT = Path(__file__).resolve().parents[1]
NAMES = exercises.exercise_names()


def test_every_exercise_has_a_stub_and_a_solution():
    assert len(NAMES) >= 20
    for name in NAMES:
        assert (ROOT / "exercises" / f"{name}.py").is_file(), name
        assert (ROOT / "solutions" / f"{name}.py").is_file(), name
        assert len(exercises.EXERCISES[name].hints) >= 2, name
        # The stub's docstring is the task statement, and names its check.
        doc = ast.get_docstring(ast.parse((ROOT / "exercises" / f"{name}.py").read_text()))
        assert doc and "Task" in doc and f"gateway-lab check {name}" in doc, name


def test_the_readme_lists_every_exercise():
    readme = (ROOT / "exercises" / "README.md").read_text(encoding="utf-8")
    assert [n for n in NAMES if n not in readme] == []


def test_stub_fingerprints_match_the_stubs():
    """`gateway-lab check` calls a file that is still the stub "not started"."""
    from gateway_lab.exercises.stubs import STUBS, table

    current = {n: core.fingerprint((ROOT / "exercises" / f"{n}.py").read_text())
               for n in NAMES}
    assert STUBS == current, "a stub changed: update gateway_lab/exercises/stubs.py to\n" + table()
    # Line endings and trailing spaces do not make a file "started" (a Windows checkout).
    text = (ROOT / "exercises" / "03_wsgi_hello.py").read_text()
    assert core.fingerprint(text.replace("\n", "  \r\n")) == STUBS["03_wsgi_hello"]
    assert core.fingerprint(text + "\nx = 1\n") != STUBS["03_wsgi_hello"]


def test_report_shows_request_response_and_findings():
    report = exercises.check("03_wsgi_hello", ROOT / "exercises" / "03_wsgi_hello.py")
    text = str(report)
    assert "✗ FAIL" in text and "sent: GET /?name=Ada" in text
    assert "501 Not Implemented" in text and "expected status 200, got 501" in text
    assert "not implemented yet" in text  # the body excerpt
    html = report._repr_html_()
    assert "FAIL" in html and "501" in html


def test_coach_findings_show_up_in_a_failed_check(tmp_path):
    broken = tmp_path / "hello.py"
    broken.write_text("def app(environ, start_response):\n"
                      "    start_response('200 OK', [])\n"
                      "    return [b'Hello, world!']\n")
    report = exercises.check("03_wsgi_hello", broken)
    assert not report.passed
    rules = {f.rule for r in report.results for f in r.findings}
    assert "wsgi.headers.content_type_missing" in rules
    assert "coach ✗ wsgi.headers.content_type_missing" in str(report)


def test_syntax_error_is_a_clear_message(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def app(environ, start_response)\n    return []\n")
    report = exercises.check("03_wsgi_hello", bad)
    assert not report.passed
    assert "not valid Python" in report.results[0].message
    assert "line 1" in report.results[0].message


def test_import_time_infinite_loop_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "IMPORT_TIMEOUT", 0.3)
    loop = tmp_path / "loop.py"
    loop.write_text("while True:\n    pass\n")
    report = exercises.check("03_wsgi_hello", loop)
    assert not report.passed
    assert "did not finish within" in report.results[0].message


def test_import_error_and_missing_name_are_explained(tmp_path):
    raising = tmp_path / "raising.py"
    raising.write_text("x = 1 / 0\n")
    report = exercises.check("03_wsgi_hello", raising)
    assert "ZeroDivisionError" in report.results[0].message
    assert "line 1" in report.results[0].message
    empty = tmp_path / "empty.py"
    empty.write_text("")
    report = exercises.check("04_wsgi_router", empty)
    assert not report.passed
    assert "must define `app`" in str(report)


def test_an_app_that_hangs_is_stopped_not_waited_for(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "RUN_TIMEOUT", 0.5)
    hang = tmp_path / "hang.py"
    hang.write_text("def app(environ, start_response):\n    while True:\n        pass\n")
    report = exercises.check("03_wsgi_hello", hang)
    assert not report.passed
    assert "expected status 200, got 504" in str(report)
    # One timeout is enough to know: the other checks are not each waited for.
    assert len(report.results) == 2
    assert "ran out of time" in report.results[1].message


def test_hints_come_one_level_at_a_time():
    path = ROOT / "exercises" / "03_wsgi_hello.py"
    hints = exercises.EXERCISES["03_wsgi_hello"].hints
    assert hints[0] not in str(exercises.check("03", path))
    one = str(exercises.check("03", path, hint=1))
    assert hints[0] in one and hints[1] not in one and "--hint 2" in one
    two = str(exercises.check("3", path, hint=2))
    assert hints[0] in two and hints[1] in two


def test_main_exit_status_and_usage(capsys):
    sol = str(ROOT / "solutions" / "03_wsgi_hello.py")
    assert exercises.main(["03_wsgi_hello", "--file", sol]) == 0
    assert "All 6 checks passed" in capsys.readouterr().out
    assert exercises.main(["03_wsgi_hello", "--file", str(ROOT / "exercises" /
                                                          "03_wsgi_hello.py")]) == 1
    capsys.readouterr()
    assert exercises.main(["99_nothing"]) == 2
    assert "no exercise called" in capsys.readouterr().err
    assert exercises.main(["03_wsgi_hello", "--file", "/nonexistent/x.py"]) == 2
    assert exercises.main(["--list"]) == 0
    assert "13_scgi" in capsys.readouterr().out


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "gateway_lab", "check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_cli_solution_passes_stub_fails_and_hints():
    done = _cli("03_wsgi_hello", "--file", "solutions/03_wsgi_hello.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All 6 checks passed" in done.stdout
    hints = exercises.EXERCISES["03_wsgi_hello"].hints
    done = _cli("03_wsgi_hello", "--hint")  # exercises/03_wsgi_hello.py, found from the cwd
    assert done.returncode == 1
    assert "hint 1 of 3" in done.stdout and hints[0][:40] in done.stdout
    assert "hint 2 of 3" not in done.stdout
    done = _cli("03_wsgi_hello", "--hint", "2")
    assert done.returncode == 1
    assert "hint 2 of 3" in done.stdout and hints[1][:40] in done.stdout


def test_gl_check_is_the_public_name():
    import gateway_lab as gl

    report = gl.check("03_wsgi_hello", file=ROOT / "solutions" / "03_wsgi_hello.py")
    assert report.passed and bool(report)


def test_checks_run_inside_a_running_event_loop():
    """gl.check in a notebook cell runs while the kernel's event loop runs."""
    import asyncio

    async def cell():
        report = exercises.check("03_wsgi_hello", ROOT / "solutions" / "03_wsgi_hello.py")

        async def coroutine():
            return 42

        return report.passed, core.call_async(coroutine, timeout=2)

    assert asyncio.run(cell()) == (True, 42)


# -- the child process: code that will not stop is killed, not waited for ------------------

SWALLOW = """def app(environ, start_response):
    print("starting the app")
    while True:
        try:
            while True:
                pass
        except:  # the lab's stop signal lands here, and the loop goes on
            pass
"""

# What nothing inside the process can stop: a loop inside C runs no Python line at which
# an exception could be raised, so only killing the process ends it.
UNSTOPPABLE = """import itertools


def app(environ, start_response):
    print("starting the app")
    return [str(sum(itertools.count())).encode()]
"""


@pytest.fixture
def children(monkeypatch):
    """The process ids of the checker's child processes started during a test."""
    from gateway_lab.exercises import child

    started = []
    real = child._start

    def start():
        proc = real()
        started.append(proc.pid)
        return proc

    monkeypatch.setattr(child, "_start", start)
    return started


@pytest.mark.timeout(60)
def test_a_loop_that_swallows_the_stop_is_stopped_and_its_line_named(tmp_path, monkeypatch,
                                                                     children):
    """The lab sees the bare except before the run, runs the app in a process of its
    own and stops it there (issue 14): the check gets a 504 in time, no kill needed."""
    from processes import gone_within, group_alive

    monkeypatch.setattr(core, "RUN_TIMEOUT", 0.5)
    path = tmp_path / "swallow.py"
    path.write_text(SWALLOW)
    report = exercises.check("03_wsgi_hello", path)
    first, rest = report.results
    assert not first.passed and first.got.startswith("504")
    assert any("a bare `except:` at swallow.py line 7 would swallow the server's stop" in
               str(finding) for finding in first.findings), first.findings
    assert rest.title == "the remaining checks" and "not run" in rest.message
    assert "starting the app" in report.output
    assert children and not gone_within(group_alive, children)


@pytest.mark.timeout(60)
def test_code_that_nothing_can_stop_is_killed_with_a_clear_message(tmp_path, monkeypatch,
                                                                    children):
    from processes import gone_within, group_alive

    monkeypatch.setattr(core, "RUN_TIMEOUT", 0.5)
    path = tmp_path / "unstoppable.py"
    path.write_text(UNSTOPPABLE)
    start = time.monotonic()
    report = exercises.check("03_wsgi_hello", path)
    took = time.monotonic() - start
    from gateway_lab.exercises.child import GRACE

    assert took < 0.5 + GRACE + 10, took  # the step's limit, the grace, a Python's start
    stopped, rest = report.results
    assert stopped.title == "check 1 was stopped"
    assert "did not finish within 0.5 s" in stopped.message
    assert stopped.sent == "GET / through the WSGI gateway"
    assert "inside C code" in stopped.hint
    assert rest.title == "the remaining checks" and "not run" in rest.message
    assert "starting the app" in report.output  # what it printed before it hung
    assert "your code printed:" in str(report)
    # The child and everything in its process group are gone.
    assert children and not gone_within(group_alive, children)


@pytest.mark.timeout(60)
def test_an_import_that_will_not_stop_is_stopped_or_killed(tmp_path, monkeypatch, children):
    from processes import alive, gone_within

    monkeypatch.setattr(core, "IMPORT_TIMEOUT", 0.3)
    # A swallowing loop at module level: stopped in the process, at its next line.
    path = tmp_path / "spin.py"
    path.write_text("import time\nwhile True:\n    try:\n        time.sleep(5)\n"
                    "    except BaseException:\n        pass\n")
    report = exercises.check("07_asgi_hello", path)
    assert "importing spin.py did not finish within 0.3 s" in report.results[0].message
    # A loop inside C at module level: only killing the process ends it.
    path = tmp_path / "cspin.py"
    path.write_text("import itertools\nsum(itertools.count())\n")
    report = exercises.check("07_asgi_hello", path)
    assert report.results[0].sent == "importing cspin.py"
    assert "did not finish within 0.3 s" in report.results[0].message
    assert not gone_within(alive, children)


def test_a_process_that_exits_is_reported(tmp_path):
    path = tmp_path / "exits.py"
    path.write_text("import os\n\ndef app(environ, start_response):\n    os._exit(3)\n")
    report = exercises.check("03_wsgi_hello", path)
    assert not report.passed
    last = report.results[-1]
    assert "exit status 3" in last.message and "GET / through the WSGI gateway" in last.message
    assert "os._exit()" in last.hint


def test_isolated_and_in_process_checks_agree():
    for name, folder in (("08_asgi_body", "solutions"), ("08_asgi_body", "exercises"),
                         ("02_cgi_form", "solutions")):
        path = ROOT / folder / f"{name}.py"
        isolated = exercises.check(name, path)
        here = exercises.check(name, path, isolate=False)
        assert [(r.title, r.passed, r.message) for r in isolated.results] == [
            (r.title, r.passed, r.message) for r in here.results]
        assert [f.rule for r in isolated.results for f in r.findings] == [
            f.rule for r in here.results for f in r.findings]


def test_an_isolated_check_runs_inside_a_running_event_loop():
    """gl.check in a notebook cell: the kernel's loop is running on this thread."""
    import asyncio

    async def cell():
        return exercises.check("16_asgi_middleware",
                               ROOT / "solutions" / "16_asgi_middleware.py").passed

    assert asyncio.run(cell())


def test_gl_check_finds_the_exercise_from_the_lessons_folder():
    code = ("import gateway_lab as gl; r = gl.check('03_wsgi_hello'); "
            "print(r.file); print(len(r.results))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "notebooks",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    file, count = done.stdout.split()
    assert Path(file) == ROOT / "exercises" / "03_wsgi_hello.py" and int(count) >= 6


@pytest.mark.timeout(90)
def test_the_cli_checks_an_exercise_in_under_two_seconds():
    """`gateway-lab check NAME` for an exercise that is not about time, child process
    included: the fastest of three runs.  On a machine so busy that no run gets the CPU
    it asks for (load average above twice the cores: other test runs), the CPU time all
    the processes used stands in for the wall-clock time."""
    import os

    resource = pytest.importorskip("resource")  # POSIX; the wall-clock bound is enough elsewhere
    runs = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = _cli("07_asgi_hello", "--file", "solutions/07_asgi_hello.py")
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append((wall, cpu))
    wall, cpu = min(runs)
    if wall < 2.0:
        return
    busy = os.getloadavg()[0] > 2 * (os.cpu_count() or 1)
    assert busy and cpu < 2.0, f"(wall s, cpu s) of the runs: {runs}; busy: {busy}"


# -- the overview of a learner's folder, and --json ----------------------------------------

def _folder(tmp_path) -> Path:
    """A learner's folder: every stub; 03 solved, 07 wrong, 20 deleted."""
    import shutil

    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    shutil.copy(ROOT / "solutions" / "03_wsgi_hello.py", tmp_path / "exercises")
    shutil.copy(ROOT / "tests" / "wrong_solutions" / "07_asgi_hello" / "parse_qs_on_bytes.py",
                tmp_path / "exercises" / "07_asgi_hello.py")
    (tmp_path / "exercises" / "20_fastcgi.py").unlink()
    # A stub saved on Windows is still the stub.
    stub = tmp_path / "exercises" / "13_scgi.py"
    stub.write_bytes(stub.read_bytes().replace(b"\n", b"\r\n"))
    return tmp_path


@pytest.mark.timeout(60)
def test_overview_json_lists_every_exercise_with_its_status(tmp_path):
    import json

    folder = _folder(tmp_path)
    done = _cli("--dir", str(folder), "--json")
    assert done.returncode == 1, done.stdout + done.stderr  # one exercise failed
    data = json.loads(done.stdout)
    assert data["folder"] == str(folder.resolve())
    rows = {row["name"]: row for row in data["exercises"]}
    assert list(rows) == NAMES
    assert rows["03_wsgi_hello"]["status"] == "passed"
    assert rows["03_wsgi_hello"]["failed_check"] is None
    wrong = rows["07_asgi_hello"]
    assert wrong["status"] == "failed"
    assert wrong["failed_check"] == "GET /?name=Ada greets Ada"
    assert "got 'Hello, world!'" in wrong["message"]
    assert rows["20_fastcgi"]["status"] == "missing"
    assert rows["13_scgi"]["status"] == "not started"
    others = {n for n in NAMES} - {"03_wsgi_hello", "07_asgi_hello", "20_fastcgi"}
    assert {rows[n]["status"] for n in others} == {"not started"}


@pytest.mark.timeout(60)
def test_overview_text_from_the_learners_folder(tmp_path):
    folder = _folder(tmp_path)
    (folder / "notebooks").mkdir()
    done = _cli(cwd=folder / "notebooks")  # found from the current directory
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert f"exercises in {folder.resolve()}" in out
    assert "03_wsgi_hello" in out and "✓ passed" in out
    assert "✗ failed" in out and "first failed: GET /?name=Ada greets Ada" in out
    assert "· not started" in out and "? missing" in out
    assert "1 passed, 1 failed, 17 not started, 1 missing" in out
    # One exercise from that folder, wherever the command runs.
    done = _cli("03", "--dir", str(folder))
    assert done.returncode == 0 and str(folder / "exercises" / "03_wsgi_hello.py") in done.stdout


def test_overview_needs_a_folder_with_exercises(tmp_path):
    done = _cli("--dir", str(tmp_path))
    assert done.returncode == 2 and "no exercises/ folder" in done.stderr
    done = _cli("--file", "x.py")
    assert done.returncode == 2 and "needs an exercise name" in done.stderr


def test_check_json_for_one_exercise(tmp_path):
    import json

    done = _cli("05", "--json")  # the stub
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["name"] == "05_wsgi_middleware" and data["status"] == "failed"
    assert data["failed_check"] == data["checks"][0]["title"]
    first = data["checks"][0]
    assert set(first) >= {"title", "passed", "message", "sent", "got", "rule", "hint",
                          "findings"}
    done = _cli("05", "--json", "--file", "solutions/05_wsgi_middleware.py")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "passed"
