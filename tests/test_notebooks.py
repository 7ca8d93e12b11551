"""The lessons run top to bottom in a real kernel, quickly, and are stored without outputs.

Each lesson is executed once per test session (`executed()`); the claim tests in
test_lesson_claims.py read the same run's outputs.
"""

import ast
import os
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 60       # seconds per cell (a hung cell fails, it does not hang the suite)

_EXECUTED: dict = {}


def executed(path: Path):
    """The lesson run top to bottom in a real kernel (once per session), with its outputs;
    `nb.metadata["seconds"]` is how long the run took."""
    if path.name not in _EXECUTED:
        os.environ["JUPYTER_PATH"] = os.path.join(sys.prefix, "share", "jupyter")
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOKS)}})
        started = time.perf_counter()
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)   # raises CellExecutionError on any error
        nb.metadata["seconds"] = time.perf_counter() - started
        _EXECUTED[path.name] = nb
    return _EXECUTED[path.name]


def text_of(cell) -> str:
    """What a code cell printed or displayed, as text (HTML tables included)."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o["text"])
        elif "data" in o:
            data = o["data"]
            out.append(data.get("text/html") or data.get("text/plain", ""))
    return "".join(out)


def test_the_lesson_path_is_complete():
    # Lessons numbered in reading order from 00, none missing: 00..10 at least (issue 15
    # adds 10_claims_tested; later lessons join the path as they come).
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(len(numbers))), numbers
    assert len(numbers) >= 11 and (NOTEBOOKS / "10_claims_tested.ipynb").is_file()


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_is_stored_without_outputs_and_with_a_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", \
        "without kernelspec metadata JupyterLab asks which kernel to use"
    assert "widgets" not in nb.metadata, "saved widget state: clear it before storing"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"cell {i} of {path.name} carries outputs: in JupyterLab, "
                "Edit > Clear Outputs of All Cells, then save")


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_has_objectives_widget_exercise_and_summary(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"in this notebook you will", text, re.IGNORECASE), "objectives at the top"
    assert "## Your turn" in text and "## Summary" in text
    assert re.search(r"TraceStepper|RequestBuilder|%%wsgi|%%asgi|%%cgi|Explorer|widgets\.",
                     code), "at least one interactive widget"
    # The "your turn" cell runs the check, or tells how to (a slow stub may not be run).
    names = re.findall(r'gl\.check\("(\w+)"', code + text)
    assert names, "a 'your turn' cell that points to its exercise's check"
    for name in names:
        assert (ROOT / "exercises" / f"{name}.py").is_file(), f"no exercises/{name}.py"


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_top_to_bottom_in_a_kernel(path):
    # The kernel is the project's own: the .venv's python3 kernelspec comes first.
    # How long each lesson takes is measured, not asserted tightly (a shared machine);
    # the per-cell timeout still turns a hang into a failure.
    nb = executed(path)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # Nothing failed behind the cells' backs (a thread's or a callback's traceback lands on
    # the kernel's stderr). A lesson may *print* a traceback it shows on purpose (lesson 10's
    # asyncio debug mode), on stdout.
    stderr = "".join(o["text"] for o in outputs if o.get("name") == "stderr")
    assert "Traceback" not in stderr, stderr[-2000:]
    # The widgets really were created (their views are in the outputs).
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in outputs)
    assert nb.metadata["seconds"] < 60, f"{path.name} took {nb.metadata['seconds']:.0f} s"


# -- pedagogy: every lesson asks before it measures, and checks understanding ----------

MEASURES = {"run_many", "best_per_request", "per_request", "per_request_async", "simulate",
            "idle_connection_cost", "measure", "perf_counter", "run_cgi"}


def _measures(source: str) -> bool:
    """True when the cell measures something at its top level (not inside a def)."""
    if source.lstrip().startswith("%"):
        return False  # a cell magic: a demo, not a measurement
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile(source, "<cell>", "exec", flags=flags)
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in MEASURES and name != "run_cgi":
                return True
        todo.extend(ast.iter_child_nodes(node))
    return False


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_measured_demo_asks_for_a_prediction_first(path):
    nb = nbformat.read(path, as_version=4)
    last_markdown = ""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            last_markdown = cell.source
        elif _measures(cell.source):
            assert "Predict first" in last_markdown, (
                f"cell {i} of {path.name} measures something: the markdown before it should "
                "ask the learner to predict the result first")


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_has_self_check_questions_with_hidden_answers(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "markdown")
    assert "## Check yourself" in text
    check = text.split("## Check yourself", 1)[1]
    assert len(re.findall(r"^# ?\d\.|^\d\. ", check, re.MULTILINE)) >= 2 * 2, \
        "at least two questions, each with an answer"
    assert "<details>" in check and "</details>" in check
