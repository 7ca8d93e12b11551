"""`make bench` must run: a quick pass of bench/run.py (a smoke run, not a
measurement; no speed is asserted here, the benchmark is where speed is judged)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_benchmark_runs_every_case_and_reports_every_goal(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
                           "--no-notebooks", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["quick"] is True
    cases = results["seconds_per_call"]
    for group in ("wsgi hello", "wsgi 64 KiB stream", "asgi hello", "asgi 64 KiB stream"):
        assert sum(name.startswith(group + ":") for name in cases) >= 8, group
    assert {"cgi: bare subprocess.run", "cgi: gl.run_cgi"} <= set(cases)
    assert all(seconds > 0 for seconds in cases.values())
    goals = [g["goal"] for g in results["goals"]]
    assert len(goals) == 8 and all(isinstance(g["met"], bool) for g in results["goals"])
    assert "Goals (issue 13):" in done.stdout and "wsgiref.validate" in done.stdout
    assert done.stderr == "", done.stderr[-2000:]  # no warnings in the report
