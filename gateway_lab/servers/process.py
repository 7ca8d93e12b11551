"""A server as a real child process group: started, watched, measured, stopped.

A real server is not one process: gunicorn, uWSGI and `uvicorn --workers N`
run a *master* (arbiter, supervisor) that starts worker processes.  The lab
starts the master in a process group of its own (POSIX `setsid`, as a shell
does for a job), so it can see every process the server made and stop all of
them, even a worker its master lost track of:

1. `start`: run the command with its output captured to a log file, then wait
   until the port answers an HTTP request (or the process exits, which is an
   error that quotes the log);
2. `pids()` / `rss()`: the processes of the group and their resident memory,
   read from Linux's /proc (psutil elsewhere, if installed);
3. `stop()`: SIGTERM to the master (each server's own graceful shutdown), then
   after a grace period SIGKILL to the whole group; `stop()` returns only when
   no process of the group is left running (zombies reaped by init do not run).

A port is chosen free by binding port 0 and closing it; if another program
takes it in between, the start is retried on a new port.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..leftovers import _exists as _alive  # is a process (or group leader) still there

POSIX = os.name == "posix"
START_TIMEOUT = 30.0    # seconds a server may take to answer its first request
STOP_TIMEOUT = 5.0      # seconds between SIGTERM and SIGKILL
LOG_LIMIT = 1_000_000   # bytes of log kept in memory after stop


class ServerError(RuntimeError):
    """A server could not start, or did not stop."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def raise_fd_limit(wanted: int = 8192) -> int:
    """Raise this process's open-file limit towards `wanted` (children inherit it):
    1,000 idle connections need 1,000 sockets on each side.  Returns the new limit."""
    try:
        import resource
    except ImportError:  # Windows has no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


# -- reading the process table ------------------------------------------------------

def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a Linux process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[2])


def group_pids(pgid: int, *, running_only: bool = True) -> list[int]:
    """Processes whose process group is `pgid` (zombies left out when running_only)."""
    if os.path.isdir("/proc/self"):
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                stat = _proc_stat(int(name))
                if stat and stat[2] == pgid and not (running_only and stat[0] in "ZX"):
                    out.append(int(name))
        return sorted(out)
    try:  # macOS, Windows: psutil, when installed (it comes with Jupyter)
        import psutil
    except ImportError:
        return [pgid] if _alive(pgid) else []
    try:
        leader = psutil.Process(pgid)
        family = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []
    out = []
    for p in family:
        try:
            if not (running_only and p.status() == psutil.STATUS_ZOMBIE):
                out.append(p.pid)
        except psutil.Error:
            continue
    return sorted(out)


def rss_of(pids) -> int:
    """Resident memory of these processes, in bytes, summed (pages shared by forked
    workers count once per process, as `ps` shows them)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
            continue
        except (OSError, ValueError, IndexError):
            pass
        try:
            import psutil

            total += psutil.Process(pid).memory_info().rss
        except Exception:  # noqa: BLE001 - a process that just ended counts 0
            pass
    return total


# -- a process group ---------------------------------------------------------------

class ProcessGroup:
    """A command running as the leader of a new process group, its output in a log."""

    def __init__(self, name: str, cmd: list[str], *, env: dict | None = None,
                 cwd: str | None = None):
        self.name = name
        self.cmd = list(cmd)
        self._dir = tempfile.mkdtemp(prefix="gateway-lab-server-")
        self.log_path = Path(self._dir) / f"{name.replace(' ', '_')}.log"
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        flags = {"start_new_session": True} if POSIX else {
            "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=self._log_file, stderr=subprocess.STDOUT,
                                         env=env, cwd=cwd, **flags)
        except OSError as error:
            self._log_file.close()
            raise ServerError(f"cannot run {self.cmd[0]}: {error}") from None
        self.pid = self.proc.pid  # also the group id (setsid made it a group leader)
        self._log_text: str | None = None
        self.stopped = False
        self.leftovers: list[int] = []

    @property
    def running(self) -> bool:
        return not self.stopped and self.proc.poll() is None

    def pids(self) -> list[int]:
        """Every running process of the server: the master and its workers."""
        if self.stopped:
            return []
        return group_pids(self.pid)

    def rss(self) -> int:
        """Resident memory of all the server's processes, in bytes."""
        return rss_of(self.pids())

    def log(self, tail: int | None = None) -> str:
        """What the server wrote to stdout and stderr (the last `tail` lines)."""
        if self._log_text is not None:
            text = self._log_text
        else:
            try:
                text = self.log_path.read_bytes()[-LOG_LIMIT:].decode("utf-8", "replace")
            except OSError:
                text = ""
        return text if tail is None else "\n".join(text.splitlines()[-tail:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[int]:
        """SIGTERM to the leader, SIGKILL to the group after `timeout` s; returns the
        processes still running afterwards (none, unless something is badly wrong)."""
        if self.stopped:
            return self.leftovers
        if self.proc.poll() is None:
            self._signal_leader()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + timeout
        while group_pids(self.pid) and time.monotonic() < deadline:
            self._kill_group()
            time.sleep(0.05)
        self.leftovers = group_pids(self.pid)
        self.stopped = True
        self._log_file.close()
        self._log_text = self.log()
        try:
            self.log_path.unlink()
            os.rmdir(self._dir)
        except OSError:
            pass
        return self.leftovers

    def _signal_leader(self) -> None:
        try:
            if POSIX:
                os.kill(self.pid, signal.SIGTERM)
            else:
                self.proc.send_signal(signal.CTRL_BREAK_EVENT)
        except (ProcessLookupError, OSError):
            pass

    def _kill_group(self) -> None:
        if POSIX:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return
        try:  # Windows: the tree, through psutil when it is there
            import psutil

            for child in psutil.Process(self.pid).children(recursive=True):
                child.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.proc.kill()

    def __del__(self):
        # A server forgotten in a notebook must not outlive the kernel's interest in it.
        if getattr(self, "stopped", True) is False and sys is not None:
            try:
                self.stop(timeout=1.0)
            except Exception:  # noqa: BLE001 - interpreter shutting down
                pass


def wait_http(group: ProcessGroup, host: str, port: int, timeout: float = START_TIMEOUT,
              path: str = "/") -> float:
    """Wait until `GET path` on host:port gets any HTTP answer; the seconds it took.
    Raises ServerError with the log's tail if the process exits or time runs out."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        if group.proc.poll() is not None:
            raise ServerError(f"{group.name} exited with status {group.proc.returncode} "
                              f"before answering; its log ends:\n{group.log(tail=25)}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2.0)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
                return time.monotonic() - t0
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise ServerError(f"{group.name} did not answer on {host}:{port} within "
                              f"{timeout:g} s; its log ends:\n{group.log(tail=25)}")
        time.sleep(0.05)
