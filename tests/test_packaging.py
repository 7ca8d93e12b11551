"""The package installs and imports the way the README says."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parents[1]


def _requirements(specs):
    out = {}
    for spec in specs:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec.strip())
        out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2).replace(" ", "")
    return out


def test_import_is_light_and_lazy():
    code = ("import sys, gateway_lab as gl; "
            "heavy = [m for m in ('ipywidgets', 'matplotlib', 'jupyter_client', 'IPython', "
            "'werkzeug', 'starlette', 'numpy') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve():
    import gateway_lab as gl

    for name in ("Request", "BadRequest", "run_wsgi", "Exchange", "Response", "check"):
        assert getattr(gl, name) is not None


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # An environment marker (pyuwsgi has no Windows build) is pip's business, not conda's.
    wanted = _requirements(spec.split(";")[0] for spec in project["dependencies"]
                           + extras["lab"] + extras["serve"] + extras["servers"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = _requirements(d for d in env["dependencies"] if isinstance(d, str) and d != "pip")
    python_pin = conda.pop("python")
    assert python_pin == project["requires-python"]
    pip_part = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e ." in pip_part
    # What conda-forge names differently comes from PyPI, in the pip: part.
    from_pypi = _requirements(d for d in pip_part if d != "-e .")
    assert not set(conda) & set(from_pypi)
    assert conda | from_pypi == wanted


def test_console_script_and_module_agree():
    for cmd in ([sys.executable, "-m", "gateway_lab", "--help"],
                [str(Path(sys.executable).parent / "gateway-lab"), "--help"]):
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0 and "gateway-lab run" in out.stdout


def test_code_is_ruff_clean():
    """A learner reads this code: no unused names, no shadowed bugs, sorted imports."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                           "."], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_package_is_listed_for_the_wheel():
    """pyproject.toml lists the packages (it must, to map the lessons into the wheel):
    a new subpackage of gateway_lab that is not listed would be left out of the wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "gateway_lab").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"


def test_the_license_is_an_spdx_expression_and_setuptools_can_read_it():
    toml = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert toml["project"]["license"] == "MIT"       # PEP 639; a table is deprecated
    assert "setuptools>=77" in toml["build-system"]["requires"]


def test_help_speaks_to_a_user_and_names_every_command():
    out = subprocess.run([sys.executable, "-m", "gateway_lab", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=60).stdout
    from gateway_lab.cli import COMMANDS

    assert out.startswith("gateway-lab: ")
    assert "gateway-lab lab" in out and "Start here" in out
    for name in COMMANDS:
        assert f"\n  {name} " in out
    assert max(map(len, out.splitlines())) <= 80
