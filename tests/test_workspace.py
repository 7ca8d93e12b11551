"""`gateway-lab lab FOLDER`: the workspace a pip-installed learner gets, and its --update.

The copying is tested here against a small stand-in for the shipped files (so a new
lesson can be "released"); tests/test_wheel.py does it for real from an installed wheel.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway_lab import workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def release(tmp_path, monkeypatch):
    """A stand-in for the files a release ships; returns its folder."""
    src = tmp_path / "release"
    for rel, text in {"notebooks/00_welcome.ipynb": "{}", "notebooks/01_cgi.ipynb": "{}",
                      "exercises/03_wsgi_hello.py": "# stub\n", "exercises/README.md": "x",
                      "solutions/03_wsgi_hello.py": "# solved\n"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    monkeypatch.setattr(workspace, "source", lambda: src)
    return src


def test_the_shipped_files_are_every_lesson_exercise_and_solution_by_glob():
    files = workspace.shipped(ROOT)
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert [f for f in files if f.startswith("notebooks/")] == [
        f"notebooks/{name}" for name in lessons]
    for path in (ROOT / "exercises").glob("*.py"):
        assert f"exercises/{path.name}" in files
        assert f"solutions/{path.name}" in files   # a solution for every stub
    assert "exercises/README.md" in files


def test_a_new_workspace_gets_everything(tmp_path, release):
    outcome = workspace.populate(tmp_path / "ws")
    assert sorted(outcome.copied) == workspace.shipped(release)
    assert (tmp_path / "ws" / "exercises" / "03_wsgi_hello.py").read_text() == "# stub\n"
    manifest = json.loads((tmp_path / "ws" / workspace.MANIFEST).read_text())
    assert set(manifest["files"]) == set(outcome.copied)


def test_a_learners_edits_survive_every_run_and_every_update(tmp_path, release):
    ws = tmp_path / "ws"
    workspace.populate(ws)
    mine = ws / "exercises" / "03_wsgi_hello.py"
    mine.write_text("def app(environ, start_response): ...  # my work\n")
    (release / "exercises" / "03_wsgi_hello.py").write_text("# a better stub\n")
    (release / "notebooks" / "01_cgi.ipynb").write_text('{"fixed": 1}')
    assert workspace.populate(ws).copied == []            # a plain run copies nothing
    outcome = workspace.populate(ws, update=True)
    assert outcome.kept == ["exercises/03_wsgi_hello.py"]
    assert "my work" in mine.read_text()
    # a lesson never run and saved is still as it was given: it gets the fix
    assert outcome.updated == ["notebooks/01_cgi.ipynb"]
    assert (ws / "notebooks" / "01_cgi.ipynb").read_text() == '{"fixed": 1}'
    assert any("kept your edited exercises/03_wsgi_hello.py" in line
               for line in outcome.lines())


def test_update_brings_new_lessons_and_stubs_and_a_plain_run_says_so(tmp_path, release):
    ws = tmp_path / "ws"
    workspace.populate(ws)
    (release / "notebooks" / "10_claims_tested.ipynb").write_text("{}")
    (release / "exercises" / "15_new.py").write_text("# new stub\n")
    plain = workspace.populate(ws)
    assert sorted(plain.waiting) == ["exercises/15_new.py", "notebooks/10_claims_tested.ipynb"]
    assert not (ws / "exercises" / "15_new.py").exists()
    assert any("--update" in line for line in plain.lines())
    update = workspace.populate(ws, update=True)
    assert sorted(update.copied) == ["exercises/15_new.py", "notebooks/10_claims_tested.ipynb"]
    assert (ws / "exercises" / "15_new.py").read_text() == "# new stub\n"


def test_an_existing_folder_without_a_manifest_keeps_its_files(tmp_path, release):
    ws = tmp_path / "ws"
    (ws / "exercises").mkdir(parents=True)
    (ws / "exercises" / "03_wsgi_hello.py").write_text("# already here\n")
    outcome = workspace.populate(ws)
    assert "exercises/03_wsgi_hello.py" not in outcome.copied
    assert (ws / "exercises" / "03_wsgi_hello.py").read_text() == "# already here\n"
    assert (ws / "notebooks" / "00_welcome.ipynb").exists()


def test_the_project_clone_is_its_own_workspace():
    assert workspace.is_clone(ROOT)
    assert workspace.populate(ROOT).copied == []


def test_jupyterlab_opens_lesson_00_on_loopback_and_hides_the_engine_in_a_clone(tmp_path):
    command = workspace.jupyter_command(tmp_path, ["--ip=0.0.0.0"], clone=True)
    assert "--ip=127.0.0.1" in command
    assert command[-1] == "--ip=0.0.0.0"      # the user's own choice comes last, and wins
    assert "--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb" in command
    assert f"--ServerApp.root_dir={tmp_path}" in command
    hidden = {c.split("=", 1)[1] for c in command if c.startswith("--ContentsManager.hide")}
    assert {"gateway_lab", "tests", "bench", "__pycache__"} <= hidden
    plain = workspace.jupyter_command(tmp_path)
    assert not any(c.endswith("=tests") for c in plain)   # a learner's own tests/ shows


def test_copy_only_from_the_command_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gateway_lab", "lab", str(tmp_path / "ws"),
                           "--copy-only"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "workspace ready" in done.stdout
    assert (tmp_path / "ws" / "notebooks" / "00_welcome.ipynb").is_file()
    assert (tmp_path / "ws" / "solutions" / "03_wsgi_hello.py").is_file()
    # the checker finds the workspace's exercises from inside it
    check = subprocess.run([sys.executable, "-m", "gateway_lab", "check", "03_wsgi_hello"],
                           capture_output=True, text=True, cwd=tmp_path / "ws" / "notebooks",
                           timeout=60)
    assert str(tmp_path / "ws" / "exercises" / "03_wsgi_hello.py") in check.stdout
    assert check.returncode == 1                 # the stub does not pass yet


def test_a_stray_word_is_a_usage_error_not_a_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gateway_lab", "lab", str(tmp_path), "9999",
                           "--copy-only"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unexpected" in done.stderr
