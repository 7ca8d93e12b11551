"""The real servers the lab can start, and how each one is started.

Every server is described once here, side by side, with the facts the lab
relies on and where their own docs say so:

| server    | interface  | inside one worker process               | the server's own docs |
|-----------|------------|-----------------------------------------|-----------------------|
| gunicorn  | WSGI       | sync: one request at a time; gthread:   | gunicorn.org/design,  |
|           |            | a thread pool; gevent: greenlets        | "Worker Types"        |
| uWSGI     | WSGI       | `--threads N` threads per process       | README: "in           |
|           |            |                                         | maintenance mode"     |
| uvicorn   | ASGI       | one asyncio loop; `--workers N`: N      | uvicorn.org,          |
|           |            | processes                               | "Deployment"          |
| hypercorn | ASGI       | one loop; HTTP/1 and HTTP/2, also       | hypercorn docs,       |
|           |            | without TLS (h2c)                       | discussion/http2      |
| granian   | ASGI, WSGI | Rust HTTP/1 and HTTP/2 in front of      | granian README,       |
|           |            | Python                                  | "Features"            |

A `Setup` is one server with its worker settings (`Setup("gunicorn", workers=2,
threads=4)`); `command(setup, target, port)` is the command line that starts
it, which `process.start` runs.  The servers all listen on 127.0.0.1 and are
told to log to stderr (the lab captures it) without access logs (a load test
would write one line per request).

Each setup also names the lab's nearest *worker model* (`setup.model()`), so
`gl.simulate` can predict the same workload: N sync workers are
`Processes(N)`; T threads in each of N processes share their process's one
CPU (the GIL), hence `Processes(N*T, cores=N)`; an event loop (or gevent's
greenlets, which switch where a task would await) is `EventLoop()`, one per
worker process.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass, replace

from ..browser import IN_BROWSER, NO_PROCESSES, why
from ..concurrency import apps as work
from ..concurrency.models import EventLoop, Processes, Threads
from ..concurrency.simulate import simulate
from ..concurrency.timeline import Summary

# server -> (interfaces it serves, the module that must be importable, pip name)
SERVERS = {
    "gunicorn": (("wsgi",), "gunicorn", "gunicorn"),
    "uwsgi": (("wsgi",), "pyuwsgi", "pyuwsgi"),
    "uvicorn": (("asgi",), "uvicorn", "uvicorn"),
    "hypercorn": (("asgi",), "hypercorn", "hypercorn"),
    "granian": (("asgi", "wsgi"), "granian", "granian"),
}
GUNICORN_WORKERS = ("sync", "gthread", "gevent")

# Where each fact above comes from (the lesson cites these).
DOCS = {
    "gunicorn": "https://gunicorn.org/design (Worker Types: sync, gthread, gevent)",
    "uwsgi": "https://github.com/unbit/uwsgi README: \"The project is in maintenance mode "
             "(only bugfixes and updates for new languages apis)\"",
    "uvicorn": "https://www.uvicorn.org/deployment/ (--workers: several processes)",
    "hypercorn": "https://hypercorn.readthedocs.io/en/latest/discussion/http2.html (h2c)",
    "granian": "https://github.com/emmett-framework/granian README (Features: ASGI, RSGI, "
               "WSGI; HTTP/1 and HTTP/2)",
}
GEVENT_CONNECTIONS = 1000   # gunicorn's default worker_connections, said out loud
GRACE = 1                   # seconds a server may take to finish requests when stopped
LISTEN_BACKLOG = 1024       # so 1,000 idle clients can wait to be accepted
MANY = 4096                 # "no fixed limit", for a simulation of a few hundred clients


class NotInstalled(RuntimeError):
    """A server (or the load generator, or redis-server) is not installed here."""


def install_hint(server: str) -> str:
    if server == "uwsgi":
        return ("pip install pyuwsgi  (uWSGI prebuilt as a wheel; or `pip install uwsgi`, "
                "which compiles it and needs a C compiler and the Python headers). "
                "uWSGI runs on Linux and macOS, not Windows.")
    if server == "gunicorn":
        return ("pip install gunicorn gevent  (gunicorn runs on Linux and macOS; "
                "on Windows use WSL)")
    return f"pip install {SERVERS[server][2]}"


def installed(server: str) -> bool:
    """Whether `server` can be started here (its Python package is importable)."""
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")
    if IN_BROWSER:
        return False  # a real server is a process of its own (see require)
    if server == "uwsgi" and importlib.util.find_spec("pyuwsgi") is None:
        return _uwsgi_binary() is not None
    if server in ("gunicorn", "uwsgi") and os.name == "nt":
        return False
    return importlib.util.find_spec(SERVERS[server][1]) is not None


def _uwsgi_binary() -> str | None:
    """A `uwsgi` executable next to this Python, or on PATH (needs its python plugin)."""
    here = os.path.join(os.path.dirname(sys.executable), "uwsgi")
    return here if os.access(here, os.X_OK) else shutil.which("uwsgi")


def require(server: str, worker_class: str | None = None) -> None:
    """Raise NotInstalled with the command that installs what is missing."""
    if IN_BROWSER:
        raise NotInstalled(why(f"{server}", NO_PROCESSES))
    if not installed(server):
        raise NotInstalled(f"{server} is not installed here: {install_hint(server)}")
    if worker_class == "gevent" and importlib.util.find_spec("gevent") is None:
        raise NotInstalled("gunicorn's gevent workers need gevent: pip install gevent")


@dataclass(frozen=True)
class Setup:
    """One server and its worker settings.

    workers       processes (gunicorn -w, uwsgi --processes, uvicorn/hypercorn/granian
                  --workers)
    threads       threads per process (gunicorn gthread --threads, uwsgi --threads,
                  granian WSGI --blocking-threads); 1 elsewhere
    worker_class  gunicorn only: "sync", "gthread" or "gevent" (threads > 1 means
                  gthread, as gunicorn itself decides)
    interface     "wsgi" or "asgi"; only granian serves both (default: asgi)
    """

    server: str
    workers: int = 1
    threads: int = 1
    worker_class: str | None = None
    interface: str | None = None

    def __post_init__(self):
        if self.server not in SERVERS:
            raise ValueError(f"unknown server {self.server!r}; choose one of "
                             f"{', '.join(SERVERS)}")
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
                raise ValueError(f"{name} must be a whole number from 1 to 256, not {value!r}")
        if self.server == "gunicorn":
            kind = self.worker_class or ("gthread" if self.threads > 1 else "sync")
            if kind not in GUNICORN_WORKERS:
                raise ValueError(f"gunicorn worker_class must be one of "
                                 f"{', '.join(GUNICORN_WORKERS)}, not {kind!r}")
            if kind != "gthread" and self.threads > 1:
                raise ValueError(f"gunicorn's {kind} workers have no threads; "
                                 "use worker_class='gthread' with threads=N")
            object.__setattr__(self, "worker_class", kind)
        elif self.worker_class is not None:
            raise ValueError(f"worker_class is a gunicorn setting; {self.server} has none")
        if self.server in ("uvicorn", "hypercorn") and self.threads > 1:
            raise ValueError(f"{self.server} runs one event loop per worker: no threads=")
        interfaces = SERVERS[self.server][0]
        interface = self.interface or interfaces[0]
        if interface not in interfaces:
            raise ValueError(f"{self.server} serves {' and '.join(interfaces)} apps, "
                             f"not {interface}")
        object.__setattr__(self, "interface", interface)

    @property
    def label(self) -> str:
        """A short name for tables: 'gunicorn gthread 2x4', 'uvicorn 1'."""
        size = f"{self.workers}x{self.threads}" if self.threads > 1 else f"{self.workers}"
        kind = f" {self.worker_class}" if self.worker_class else ""
        face = " wsgi" if self.server == "granian" and self.interface == "wsgi" else ""
        return f"{self.server}{kind}{face} {size}"

    @property
    def holds_a_worker_per_request(self) -> bool:
        """True where each request in progress holds a thread or a process."""
        return self.interface == "wsgi" and self.worker_class != "gevent"

    @property
    def concurrency_limit(self) -> int | None:
        """Requests one setup serves at once, or None where an event loop (or greenlets,
        up to worker_connections each) has no small limit."""
        if self.worker_class == "gevent":
            return self.workers * GEVENT_CONNECTIONS
        if self.holds_a_worker_per_request:
            return self.workers * self.threads
        return None

    @property
    def limit_text(self) -> str:
        """The concurrency limit and where it comes from, in words."""
        if self.worker_class == "gevent":
            return (f"{self.concurrency_limit:,}: {self.workers} x {GEVENT_CONNECTIONS:,} "
                    "worker_connections")
        if self.holds_a_worker_per_request:
            what = "threads" if self.threads > 1 else "workers"
            return f"{self.concurrency_limit:,}: its {what}"
        return "no fixed number: an event loop per process"

    def model(self, cores: int | None = None):
        """The lab's nearest worker model, for `gl.simulate`."""
        cores = cores or os.cpu_count() or 1
        cpus = min(self.workers, cores)  # one GIL (or one loop) per process
        if self.concurrency_limit is None or self.worker_class == "gevent":
            # An event loop per process (greenlets switch where tasks await, so gevent's
            # workers are loops too): tasks without a fixed limit, one CPU per process.
            if self.workers == 1:
                return EventLoop()
            try:
                return EventLoop(processes=self.workers)  # the lab's N-loop model, if it has one
            except TypeError:  # else: more workers than any load test here has clients
                return Processes(MANY, cores=cpus)
        limit = self.concurrency_limit
        if self.workers == 1 and limit > 1:
            return Threads(limit)
        return Processes(limit, cores=cpus)


def command(setup: Setup, target: str, port: int, *, host: str = "127.0.0.1",
            http2: bool = False) -> list[str]:
    """The command line that starts `setup` serving `target` ("module:attr")."""
    py = [sys.executable, "-m"]
    s = setup
    if s.server == "gunicorn":
        cmd = [*py, "gunicorn", "--bind", f"{host}:{port}", "--workers", str(s.workers),
               "--worker-class", s.worker_class, "--graceful-timeout", str(GRACE),
               "--backlog", str(LISTEN_BACKLOG), "--log-level", "info"]
        if s.worker_class == "gthread":
            cmd += ["--threads", str(s.threads)]
        if s.worker_class == "gevent":
            cmd += ["--worker-connections", str(GEVENT_CONNECTIONS)]
        if _gunicorn_has_control_socket():
            # gunicorn 25+ opens a control socket in ~/.gunicorn by default: a lab server
            # leaves nothing behind in the learner's home folder.
            cmd += ["--no-control-socket"]
        return [*cmd, target]
    if s.server == "uwsgi":
        # --die-on-term: without it, uWSGI 2.0 treats SIGTERM as "reload", not "stop".
        # --http11-socket: the workers speak HTTP themselves (no separate router process),
        # with keep-alive; the plain --http-socket closes the connection after each response
        # without saying so (no "Connection: close"), which wrk counts as a read error.
        args = ["--http11-socket", f"{host}:{port}", "--module", target, "--master",
                "--processes", str(s.workers), "--threads", str(s.threads),
                "--die-on-term", "--need-app", "--disable-logging", "--enable-threads",
                "--listen", str(min(LISTEN_BACKLOG, _somaxconn())),
                "--worker-reload-mercy", str(GRACE)]
        if importlib.util.find_spec("pyuwsgi") is not None:
            return [sys.executable, "-c", "import sys, pyuwsgi; sys.exit(pyuwsgi.run())",
                    *args]
        return [_uwsgi_binary() or "uwsgi", "--plugin", "python3", *args]
    if s.server == "uvicorn":
        return [*py, "uvicorn", "--host", host, "--port", str(port), "--workers",
                str(s.workers), "--no-access-log", "--timeout-graceful-shutdown", str(GRACE),
                "--backlog", str(LISTEN_BACKLOG), target]
    if s.server == "hypercorn":
        return [*py, "hypercorn", "--bind", f"{host}:{port}", "--workers", str(s.workers),
                "--graceful-timeout", str(GRACE), "--backlog", str(LISTEN_BACKLOG),
                "--error-logfile", "-", target]
    # granian
    cmd = [*py, "granian", "--interface", s.interface, "--host", host, "--port", str(port),
           "--workers", str(s.workers), "--http", "2" if http2 else "auto", "--no-access-log",
           "--backlog", str(LISTEN_BACKLOG), "--workers-kill-timeout", str(GRACE)]
    if s.threads > 1:
        flag = "--blocking-threads" if s.interface == "wsgi" else "--runtime-threads"
        cmd += [flag, str(s.threads)]
    return [*cmd, target]


def _gunicorn_has_control_socket() -> bool:
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return False
    return any(getattr(setting, "cli", None) and "--no-control-socket" in setting.cli
               for setting in KNOWN_SETTINGS)


def _somaxconn() -> int:
    """The kernel's cap on a listen queue (uWSGI refuses a larger --listen)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 128


def predict(setup: Setup, workload: str, connections: int, requests: int) -> Summary:
    """What the simulator says the setup's worker model does with `connections` clients
    sending the workload's requests back to back (a closed loop, as wrk's)."""
    n = min(max(requests, 4 * connections, 20), 20_000)
    w = replace(work.workload(workload, n), clients=connections)
    return simulate(setup.model(), w).summary()
