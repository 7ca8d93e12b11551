"""The exercise checker: run a learner's file through the gateways and say what broke.

    gl.check("03_wsgi_hello")                      # in a notebook: a Report
    gateway-lab check 03_wsgi_hello [--file PATH] [--hint [N]]

How a check works, and why it is built this way:

* The learner's file is *compiled* first, so a SyntaxError is reported with
  its line, not as a traceback from the checker.
* It is then *imported* under the sandbox's time limit: a `while True:` at
  module level gives a message, never a hung terminal or kernel.
* Each exercise's checks (one module per interface next to this file) send
  requests through the real gateways (`run_wsgi`, `run_asgi`, `run_cgi`, the
  concurrency lab) and compare what came back with what the task asks for.
  Every check also shows the spec coach's findings: a correct solution has
  none.  Checks look at behaviour only, never at the learner's source text.
* Hints are given one level at a time (`--hint`, `--hint 2`, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import asgi_checks, cgi_checks, more_checks, wsgi_checks  # noqa: F401 (they register)
from .core import EXERCISES, Report, find_file, run_checks

__all__ = ["check", "main", "Report", "EXERCISES", "exercise_names"]


def exercise_names() -> list[str]:
    return sorted(EXERCISES)


def _resolve(name: str) -> str:
    """'03_wsgi_hello', '03', '3' or 'wsgi_hello' -> '03_wsgi_hello'."""
    name = Path(name).stem if name.endswith(".py") else name
    if name in EXERCISES:
        return name
    matches = [n for n in EXERCISES
               if (name.isdigit() and n.startswith(f"{int(name):02d}_")) or n[3:] == name]
    if len(matches) == 1:
        return matches[0]
    raise KeyError(f"no exercise called {name!r}; the exercises are: "
                   + ", ".join(exercise_names()))


def check(name: str, file: str | Path | None = None, hint: int = 0) -> Report:
    """Check exercise `name` against `file` (default: exercises/NAME.py of this project).

    `hint` > 0 adds the first `hint` hints to the report.
    """
    name = _resolve(name)
    path = Path(file) if file is not None else find_file(name)
    return run_checks(EXERCISES[name], path, hint=hint)


def main(argv: list[str] | None = None) -> int:
    """`gateway-lab check NN_name [--file PATH] [--hint [N]]`; exit 0 only if all checks pass."""
    parser = argparse.ArgumentParser(
        prog="gateway-lab check",
        description="Check an exercise: run its checks against your file and print what "
                    "was sent, what came back and which spec rules were broken. "
                    "Exit status: 0 every check passed, 1 some failed, 2 usage error.")
    parser.add_argument("name", nargs="?", help="the exercise, e.g. 03_wsgi_hello (or just 03)")
    parser.add_argument("--file", help="check this file instead of exercises/NAME.py")
    parser.add_argument("--hint", nargs="?", type=int, const=1, default=0, metavar="N",
                        help="show hints up to level N (default 1)")
    parser.add_argument("--list", action="store_true", help="list the exercises")
    args = parser.parse_args(argv)
    if args.list or not args.name:
        for n in exercise_names():
            print(f"{n:28} {EXERCISES[n].title}")
        return 0 if args.list else 2
    try:
        report = check(args.name, args.file, hint=args.hint)
    except (KeyError, FileNotFoundError) as error:
        message = error.args[0] if error.args else str(error)
        print(f"gateway-lab check: {message}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.passed else 1
