"""The learner's workspace: the lessons, the exercise stubs and their solutions in one
folder, opened in JupyterLab on lesson 00.

    gateway-lab lab [FOLDER]            make the workspace (first time) and open it
    gateway-lab lab FOLDER --update     bring new lessons and exercises into it
    gateway-lab lab FOLDER --copy-only  make it, but start no JupyterLab (a JupyterHub image)

Two ways to get the same workspace:

* a clone of the project: `make lab` opens the clone itself (`gateway-lab lab .`), with
  the engine, the tests and the build files hidden from JupyterLab's file browser;
* `pip install "gateway-lab[lab]"`: the wheel carries the lessons, the stubs and the
  solutions inside the package (pyproject.toml maps the top-level folders into
  `gateway_lab/workspace/`), and `gateway-lab lab FOLDER` copies them out.

A learner's work is never overwritten.  The workspace remembers, in a hidden file
(`.gateway-lab.json`), the fingerprint of every file it was given.  `--update` copies
what is new, and replaces a file only when it is still exactly as it was given (a
lesson never run and saved, a stub never edited); an edited file is kept and named.

The exercise checker finds `exercises/` from the current folder or one above it, so
`gateway-lab check NAME` works in the workspace's terminal and `gl.check(NAME)` in a
lesson (whose kernel runs in `notebooks/`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

# What a workspace holds: folder -> the files of it that ship (globs, so a new lesson
# or exercise ships without anyone listing it).
FOLDERS = {
    "notebooks": ("*.ipynb",),
    "exercises": ("*.py", "*.md"),
    "solutions": ("*.py", "*.md"),
}
START = "notebooks/00_welcome.ipynb"       # the lesson JupyterLab opens first
MANIFEST = ".gateway-lab.json"             # a dot file: JupyterLab does not list it
DEFAULT_FOLDER = "gateway-lab-workspace"

# JupyterLab's own defaults for hidden names (jupyter_server ContentsManager.hide_globs)...
HIDDEN = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*.so", "*.dylib", "*~"]
# ...and, in a clone of the project, what is not the learner's: the engine, the
# project's tests and benchmarks, the build files.  (Hidden from the file browser
# only: a lesson may still read them, and a terminal shows them.)
PROJECT_ONLY = ["gateway_lab", "tests", "bench", "build", "dist", "*.egg-info",
                "Makefile", "pyproject.toml", "environment.yml"]


def source() -> Path:
    """Where the shipped lessons are: inside the installed package (from a wheel),
    else the project clone this package is imported from."""
    packaged = Path(__file__).resolve().parent
    if (packaged / "notebooks").is_dir():
        return packaged
    clone = packaged.parents[1]
    if (clone / "notebooks").is_dir():
        return clone
    raise FileNotFoundError(f"no lessons next to {packaged}: reinstall gateway-lab")


def shipped(src: Path | None = None) -> list[str]:
    """The workspace's files, as paths relative to it ('notebooks/00_welcome.ipynb')."""
    src = src or source()
    found = set()
    for folder, patterns in FOLDERS.items():
        for pattern in patterns:
            found.update(p.relative_to(src).as_posix() for p in (src / folder).glob(pattern)
                         if p.is_file() and not p.name.startswith("__init__"))
    return sorted(found)


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_clone(folder: Path) -> bool:
    """True for the project clone itself: it already is a workspace."""
    try:
        return folder.resolve() == source().resolve() and (folder / "gateway_lab").is_dir()
    except FileNotFoundError:
        return False


@dataclass
class Outcome:
    """What populate() did, file by file (paths relative to the workspace)."""

    folder: Path
    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)       # edited by the learner: left alone
    waiting: list[str] = field(default_factory=list)    # new, for `--update` to bring

    def lines(self) -> list[str]:
        out = []
        if self.copied:
            out.append(f"copied {len(self.copied)} files into {self.folder}")
        if self.updated:
            out.append(f"updated {len(self.updated)} files you had not changed: "
                       + ", ".join(self.updated))
        for rel in self.kept:
            out.append(f"kept your edited {rel} (the new version was not copied)")
        if self.waiting:
            out.append(f"{len(self.waiting)} new lessons or exercises are available: "
                       "add them with --update")
        return out


def populate(folder: Path, *, update: bool = False) -> Outcome:
    """Copy the lessons, stubs and solutions into `folder`; never overwrite an edited file.

    A new workspace gets everything.  An existing one (it has the manifest) gets
    nothing unless `update`: then new files are copied, and files still exactly as
    they were given are replaced by their new version."""
    src = source()
    folder = Path(folder)
    outcome = Outcome(folder)
    if is_clone(folder):
        return outcome                      # the clone is the workspace: nothing to copy
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    try:
        given = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        given = None                        # a new workspace (or an unreadable manifest)
    fresh = given is None
    given = dict(given or {})
    for rel in shipped(src):
        origin, target = src / rel, folder / rel
        new = fingerprint(origin)
        if not target.exists():
            if fresh or update:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(origin, target)
                given[rel] = new
                outcome.copied.append(rel)
            else:
                outcome.waiting.append(rel)
            continue
        now = fingerprint(target)
        if now == new:
            given[rel] = new                # already the shipped version
        elif update and given.get(rel) == now:
            shutil.copyfile(origin, target)  # untouched since it was given: safe to refresh
            given[rel] = new
            outcome.updated.append(rel)
        elif update:
            outcome.kept.append(rel)
    manifest_path.write_text(json.dumps({"files": given}, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    return outcome


def jupyter_command(folder: Path, extra: list[str] = (), *, clone: bool = False) -> list[str]:
    """The JupyterLab command line for a workspace: on 127.0.0.1, lesson 00 open.

    `extra` comes last, so a user's own option (say --ip) wins over ours."""
    hidden = HIDDEN + (PROJECT_ONLY if clone else [])
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}",
               "--ip=127.0.0.1", f"--LabApp.default_url=/lab/tree/{START}"]
    command += [f"--ContentsManager.hide_globs={pattern}" for pattern in hidden]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")     # a container's root: JupyterLab refuses without it
    return command + list(extra)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway-lab lab", allow_abbrev=False,   # JupyterLab's options pass through
        description="Open the lessons and exercises in JupyterLab, on 127.0.0.1, with lesson "
                    "00 open. The first time, the lessons, exercise stubs and solutions are "
                    "copied into FOLDER; your own edits are never overwritten.",
        epilog="Any other --Name=value option goes to JupyterLab as it is, e.g. "
               "--IdentityProvider.token=SECRET or --ServerApp.port_retries=0.")
    parser.add_argument("folder", nargs="?", default=None, metavar="FOLDER",
                        help=f"the workspace (default: this folder if it is one, "
                             f"else ./{DEFAULT_FOLDER})")
    parser.add_argument("--update", action="store_true",
                        help="bring new lessons and exercises into an existing workspace "
                             "(files you changed are kept)")
    parser.add_argument("--copy-only", action="store_true",
                        help="make or update the workspace, but do not start JupyterLab")
    parser.add_argument("--port", type=int, help="JupyterLab's port (default 8888, or the "
                                                 "next free one)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a browser (print the address instead)")
    return parser


def _folder(given: str | None) -> Path:
    if given is not None:
        return Path(given).expanduser()
    here = Path.cwd()
    if (here / MANIFEST).exists() or is_clone(here):
        return here
    return here / DEFAULT_FOLDER


def main(argv: list[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    stray = [word for word in extra if not word.startswith("--")]
    if stray:
        print(f"gateway-lab lab: unexpected {' '.join(stray)!r} (JupyterLab options are "
              "written --Name=value)", file=sys.stderr)
        return 2
    folder = _folder(args.folder).absolute()
    try:
        outcome = populate(folder, update=args.update)
    except OSError as error:
        print(f"gateway-lab lab: cannot write the workspace {folder}: {error}", file=sys.stderr)
        return 2
    for line in outcome.lines():
        print(line)
    if args.copy_only:
        print(f"workspace ready: {folder} (open {START} first)")
        return 0
    try:
        import jupyterlab  # noqa: F401 - only to say clearly that it is missing
    except ImportError:
        print('gateway-lab lab: JupyterLab is not installed: pip install "gateway-lab[lab]"',
              file=sys.stderr)
        return 2
    if args.port is not None:
        extra = [f"--port={args.port}", *extra]
    if args.no_browser:
        extra = ["--no-browser", *extra]
    command = jupyter_command(folder, extra, clone=is_clone(folder))
    print(f"starting JupyterLab in {folder}")
    sys.stdout.flush()
    os.chdir(folder)          # a terminal opened in the Lab starts here, next to exercises/
    if os.name == "posix":
        os.execv(command[0], command)   # JupyterLab takes over: Ctrl-C goes straight to it
    import subprocess

    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
