"""The pip way, for real: build the wheel, install it with the `lab` extra into a fresh
virtual environment outside the project, make a workspace, run lesson 00 headless in that
environment's own kernel, and check an exercise there.

This is what a learner on Windows or a JupyterHub does instead of `make lab`.  It takes
about a minute, most of it pip installing JupyterLab (from the package index this
machine is configured with); the steps' times are printed (pytest -s).
"""

import os
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.wheel, pytest.mark.timeout(300)]

SKIP = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".hypothesis", "artifacts", ".ipynb_checkpoints")


def _clean_env() -> dict:
    """The environment a learner's shell has: nothing pointing into this project."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(args, *, cwd, timeout, env=None):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env or _clean_env())
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's bin folder, the wheel, the times taken, pip's output)."""
    tmp = tmp_path_factory.mktemp("wheel")
    times = {}
    start = time.monotonic()
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp / "dist"),
                  str(src)], cwd=tmp, timeout=180)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("gateway_lab-*.whl")
    times["build"] = time.monotonic() - start

    start = time.monotonic()
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)   # no system site-packages
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    times["venv"] = time.monotonic() - start
    start = time.monotonic()
    # The lab extra, as the README says; nbclient only to run the lesson headless here.
    pip = _run([str(bin_dir / "python"), "-m", "pip", "install", "--no-compile",
                f"{wheel}[lab]", "nbclient"], cwd=tmp, timeout=240)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    times["pip install"] = time.monotonic() - start
    print("\nwheel test times: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    return bin_dir, wheel, tmp, built.stdout + built.stderr + pip.stdout + pip.stderr


def test_the_wheel_carries_the_engine_the_lessons_the_stubs_and_the_solutions(installed):
    _, wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "gateway_lab").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if "__pycache__" not in rel and not rel.startswith("gateway_lab/workspace/"):
            assert rel in names, f"{rel} is missing from the wheel"
    for folder, pattern in (("notebooks", "*.ipynb"), ("exercises", "*.py"),
                            ("exercises", "*.md"), ("solutions", "*.py")):
        for path in (ROOT / folder).glob(pattern):
            assert f"gateway_lab/workspace/{folder}/{path.name}" in names


def test_installing_prints_no_setuptools_deprecation(installed):
    *_, output = installed
    assert "deprecat" not in output.lower(), output


def test_a_workspace_runs_lesson_00_and_checks_an_exercise(installed):
    bin_dir, _, tmp, _ = installed
    home = tmp / "learner"          # somewhere outside the project
    home.mkdir()
    exe = bin_dir / ("gateway-lab.exe" if os.name == "nt" else "gateway-lab")
    made = _run([str(exe), "lab", "course", "--copy-only"], cwd=home, timeout=60)
    assert made.returncode == 0, made.stderr
    ws = home / "course"
    assert (ws / "notebooks" / "00_welcome.ipynb").is_file()
    assert sorted(p.name for p in (ws / "notebooks").iterdir()) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb"))   # nothing but lessons

    # Lesson 00, top to bottom, in a kernel of the fresh environment, from notebooks/.
    script = (
        "import nbformat, nbclient, sys\n"
        "nb = nbformat.read('00_welcome.ipynb', as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=60, kernel_name='python3',\n"
        "    resources={'metadata': {'path': '.'}}).execute()\n"
        "text = [o.get('text', '') + str(o.get('data', {}).get('text/plain', ''))\n"
        "        for c in nb.cells if c.cell_type == 'code' for o in c.outputs]\n"
        "print('\\n'.join(text))\n"
        "import gateway_lab; print('ENGINE', gateway_lab.__file__)\n")
    ran = _run([str(bin_dir / "python"), "-c", script], cwd=ws / "notebooks", timeout=120)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "200 b'Hello, Ada!'" in ran.stdout
    assert f"ENGINE {tmp / 'venv'}" in ran.stdout        # the installed engine, not the clone
    assert "03_wsgi_hello" in ran.stdout                 # the lesson's own check ran

    # The learner solves exercise 03 and checks it from the workspace's terminal.
    exercise = ws / "exercises" / "03_wsgi_hello.py"
    failing = _run([str(exe), "check", "03_wsgi_hello"], cwd=ws, timeout=60)
    assert failing.returncode == 1 and str(exercise) in failing.stdout
    shutil.copyfile(ws / "solutions" / "03_wsgi_hello.py", exercise)
    passing = _run([str(exe), "check", "03_wsgi_hello"], cwd=ws, timeout=60)
    assert passing.returncode == 0, passing.stdout
    assert "checks passed" in passing.stdout
