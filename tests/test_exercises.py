"""The exercises: every check fails on the stub (with a useful message) and passes on the
reference solution; the checker survives broken files; the CLI's exit status and hints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway_lab import exercises
from gateway_lab.exercises import core

ROOT = Path(__file__).resolve().parents[1]
NAMES = exercises.exercise_names()

def test_every_exercise_has_a_stub_and_a_solution():
    assert len(NAMES) >= 14
    for name in NAMES:
        assert (ROOT / "exercises" / f"{name}.py").is_file(), name
        assert (ROOT / "solutions" / f"{name}.py").is_file(), name
        assert len(exercises.EXERCISES[name].hints) >= 2, name


@pytest.mark.parametrize("name", NAMES)
def test_stub_fails_and_solution_passes(name):
    stub = exercises.check(name, ROOT / "exercises" / f"{name}.py")
    assert not stub.passed, str(stub)
    # The stub imports cleanly: it fails on behaviour, not on loading.
    assert not stub.results[0].title.startswith("load "), str(stub)
    failed = stub.failed
    assert failed
    # At least one failure says what was expected, in words a learner can act on.
    assert any(r.message.strip() and "expect" in r.message.lower() for r in failed), str(stub)
    solution = exercises.check(name, ROOT / "solutions" / f"{name}.py")
    assert solution.passed, str(solution)
    # A correct solution breaks no rule the coach knows.
    assert not [f for r in solution.results for f in r.findings], str(solution)


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
    assert "All 4 checks passed" in capsys.readouterr().out
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
    assert "All 4 checks passed" in done.stdout
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
