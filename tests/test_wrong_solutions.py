"""The catalog of wrong solutions: a checker that passes a wrong answer teaches the wrong
thing with a green tick.

tests/wrong_solutions/NN_name/*.py are mistakes learners really make, one file each.
Each file's docstring says what is wrong, the check that must fail on it (`Fails:`, part
of the check's title) and what the learner then reads (`Says:`, part of that check's
text).  Here every stub fails, every wrong solution fails on its check with its message,
and every reference solution passes; for the exercises 15-20 every check is shown to
fail on at least one wrong solution, so none of them is there for show.

tests/right_solutions/NN_name/*.py are the other way round: right answers written in
another style than the reference (their docstring's `Style:` says how), so that a check
made stricter against a wrong answer is shown not to turn away a right one.

The checks run in this process (isolate=False): none of these files needs a process to
be killed; test_exercises.py covers the child process.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from gateway_lab import exercises

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "tests" / "wrong_solutions"
WRONG = sorted(CATALOG.glob("*/*.py"))
RIGHT = sorted((ROOT / "tests" / "right_solutions").glob("*/*.py"))
NAMES = exercises.exercise_names()
NEW = [n for n in NAMES if int(n[:2]) >= 15]
# Some wrong solutions call a coroutine function without await: that is their mistake.
pytestmark = pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")


def header(path: Path) -> tuple[str, str, str]:
    """(mistake, the check that must fail, what it must say) from the file's docstring."""
    text = path.read_text(encoding="utf-8")
    fields = {}
    for key in ("Mistake", "Fails", "Says"):
        m = re.search(rf"^{key}: (.*(?:\n    .*)*)$", text, re.MULTILINE)
        assert m, f"{path.name}: no '{key}:' line in its docstring"
        fields[key] = " ".join(line.strip() for line in m.group(1).splitlines())
    return fields["Mistake"], fields["Fails"], fields["Says"]


@cache
def report(name: str, path: Path):
    return exercises.check(name, path, isolate=False)


def test_the_catalog_is_big_enough():
    per = {name: len(list((CATALOG / name).glob("*.py"))) for name in NAMES}
    assert all(n >= 3 for n in per.values()), per
    assert sum(per.values()) >= 40, per
    # Every folder is an exercise: a typo would hide files from the test below.
    assert {p.parent.name for p in WRONG} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_stub_fails_and_reference_passes(name):
    stub = report(name, ROOT / "exercises" / f"{name}.py")
    assert not stub.passed, str(stub)
    assert not stub.results[0].title.startswith("load "), str(stub)  # fails on behaviour
    # At least one failure says what was expected, in words a learner can act on.
    assert any("expect" in r.message.lower() for r in stub.failed), str(stub)
    solution = report(name, ROOT / "solutions" / f"{name}.py")
    assert solution.passed, str(solution)
    assert not [f for r in solution.results for f in r.findings], str(solution)


@pytest.mark.parametrize("path", WRONG, ids=[f"{p.parent.name[:2]}-{p.stem}" for p in WRONG])
def test_wrong_solution_fails_on_its_check_with_its_message(path):
    mistake, fails, says = header(path)
    result = report(path.parent.name, path)
    assert not result.passed, f"{path.name} passed every check:\n{result}"
    # It is wrong in its own way, not broken: it loads, and the checks got going.
    assert not result.results[0].title.startswith("load "), str(result)
    named = [r for r in result.failed if fails in r.title]
    assert named, (f"{path.name}: expected the check {fails!r} to fail; these failed: "
                   f"{[r.title for r in result.failed]}")
    texts = [r.text() for r in named]
    assert any(says in text for text in texts), (
        f"{path.name}: expected {says!r} in what the learner reads:\n" + "\n".join(texts))
    # What the learner reads says what was sent, and has a rule or a hint to go on.
    assert all(r.sent or r.message for r in named)


@pytest.mark.parametrize("path", RIGHT, ids=[f"{p.parent.name[:2]}-{p.stem}" for p in RIGHT])
def test_a_right_solution_in_another_style_passes(path):
    assert path.parent.name in NAMES
    assert re.search(r"^Style: ", path.read_text(encoding="utf-8"), re.MULTILINE), path.name
    result = report(path.parent.name, path)
    assert result.passed, f"{path.name} is right, but failed:\n{result}"
    assert not [f for r in result.results for f in r.findings], str(result)


@pytest.mark.parametrize("name", NEW)
def test_every_check_of_a_new_exercise_fails_on_some_wrong_solution(name):
    titles = [r.title for r in report(name, ROOT / "solutions" / f"{name}.py").results]
    caught = set()
    for path in sorted((CATALOG / name).glob("*.py")):
        caught |= {r.title for r in report(name, path).failed}
    assert not [t for t in titles if t not in caught], "checks no wrong solution fails"


@pytest.mark.parametrize("name", NEW)
def test_every_failed_check_of_a_new_exercise_gives_a_rule_and_a_hint(name):
    stub = report(name, ROOT / "exercises" / f"{name}.py")
    for result in stub.failed:
        if result.title.startswith(("the remaining checks", "the checks could not go on")):
            continue
        assert result.rule and result.hint, result.text()
