"""A real message broker for the chat: Redis, started by the lab on a free port.

    with start_redis() as redis:
        redis.url      # 'redis://127.0.0.1:41234/0'

Redis pub/sub (redis.io/docs: "Redis Pub/Sub"): a client SUBSCRIBEs to a
channel; a PUBLISH to that channel is delivered to every subscriber, whatever
process or machine it is in.  That is what lets a chat outgrow one process.

The server is Debian's `redis-server`, run in a process group of its own like
the web servers (gateway_lab.servers.process), with persistence off (`--save
""`, no append-only file) and bound to 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time

from ..browser import IN_BROWSER, NO_PROCESSES, why
from .catalog import NotInstalled
from .process import ProcessGroup, ServerError, free_port


class RedisServer:
    def __init__(self, group: ProcessGroup, host: str, port: int):
        self.group, self.host, self.port = group, host, port

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def stop(self) -> list[int]:
        return self.group.stop()

    def log(self, tail: int | None = None) -> str:
        return self.group.log(tail)

    def __enter__(self) -> RedisServer:  # noqa: PYI034 (typing.Self is 3.11+)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RedisServer {self.url} ({'running' if self.group.running else 'stopped'})>"


def redis_path() -> str:
    if IN_BROWSER:
        raise NotInstalled(why("redis-server", NO_PROCESSES))
    path = shutil.which("redis-server")
    if path is None:
        raise NotInstalled("redis-server is not installed here: `apt install redis-server` "
                           "(Debian, Ubuntu), `brew install redis` (macOS)")
    return path


def _pong(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(*, host: str = "127.0.0.1", timeout: float = 10.0) -> RedisServer:
    """Start redis-server on a free port; returns when it answers PING."""
    port = free_port(host)
    cmd = [redis_path(), "--port", str(port), "--bind", host, "--save", "",
           "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"]
    # Its working folder is a temporary one: nothing it might write lands in yours.
    group = ProcessGroup("redis-server", cmd, cwd=tempfile.gettempdir())
    deadline = time.monotonic() + timeout
    while not _pong(host, port):
        if group.proc.poll() is not None or time.monotonic() > deadline:
            group.stop(timeout=2.0)
            raise ServerError(f"redis-server did not start; its log ends:\n"
                              f"{group.log(tail=15)}")
        time.sleep(0.05)
    return RedisServer(group, host, port)
