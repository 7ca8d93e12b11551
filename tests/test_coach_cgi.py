"""The CGI half of the spec coach: broken scripts get a real server's answer
(502, 504, 500...) and a finding that names the rule; each run ends within its
time limit and leaves no process behind."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path
from textwrap import dedent

import pytest
from processes import gone_within, group_alive

import gateway_lab as gl
from gateway_lab.cgi import run_cgi
from gateway_lab.rules import all_rules
from gateway_lab.rules.cgi import RULES

POSIX = os.name == "posix"
TIMEOUT = 1.5
OK = """\
print("Content-Type: text/plain")
print()
print("hello")
"""


def case(*blocks: str, rule: str, status: int, **options):
    """A catalog entry; each block of source is dedented on its own."""
    return "".join(dedent(block).lstrip("\n") for block in blocks), rule, status, options


# name: (script source, the rule it breaks, the client's status, run_cgi options)
CATALOG = {
    "raises": case("""
        print("Content-Type: text/plain")
        print()
        1 / 0
        """, rule="cgi.script.exit_status", status=502),
    "exits_non_zero": case(OK, """
        import sys
        sys.exit(3)
        """, rule="cgi.script.exit_status", status=502),
    "prints_nothing": case("""
        import os
        os.environ["REQUEST_METHOD"]
        """, rule="cgi.response.empty", status=502),
    "no_blank_line": case("""
        import sys
        sys.stdout.write("Content-Type: text/plain\\nhello")
        """, rule="cgi.response.no_header_separator", status=502),
    "body_before_headers": case("""
        print("<h1>hello</h1>")
        print()
        """, rule="cgi.response.bad_header", status=502),
    "http_status_line": case("""
        print("HTTP/1.1 200 OK")
        """, OK, rule="cgi.response.bad_header", status=502),
    "space_before_colon": case("""
        print("Content-Type : text/plain")
        print()
        print("hello")
        """, rule="cgi.response.bad_header", status=502),
    "continuation_line": case("""
        print("Content-Type: text/plain")
        print("X-Long: a")
        print("  b")
        print()
        """, rule="cgi.response.bad_header", status=502),
    "status_without_reason": case("""
        print("Status: 404")
        """, OK, rule="cgi.response.bad_status", status=502),
    "status_not_a_number": case("""
        print("Status: OK")
        """, OK, rule="cgi.response.bad_status", status=502),
    "content_type_twice": case("""
        print("Content-Type: text/html")
        """, OK, rule="cgi.response.duplicate_field", status=502),
    "no_content_type": case("""
        print("X-Powered-By: hope")
        print()
        print("hello")
        """, rule="cgi.response.no_content_type", status=200),
    "local_redirect_with_cookie": case("""
        import os
        if os.environ.get("PATH_INFO") == "/home":
            print("Content-Type: text/plain")
            print()
            print("hello")
        else:
            print("Location: /home")
            print("Set-Cookie: session=1")
            print()
        """, rule="cgi.response.local_redirect_extra", status=200),
    "redirect_loop": case("""
        print("Location: /again")
        print()
        """, rule="cgi.response.redirect_loop", status=500),
    "redirect_chain_too_deep": case("""
        import os
        n = int(os.environ.get("PATH_INFO", "")[1:] or 0)
        print(f"Location: /{n + 1}")
        print()
        """, rule="cgi.response.too_many_redirects", status=500),
    "redirect_chain_runs_out_of_time": case("""
        import os, time
        time.sleep(0.6)
        n = int(os.environ.get("PATH_INFO", "")[1:] or 0)
        print(f"Location: /{n + 1}")
        print()
        """, rule="cgi.response.redirect_timeout", status=504),
    "relative_location": case("""
        print("Location: login.html")
        print()
        """, rule="cgi.response.bad_location", status=302),
    "carriage_return_in_a_value": case("""
        import sys
        sys.stdout.write(
            "Content-Type: text/plain\\r\\nX-Note: a\\rSet-Cookie: evil=1\\r\\n\\r\\nhi")
        """, rule="cgi.response.bad_header", status=502),
    "nph_prints_cgi_headers": case(OK, rule="cgi.nph.not_http", status=502,
                                   filename="nph-broken.py"),
    "nph_keeps_the_connection_open": case("""
        import sys
        sys.stdout.write("HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n"
                         "Content-Length: 2\\r\\n\\r\\nhi")
        """, rule="cgi.nph.keep_alive", status=200, filename="nph-broken.py"),
    "transfer_encoding": case("""
        print("Transfer-Encoding: chunked")
        """, OK, rule="cgi.response.hop_by_hop", status=200),
    "wrong_content_length": case("""
        print("Content-Length: 100")
        """, OK, rule="cgi.response.content_length_mismatch", status=200),
    "header_in_a_loop": case("""
        import sys
        sys.stdout.write("Content-Type: text/plain\\n")
        for i in range(100000):
            sys.stdout.write("Set-Cookie: n=%d\\n" % i)
        sys.stdout.write("\\nhi")
        """, rule="cgi.response.header_too_large", status=502),
    "endless_loop": case("""
        while True:
            pass
        """, rule="cgi.script.timeout", status=504),
    "sleeps_with_a_child": case("""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        time.sleep(60)
        """, rule="cgi.script.timeout", status=504),
    "answers_then_lingers": case(OK, """
        import os, sys, time
        sys.stdout.flush()
        os.close(1)
        os.close(2)
        time.sleep(60)
        """, rule="cgi.script.timeout", status=504),
    "endless_output": case("""
        import sys
        sys.stdout.write("Content-Type: text/plain\\n\\n")
        while True:
            sys.stdout.write("spam " * 1000)
        """, rule="cgi.response.too_large", status=502, max_output=100_000),
    "writes_to_stderr": case("""
        import sys
        print("debug: got here", file=sys.stderr)
        """, OK, rule="cgi.script.stderr", status=200),
}
if POSIX:  # Windows has no process groups to inspect after the script exits
    CATALOG["leaves_a_process_running"] = case("""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        """, OK, rule="cgi.script.left_processes", status=200)
    CATALOG["killed_by_a_signal"] = case(OK, """
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
        """, rule="cgi.script.exit_status", status=502)


def no_process_left(ex, within: float = 3.0) -> bool:
    if not POSIX:
        return True
    groups = [e.data["pid"] for e in ex.trace.events if e.kind == "spawn"]
    return not gone_within(group_alive, groups, within)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_broken_script(name, tmp_path):
    source, rule, status, options = CATALOG[name]
    options = dict(options)
    script = tmp_path / options.pop("filename", "broken.py")
    script.write_text(source)
    start = time.monotonic()
    ex = run_cgi(script, gl.Request("GET", "/"), timeout=TIMEOUT, **options)
    elapsed = time.monotonic() - start
    found = [f.rule for f in ex.findings]
    assert rule in found, (found, str(ex.trace))
    assert ex.response.status == status, (ex.response.status, str(ex.trace))
    assert elapsed < TIMEOUT + 2
    assert no_process_left(ex)
    # The message speaks to the learner about their script, with the spec and a hint.
    finding = next(f for f in ex.findings if f.rule == rule)
    assert "{" not in finding.message, finding.message
    assert finding.spec.startswith("RFC 3875 §") and finding.hint


def test_findings_name_what_the_script_did(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text(CATALOG["raises"][0])
    [finding] = run_cgi(script).findings
    assert "exited with status 1" in finding.message
    assert "ZeroDivisionError: division by zero" in finding.message
    script.write_text(CATALOG["status_without_reason"][0])
    assert "'Status: 404'" in run_cgi(script).findings[0].message
    script.write_text(CATALOG["local_redirect_with_cookie"][0])
    ex = run_cgi(script, gl.Request("GET", "/start"))
    assert "Set-Cookie" in ex.findings[0].message
    assert ex.response.header("Set-Cookie") is None        # lost, as on Apache
    assert ex.response.body == b"hello\n"
    script.write_text(CATALOG["wrong_content_length"][0])
    ex = run_cgi(script)
    assert ex.response.header("Content-Length") == "6"     # corrected to the real length
    script.write_text(CATALOG["body_before_headers"][0])
    assert "body before the headers" in run_cgi(script).findings[0].message


def test_a_redirect_loop_is_named_a_loop_even_when_the_time_is_short(tmp_path):
    # Each run takes 0.3 s and ends; the second asks for the target it was run for.
    script = tmp_path / "loop.py"
    script.write_text("import time\ntime.sleep(0.3)\nprint('Location: /again')\nprint()\n")
    ex = run_cgi(script, timeout=1)
    assert ex.response.status == 500
    assert [f.rule for f in ex.findings] == ["cgi.response.redirect_loop"]
    assert "/ -> /again -> /again" in ex.findings[0].message
    assert len([e for e in ex.trace.events if e.kind == "spawn"]) == 2


def test_a_redirect_chain_that_runs_out_of_time_says_so(tmp_path):
    script = tmp_path / "chain.py"
    script.write_text(CATALOG["redirect_chain_runs_out_of_time"][0])
    ex = run_cgi(script, timeout=1)
    assert ex.response.status == 504
    [finding] = ex.findings
    assert finding.rule == "cgi.response.redirect_timeout"
    # Run 1 ended after 0.6 s; run 2 was killed: the message says which, not that
    # "your script did not finish".
    assert "ran 2 times" in finding.message and "/ -> /1" in finding.message
    assert "run 2 had taken" in finding.message
    assert "did not finish" not in finding.message
    exits = [e.data["outcome"] for e in ex.trace.events if e.kind == "exit"]
    assert exits == ["ok", "timeout"]


def test_a_missing_script_is_404(tmp_path):
    ex = run_cgi(tmp_path / "nope.py")
    assert ex.response.status == 404
    assert [f.rule for f in ex.findings] == ["cgi.script.not_found"]
    assert "nope.py" in ex.findings[0].message


def test_a_directory_is_not_a_script(tmp_path):
    ex = run_cgi(tmp_path)
    assert ex.response.status == 500
    assert "directory" in ex.findings[0].message


@pytest.mark.skipif(not POSIX, reason="the execute bit and #! lines are POSIX")
def test_files_the_system_cannot_run_are_500(tmp_path):
    plain = tmp_path / "page.cgi"
    plain.write_text("#!/bin/sh\necho hi\n")
    ex = run_cgi(plain)
    assert ex.response.status == 500
    assert [f.rule for f in ex.findings] == ["cgi.script.not_executable"]
    assert "not executable" in ex.findings[0].message
    no_shebang = tmp_path / "binary.cgi"
    no_shebang.write_bytes(b"\x00\x01not a program")
    no_shebang.chmod(no_shebang.stat().st_mode | stat.S_IXUSR)
    ex = run_cgi(no_shebang)
    assert ex.response.status == 500
    assert "#!" in ex.findings[0].message
    missing = tmp_path / "missing-interpreter.cgi"
    missing.write_text("#!/no/such/interpreter\n")
    missing.chmod(missing.stat().st_mode | stat.S_IXUSR)
    ex = run_cgi(missing)
    assert ex.response.status == 500 and "#!" in ex.findings[0].message


def test_correct_script_breaks_no_rule(tmp_path):
    script = tmp_path / "good.py"
    script.write_text(dedent(OK))
    ex = run_cgi(script)
    assert ex.ok and ex.response.status == 200 and no_process_left(ex)


def test_every_cgi_rule_is_exercised_and_well_formed(tmp_path):
    # The rules a broken *request* (or a missing script) breaks, found by real runs
    # here, so this list cannot claim a rule that no run shows.
    ok = tmp_path / "ok.py"
    ok.write_text(OK)
    runs = [run_cgi(ok, gl.Request("GET", "/", {"Proxy": "http://evil.example"})),
            run_cgi(ok, gl.Request.websocket("/ws")),
            run_cgi(ok, gl.Request("GET", "/ok.py/a%00b")),
            run_cgi(ok, gl.Request("GET", "/other/x"), script_name="/app"),
            run_cgi(tmp_path / "nope.py"),
            run_cgi(tmp_path)]  # a directory
    seen = {f.rule for ex in runs for f in ex.findings}
    # Rules the server keeps for the script show as notes: it did right, nobody broke them.
    seen |= {e.data["rule"] for ex in runs for e in ex.trace.events if e.kind == "note"
             and e.data}
    tested_here = {rule for _, rule, _, _ in CATALOG.values()}
    # Shown by a run in browser mode: test_browser_mode.py, a script that is not Python.
    tested_there = {"cgi.browser.no_process"}
    ids = {rule.id for rule in RULES}
    assert ids == tested_here | seen | tested_there
    for rule in RULES:
        assert all_rules()[rule.id] is rule
        section = re.match(r"RFC 3875 §([\d.]+)$", rule.spec).group(1)
        assert rule.url.endswith(f"#section-{section}")
        assert rule.message and rule.hint.endswith(".")


@pytest.mark.parametrize("name", ["01_cgi_hello", "02_cgi_form"])
def test_exercise_solutions_pass_with_no_findings(name):
    root = Path(__file__).resolve().parents[1]
    result = gl.check(name, root / "solutions" / f"{name}.py")
    assert result.passed, str(result)
    stub = gl.check(name, root / "exercises" / f"{name}.py")
    assert not stub.passed
