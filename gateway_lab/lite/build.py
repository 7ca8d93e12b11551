"""Building the JupyterLite site: the lessons in a browser, with nothing installed.

Everything comes from the package registries, nothing from a CDN at run time:

* the Pyodide runtime (CPython compiled to WebAssembly) from npm's `pyodide`
  package, at the version jupyterlite-pyodide-kernel expects.  That package is the
  runtime only: no package wheels.
* the kernel's own packages (micropip, ipython, jedi, ...) as pure-Python wheels
  from PyPI, at exactly the versions Pyodide's `pyodide-lock.json` pins.  Pyodide
  builds its own copies of them, so the lock's sha256 fields are rewritten to the
  files actually served, and the lock keeps only the packages the site serves
  (a lock that names a file the site lacks would fail at load time, not at build).
* what the lessons import (werkzeug, ipywidgets, Flask, Django, ...) as wheels from
  PyPI at the versions this environment runs, MarkupSafe as a pure-Python wheel
  built from its sdist (its C speedups are optional; the browser cannot load a
  Linux build), and the project's own wheel.  They join the lock too, and the
  kernel loads them as it starts (`loadPyodideOptions.packages`), so a lesson's
  `import gateway_lab` works in the browser as it does on the desktop.
* the lessons, exercises and solutions as the site's contents, so `gl.check` finds
  exercises/ next to notebooks/ as it does in a workspace.

`jupyter lite build` (jupyterlite-core and jupyterlite-pyodide-kernel, PyPI) does
the rest: the JupyterLab front end, the widgets' front end, the contents index.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path

# jupyterlite-pyodide-kernel 0.8.6 says which Pyodide it was built against
# (jupyterlite_pyodide_kernel.constants.PYODIDE_VERSION); the build checks the two agree.
PYODIDE_VERSION = "314.0.6"
KERNEL_VERSION = "0.8.6"

# The kernel's own packages and what gateway_lab needs at import: taken from the lock
# at its versions, with everything they depend on.
LOCK_SEEDS = ["micropip", "ipython", "jedi", "h11", "starlette", "anyio", "sniffio",
              "typing-extensions", "idna", "packaging"]

# Wheels from PyPI at this environment's versions: what the lessons import.
# (FastAPI is left out: pydantic-core is compiled, and Pyodide's own build of it is not
# in npm's runtime package; lesson 10 says so in the browser.)
LAB_WHEELS = ["werkzeug", "ipywidgets", "comm", "jupyterlab_widgets", "a2wsgi", "asgiref",
              "flask", "jinja2", "itsdangerous", "click", "blinker", "django", "sqlparse"]
# Built from the sdist as pure Python (see the module docstring).
PURE_FROM_SDIST = ["markupsafe"]
# Dependencies a lock entry need not carry: ipywidgets' front-end packages
# (jupyterlab_widgets' labextension is part of the site; the kernel side never
# imports widgetsnbextension, and the kernel ships a stand-in for it anyway).
NOT_NEEDED = {"widgetsnbextension"}
# What the kernel loads as it starts.
PRELOAD = ["gateway-lab", "ipywidgets"]

# Files of npm's pyodide package the site serves (the rest are docs and type stubs).
RUNTIME_FILES = ["pyodide.mjs", "pyodide.js", "pyodide.asm.mjs", "pyodide.asm.wasm",
                 "python_stdlib.zip", "pyodide-lock.json", "package.json"]
KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
CONTENTS = {"notebooks": ("*.ipynb",), "exercises": ("*.py", "*.md"),
            "solutions": ("*.py", "*.md")}


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def norm(name: str) -> str:
    """A distribution name as the lock spells its keys (PEP 503 normalisation)."""
    return "-".join(name.lower().replace("_", "-").replace(".", "-").split("-")).strip("-")


def _run(command: list, step: str, **kwargs) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise BuildError(f"{step} failed ({' '.join(map(str, command[:4]))} ...):\n"
                         f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


# -- the runtime --------------------------------------------------------------------

def fetch_runtime(cache: Path) -> Path:
    """npm's pyodide package, unpacked; returns the folder holding pyodide.mjs."""
    unpacked = cache / f"pyodide-{PYODIDE_VERSION}"
    if (unpacked / "package" / "pyodide.mjs").is_file():
        return unpacked / "package"
    cache.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is needed to fetch the Pyodide runtime (npm's `pyodide` "
                         "package): install Node.js and npm")
    out = _run([npm, "pack", f"pyodide@{PYODIDE_VERSION}", "--pack-destination", cache,
                "--silent"], "npm pack pyodide")
    tgz = cache / out.strip().splitlines()[-1]
    with tarfile.open(tgz) as archive:
        if hasattr(tarfile, "data_filter"):  # 3.12, and 3.11.4+ (the filters were backported)
            archive.extractall(unpacked, filter="data")  # no links or paths out of the folder
        else:
            archive.extractall(unpacked)  # noqa: S202 - npm's own package
    return unpacked / "package"


# -- the wheels ---------------------------------------------------------------------

def pip_download(specs: list[str], into: Path) -> None:
    """Pure-Python wheels for `specs`, as any platform would get them."""
    into.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
          "--only-binary=:all:", "--platform", "any", "--implementation", "py",
          "--python-version", "3.14", "--abi", "none", "--dest", into, *specs],
         f"pip download {' '.join(specs)}")


def build_pure(name: str, version: str, into: Path) -> None:
    """A pure-Python wheel of `name` built from its sdist: with no C compiler
    (CC=false) a package whose speedups are optional builds without them."""
    import os

    env = dict(os.environ, CC="false", CXX="false")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-binary",
          ":all:", f"{name}=={version}", "--wheel-dir", into], f"building {name} from its "
         "sdist", env=env)


def build_project_wheel(into: Path) -> Path:
    root = project_root()
    if not (root / "pyproject.toml").is_file():
        raise BuildError(f"no pyproject.toml in {root}: build the site from a clone")
    with tempfile.TemporaryDirectory() as tmp:
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
              "--wheel-dir", tmp, root], "building gateway-lab's wheel")
        wheel = next(Path(tmp).glob("gateway_lab-*.whl"))
        target = into / wheel.name
        shutil.copyfile(wheel, target)
    return target


def find_wheel(folder: Path, name: str) -> Path:
    for wheel in folder.glob("*.whl"):
        if norm(wheel.name.split("-")[0]) == norm(name):
            return wheel
    raise BuildError(f"no wheel for {name} in {folder}")


def wheel_facts(wheel: Path) -> tuple[str, str, list[str], list[str]]:
    """(name, version, what it depends on in the browser, its top-level imports)."""
    from packaging.markers import Marker
    from packaging.requirements import Requirement

    browser = {"sys_platform": "emscripten", "platform_system": "Emscripten",
               "python_version": "3.14", "python_full_version": "3.14.2",
               "implementation_name": "cpython", "os_name": "posix", "extra": ""}
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(info).decode("utf-8")
        tops = {n.split("/")[0].removesuffix(".py") for n in archive.namelist()
                if not n.split("/")[0].endswith((".dist-info", ".data"))}
    fields = [line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line]
    name = next(v.strip() for k, v in fields if k == "Name")
    version = next(v.strip() for k, v in fields if k == "Version")
    depends = []
    for key, value in fields:
        if key != "Requires-Dist":
            continue
        req = Requirement(value.strip())
        if req.marker is not None and not Marker(str(req.marker)).evaluate(browser):
            continue
        if norm(req.name) not in NOT_NEEDED:
            depends.append(norm(req.name))
    return name, version, depends, sorted(tops)


def lock_closure(lock: dict, seeds: list[str]) -> list[str]:
    packages, todo, seen = lock["packages"], [norm(s) for s in seeds], []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in packages:
            raise BuildError(f"{name} is not in Pyodide {PYODIDE_VERSION}'s lock")
        seen.append(name)
        todo.extend(norm(d) for d in packages[name]["depends"])
    return sorted(seen)


def installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise BuildError(f"{name} is not installed here; the site serves the version "
                         "the lab is tested with: pip install -e '.[lab,test]'") from None


# -- the site -----------------------------------------------------------------------

def check_kernel_version() -> None:
    try:
        from jupyterlite_pyodide_kernel import constants
    except ImportError:
        raise BuildError("jupyterlite-core and jupyterlite-pyodide-kernel are needed: "
                         "pip install -e '.[lite]'") from None
    if constants.PYODIDE_VERSION != PYODIDE_VERSION:
        raise BuildError(f"jupyterlite-pyodide-kernel expects Pyodide "
                         f"{constants.PYODIDE_VERSION}, this build fetches {PYODIDE_VERSION}")


def stage_runtime(runtime: Path, wheels: Path, target: Path) -> dict:
    """static/pyodide/: the runtime, the wheels it loads, and a lock that names exactly
    the files served, with their real hashes."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_FILES:
        shutil.copyfile(runtime / name, target / name)
    lock = json.loads((runtime / "pyodide-lock.json").read_text(encoding="utf-8"))
    keep = lock_closure(lock, LOCK_SEEDS)
    pip_download([f"{lock['packages'][n]['name']}=={lock['packages'][n]['version']}"
                  for n in keep], wheels)
    packages = {}
    for name in keep:
        entry = dict(lock["packages"][name])
        wheel = find_wheel(wheels, name)
        # The lock's list can be short (its starlette names no anyio): add what the wheel
        # requires among the packages served (Pyodide's own choices, such as an ipython
        # without ipython-pygments-lexers, stand), and the hash of the file served.
        needs = {n for n in wheel_facts(wheel)[2] if n in keep}
        entry.update(file_name=wheel.name, sha256=_sha256(wheel),
                     depends=sorted(set(entry["depends"]) | needs))
        packages[name] = entry
        shutil.copyfile(wheel, target / wheel.name)
    extra = [find_wheel(wheels, n) for n in LAB_WHEELS + PURE_FROM_SDIST]
    extra.append(next(wheels.glob("gateway_lab-*.whl")))
    for wheel in extra:
        name, version, depends, tops = wheel_facts(wheel)
        packages[norm(name)] = {
            "name": name, "version": version, "file_name": wheel.name,
            "install_dir": "site", "sha256": _sha256(wheel), "package_type": "package",
            "imports": tops, "depends": depends, "unvendored_tests": False}
        shutil.copyfile(wheel, target / wheel.name)
    missing = {norm(d) for p in packages.values() for d in p["depends"]} - set(packages)
    if missing:
        raise BuildError(f"the site lacks wheels that others depend on: {sorted(missing)}")
    lock["packages"] = dict(sorted(packages.items()))
    (target / "pyodide-lock.json").write_text(json.dumps(lock, indent=1), encoding="utf-8")
    return packages


def stage_contents(into: Path) -> list[str]:
    from ..workspace import source

    src = source()
    files = []
    for folder, patterns in CONTENTS.items():
        for pattern in patterns:
            for path in sorted((src / folder).glob(pattern)):
                if path.name.startswith("__init__"):
                    continue
                (into / folder).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, into / folder / path.name)
                files.append(f"{folder}/{path.name}")
    return files


def lite_config(packages: dict) -> dict:
    """jupyter-lite.json: every package install stays on the site, and the kernel
    loads the lab's packages as it starts."""
    return {"jupyter-lite-schema-version": 0, "jupyter-config-data": {
        "appName": "gateway-lab", "defaultKernelName": "python",
        # window.jupyterapp, as JupyterLab's --LabApp.expose_app_in_browser gives it:
        # the browser test drives the notebook through it.
        "exposeAppInBrowser": True,
        # An extension of this environment that has no business in the browser.
        "disabledExtensions": ["jupyterlab-jupytext"],
        "litePluginSettings": {KERNEL_PLUGIN: {
            "disablePyPIFallback": True,
            "loadPyodideOptions": {"packages": sorted(norm(p) for p in PRELOAD)}}}}}


def build(out: Path, cache: Path | None = None, *, log=print) -> dict:
    """Build the site into `out`; returns what was built (sizes, times, packages)."""
    started = time.perf_counter()
    check_kernel_version()
    out = Path(out).resolve()
    cache = Path(cache or out.parent / "lite-cache").resolve()
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    log(f"Pyodide {PYODIDE_VERSION} from npm ...")
    runtime = fetch_runtime(cache)
    log("wheels from PyPI ...")
    need = [f"{n}=={installed_version(n)}" for n in LAB_WHEELS]
    have = {norm(w.name.split("-")[0]) + "-" + w.name.split("-")[1] for w in wheels.glob("*")}
    missing = [s for s in need if norm(s.split("==")[0]) + "-" + s.split("==")[1] not in have]
    if missing:
        pip_download(missing, wheels)
    for name in PURE_FROM_SDIST:
        version = installed_version(name)
        if not any(w.name.startswith(f"{name}-{version}-py3-none-any") for w in
                   wheels.glob("*.whl")):
            log(f"{name} {version}: a pure-Python wheel from its sdist ...")
            build_pure(name, version, wheels)
    for old in wheels.glob("gateway_lab-*.whl"):
        old.unlink()
    build_project_wheel(wheels)
    with tempfile.TemporaryDirectory(prefix="gateway-lab-lite-") as tmp:
        lite_dir, contents = Path(tmp) / "lite", Path(tmp) / "contents"
        lite_dir.mkdir()
        packages = stage_runtime(runtime, wheels, lite_dir / "static" / "pyodide")
        files = stage_contents(contents)
        (lite_dir / "jupyter-lite.json").write_text(json.dumps(lite_config(packages),
                                                               indent=1), encoding="utf-8")
        log(f"jupyter lite build: {len(files)} files of contents, {len(packages)} packages ...")
        if out.exists():
            shutil.rmtree(out)
        _run([sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", lite_dir,
              "--output-dir", out, "--contents", contents, "--no-sourcemaps",
              "--apps", "lab", "--apps", "notebooks"], "jupyter lite build", cwd=tmp)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    report = {"site": str(out), "bytes": size, "files": len(list(out.rglob("*"))),
              "packages": sorted(packages), "contents": files,
              "seconds": round(time.perf_counter() - started, 1),
              "pyodide": PYODIDE_VERSION}
    (out / "gateway-lab-build.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    log(f"built {out}: {size / 1e6:.1f} MB in {report['seconds']} s")
    return report
