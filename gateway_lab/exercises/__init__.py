"""The exercise checker: run a learner's file through the gateways and say what broke.

    gl.check("03_wsgi_hello")                      # in a notebook: a Report
    gateway-lab check 03_wsgi_hello [--file PATH] [--hint [N]] [--json]
    gateway-lab check [--dir FOLDER] [--json]       # every exercise: passed, failed, not started

How a check works, and why it is built this way:

* The learner's file is *compiled* first, so a SyntaxError is reported with
  its line, not as a traceback from the checker.
* The checks run in a *child process* (child.py) that the checker kills if
  the learner's code will not stop: a loop with a bare `except:` can swallow
  the lab's stop signal, and then only killing the process ends it.  Inside
  the child, the file is imported and each request runs under the sandbox's
  time limit, so an ordinary endless loop still ends in a 504 and a message.
* Each exercise's checks (one module per topic next to this file) send
  requests through the real gateways (`run_wsgi`, `run_asgi`, `run_cgi`, the
  concurrency lab) and compare what came back with what the task asks for.
  Some play a server that uses a freedom the spec gives it (freedoms.py): no
  QUERY_STRING, no end-of-file on the input, a client that leaves early.
  Every check also shows the spec coach's findings: a correct solution has
  none.  Checks judge behaviour only; the learner's source is read just once,
  after a kill, to point at the line that swallowed the stop.
* Hints are given one level at a time (`--hint`, `--hint 2`, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..browser import IN_BROWSER
from .core import (
    EXERCISES,
    Report,
    find_file,
    find_folder,
    fingerprint,
    load_checks,
    run_checks,
)
from .stubs import STUBS

__all__ = ["check", "main", "overview", "Report", "EXERCISES", "exercise_names"]

def exercise_names() -> list[str]:
    return sorted(load_checks())


def _resolve(name: str) -> str:
    """'03_wsgi_hello', '03', '3' or 'wsgi_hello' -> '03_wsgi_hello'."""
    load_checks()
    name = Path(name).stem if name.endswith(".py") else name
    if name in EXERCISES:
        return name
    matches = [n for n in EXERCISES
               if (name.isdigit() and n.startswith(f"{int(name):02d}_")) or n[3:] == name]
    if len(matches) == 1:
        return matches[0]
    raise KeyError(f"no exercise called {name!r}; the exercises are: "
                   + ", ".join(exercise_names()))


def check(name: str, file: str | Path | None = None, hint: int = 0, *,
          isolate: bool = True) -> Report:
    """Check exercise `name` against `file` (default: exercises/NAME.py of this project).

    `hint` > 0 adds the first `hint` hints to the report.  The checks run in a
    child process that is killed if your code will not stop; `isolate=False`
    runs them in this process instead (faster; for code you trust to stop).  In a
    browser there are no processes: they run in this one, under the sandbox's deadline.
    """
    name = _resolve(name)
    path = Path(file) if file is not None else find_file(name)
    if not isolate or IN_BROWSER:
        return run_checks(EXERCISES[name], path, hint)
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    from .child import run_isolated

    return run_isolated([(name, path)], hint)[0]


def status_of(path: Path, name: str) -> str | None:
    """'missing' or 'not started' (still the stub as shipped), else None: run the checks."""
    if not path.is_file():
        return "missing"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # the checks will say what is wrong with it
    return "not started" if fingerprint(text) == STUBS.get(name) else None


def overview(folder: str | Path | None = None, *, isolate: bool = True) -> list[dict]:
    """Every exercise in the learner's `folder` (the one holding exercises/; default:
    found from the current directory): name, status ("passed", "failed", "not started"
    or "missing"), the first failed check and its message."""
    root = Path(folder) if folder is not None else find_folder()
    if root is None or not (root / "exercises").is_dir():
        where = root if root is not None else Path.cwd()
        raise FileNotFoundError(f"no exercises/ folder in {where} or above it; pass --dir "
                                "FOLDER (the folder that holds exercises/)")
    rows, jobs = {}, []
    for name in exercise_names():
        path = (root / "exercises" / f"{name}.py").resolve()
        status = status_of(path, name)
        rows[name] = {"name": name, "title": EXERCISES[name].title, "file": str(path),
                      "status": status, "failed_check": None, "message": ""}
        if status is None:
            jobs.append((name, path))
    if isolate and not IN_BROWSER:
        from .child import run_isolated

        reports = run_isolated(jobs)
    else:
        reports = [run_checks(EXERCISES[name], path) for name, path in jobs]
    for report in reports:
        rows[report.exercise.name].update(
            {k: v for k, v in report.to_dict().items() if k != "checks"})
    return [rows[name] for name in exercise_names()]


def _print_overview(rows: list[dict], root: str) -> None:
    marks = {"passed": "✓ passed", "failed": "✗ failed", "not started": "· not started",
             "missing": "? missing", "not checked here": "- not checked here"}
    print(f"exercises in {root}:")
    for row in rows:
        line = f"  {row['name']:24} {marks[row['status']]:15}"
        if row["failed_check"]:
            line += f" first failed: {row['failed_check']}"
        print(line)
    counts = {s: sum(r["status"] == s for r in rows) for s in marks}
    print(f"\n{counts['passed']} passed, {counts['failed']} failed, {counts['not started']} "
          f"not started" + (f", {counts['missing']} missing" if counts["missing"] else "")
          + (f", {counts['not checked here']} not checked here"
             if counts["not checked here"] else "")
          + ". Details: gateway-lab check NN_name")


def main(argv: list[str] | None = None) -> int:
    """`gateway-lab check [NN_name] [--file PATH] [--hint [N]] [--dir D] [--json]`."""
    parser = argparse.ArgumentParser(
        prog="gateway-lab check",
        description="Check an exercise: run its checks against your file and print what "
                    "was sent, what came back and which spec rules were broken. Without a "
                    "name: the status of every exercise in your folder. "
                    "Exit status: 0 every check passed (no exercise failed), 1 some failed, "
                    "2 usage error.")
    parser.add_argument("name", nargs="?", help="the exercise, e.g. 03_wsgi_hello (or just 03)")
    parser.add_argument("--file", help="check this file instead of exercises/NAME.py")
    parser.add_argument("--dir", help="your folder, the one that holds exercises/ (default: "
                                      "found from the current directory)")
    parser.add_argument("--hint", nargs="?", type=int, const=1, default=0, metavar="N",
                        help="show hints up to level N (default 1)")
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable results (for a gradebook or CI)")
    parser.add_argument("--list", action="store_true", help="list the exercises and exit")
    args = parser.parse_args(argv)
    if not args.list:
        from .child import start_spare

        start_spare()  # a Python for the checks starts now, while this one loads them
    load_checks()
    if args.list:
        for n in exercise_names():
            print(f"{n:28} {EXERCISES[n].title}")
        return 0
    try:
        if not args.name:
            if args.file:
                raise KeyError("--file needs an exercise name: gateway-lab check NN_name "
                               "--file PATH")
            root = Path(args.dir) if args.dir else find_folder()
            rows = overview(root)
            if args.json:
                print(json.dumps({"folder": str(Path(root).resolve()), "exercises": rows},
                                 indent=2, ensure_ascii=False))
            else:
                _print_overview(rows, str(Path(root).resolve()))
            return 1 if any(r["status"] == "failed" for r in rows) else 0
        name = _resolve(args.name)
        file = args.file
        if file is None and args.dir:
            file = find_file(name, Path(args.dir))
        report = check(name, file, hint=args.hint)
    except (KeyError, FileNotFoundError) as error:
        message = error.args[0] if error.args else str(error)
        print(f"gateway-lab check: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report)
    return 0 if report.passed else 1
