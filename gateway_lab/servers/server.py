"""`start(server, app, workers=..., threads=...)`: a real server on 127.0.0.1.

    with gl.servers.start("gunicorn", workers=2, threads=4) as srv:
        srv.url         # 'http://127.0.0.1:40123/'
        srv.pids()      # the master and its workers
        srv.rss()       # their resident memory, bytes
        srv.log()       # what the server printed
    # here every process of the server has ended

The server is a separate program, so it imports the app by name, the way
you would start it in a terminal (`gunicorn module:app`).  `app` may be:

* "module:attr" (default: the lab's own app for the server's interface,
  gateway_lab.servers.apps);
* a function or object defined in an importable module (the lab finds its
  "module:attr");
* for an app written in a notebook cell: `write_app(source)` saves the
  cell's code as a module in a temporary folder and returns a reference the
  server can import.  A function defined in the notebook itself cannot be
  imported by another process; the error says so.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import catalog
from .apps import for_interface
from .catalog import Setup
from .process import ProcessGroup, ServerError, free_port, raise_fd_limit, wait_http

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding gateway_lab
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


@dataclass(frozen=True)
class AppRef:
    """An app a server process can import: "module:attr", plus folders for sys.path."""

    target: str
    path: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.target


def write_app(source: str, *, attr: str = "app", name: str | None = None,
              folder: str | os.PathLike | None = None) -> AppRef:
    """Save `source` (a whole module: imports, helpers, the app) as a .py file that a
    server can import; returns its AppRef.  The module is named after its content,
    so each version of a cell gets its own module."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError("write_app(source) takes the module's Python source as a string")
    compile(source, "<write_app>", "exec")  # a SyntaxError here, not in the server's log
    name = name or "gl_app_" + hashlib.sha256(source.encode()).hexdigest()[:10]
    folder = Path(folder) if folder else Path(tempfile.gettempdir()) / "gateway-lab-apps"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(source, encoding="utf-8")
    return AppRef(f"{name}:{attr}", (str(folder),))


def app_ref(app, interface: str) -> AppRef:
    """What the server should import for `app` (see the module docstring)."""
    if app is None:
        return AppRef(for_interface(interface))
    if isinstance(app, AppRef):
        return app
    if isinstance(app, str):
        module, sep, attr = app.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"app={app!r}: give it as 'module:attr' (e.g. 'myapp:app')")
        return AppRef(app)
    module = getattr(app, "__module__", None)
    name = getattr(app, "__qualname__", None) or getattr(app, "__name__", None)
    if module in (None, "__main__") or not name or "<" in name:
        raise ValueError(
            f"{app!r} lives in this notebook or script, and a server is another process: "
            "it imports the app by name. Put the app in a .py file and pass 'module:attr', "
            "or save the cell's code with gl.servers.write_app(source) and pass what it "
            "returns.")
    try:
        found = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        raise ValueError(f"cannot import {module}:{name} again by name; pass 'module:attr'") \
            from None
    return AppRef(f"{module}:{name}")


def child_env(extra_path=(), env: dict | None = None) -> dict:
    """The server's environment: ours, plus the app's folders and the lab on PYTHONPATH,
    unbuffered output (so the log shows what happened, in order)."""
    out = dict(os.environ)
    paths = [*extra_path, PACKAGE_ROOT, *filter(None, out.get("PYTHONPATH", "").split(
        os.pathsep))]
    out["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    out["PYTHONUNBUFFERED"] = "1"
    out.update(env or {})
    return out


class RealServer:
    """A started server: `url`, `pids()`, `rss()`, `log()`, `stop()`."""

    def __init__(self, setup: Setup, app: AppRef, host: str, port: int,
                 group: ProcessGroup, started_in: float):
        self.setup = setup
        self.app = app
        self.host = host
        self.port = port
        self.group = group
        self.started_in = started_in  # seconds until the first answer

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def label(self) -> str:
        return self.setup.label

    @property
    def running(self) -> bool:
        return self.group.running

    def pids(self) -> list[int]:
        return self.group.pids()

    def rss(self) -> int:
        return self.group.rss()

    def log(self, tail: int | None = None) -> str:
        return self.group.log(tail)

    def stop(self) -> list[int]:
        """Stop every process of the server; returns any still running (none expected)."""
        return self.group.stop()

    def __enter__(self) -> RealServer:  # noqa: PYI034 (typing.Self is 3.11+)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"{len(self.pids())} processes" if self.running else "stopped"
        return f"<RealServer {self.label} {self.app} at {self.url} ({state})>"


def start(server, app=None, *, workers: int = 1, threads: int = 1,
          worker_class: str | None = None, interface: str | None = None,
          host: str = "127.0.0.1", port: int = 0, env: dict | None = None,
          timeout: float = 30.0) -> RealServer:
    """Start a real `server` (a name from SERVERS, or a Setup) serving `app`.

    Returns once the server answers HTTP; use it as a context manager (or call
    `stop()`).  Raises NotInstalled (with the install command) if the server is
    missing, ServerError (with its log) if it does not come up.
    """
    if isinstance(server, Setup):
        if (workers, threads, worker_class, interface) != (1, 1, None, None):
            raise TypeError("give either a Setup or the worker settings, not both")
        setup = server
    else:
        if interface is None and app is not None and not isinstance(app, (str, AppRef)):
            from ..cli import guess_gateway

            guessed = guess_gateway(app)
            if guessed in catalog.SERVERS.get(server, ((),))[0]:
                interface = guessed
        setup = Setup(server, workers, threads, worker_class, interface)
    ref = app_ref(app, setup.interface)  # the learner's mistake first, then what to install
    catalog.require(setup.server, setup.worker_class)
    raise_fd_limit()
    environment = child_env(ref.path, env)
    last_error = None
    for _ in range(START_ATTEMPTS if port == 0 else 1):
        chosen = port or free_port(host)
        group = ProcessGroup(setup.label, catalog.command(setup, ref.target, chosen,
                                                         host=host), env=environment)
        try:
            took = wait_http(group, host, chosen, timeout)
        except ServerError as error:
            group.stop(timeout=2.0)
            last_error = error
            if "in use" in str(error).lower():
                continue  # someone took the port: try another
            raise
        return RealServer(setup, ref, host, chosen, group, took)
    raise last_error  # type: ignore[misc]


def available(setups) -> tuple[list[Setup], dict[str, str]]:
    """Split setups into those installed here and {label: how to install} for the rest."""
    ok, missing = [], {}
    for s in setups:
        try:
            catalog.require(s.server, s.worker_class)
        except catalog.NotInstalled as error:
            missing[s.label] = str(error)
        else:
            ok.append(s)
    return ok, missing


__all__ = ["AppRef", "RealServer", "ServerError", "app_ref", "available", "start", "write_app"]
