"""Many idle long-lived connections against a real server, and what they cost it.

    cost = hold_idle(srv, 1000)
    cost.held        # how many got their stream (the first event) in time
    cost.per_held    # bytes of server memory (RSS, all its processes) per held stream

Each client opens a TCP connection, asks for `/sse` (server-sent events,
`gateway_lab.servers.apps`) and reads until the first event arrives; from
then on the response is open and idle, as a chat client's is.  A server that
holds one worker per stream (a sync or threaded WSGI worker) serves only as
many as it has workers: the other clients wait in the listen queue, accepted
by the kernel but never answered, and are counted as *waiting*.

Memory is the servers' resident set (RSS, from /proc), summed over every
process of the server, read once before the clients connect and once while
they are all open; the difference divided by the number held is the cost of
one held connection (its worker's stack or its task, the app's generator or
coroutine, the server's buffers).  The clients run in this process, on an
event loop of their own in a helper thread, so a notebook's loop is never
blocked.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass

from .process import raise_fd_limit

OPEN_TIMEOUT = 3.0   # seconds a client waits for its first event
SETTLE = 0.3         # seconds to let the server's memory settle before reading it


@dataclass
class IdleCost:
    label: str
    clients: int
    held: int
    waiting: int
    refused: int
    rss_before: int
    rss_during: int
    seconds_to_open: float

    @property
    def per_held(self) -> float:
        """Server memory per held connection, in bytes (NaN if none were held)."""
        return (self.rss_during - self.rss_before) / self.held if self.held else math.nan

    def __str__(self) -> str:
        per = "-" if math.isnan(self.per_held) else f"{self.per_held / 1024:,.1f} KiB"
        return (f"{self.label}: {self.held:,} of {self.clients:,} idle streams held "
                f"({self.waiting:,} waiting, {self.refused:,} refused); server RSS "
                f"{self.rss_before / 2**20:,.1f} -> {self.rss_during / 2**20:,.1f} MiB, "
                f"{per} per held stream")

    def to_dict(self) -> dict:
        return {**self.__dict__, "per_held": None if math.isnan(self.per_held)
                else self.per_held}


async def _client(host: str, port: int, path: str, opened: asyncio.Event, timeout: float):
    """One SSE client: connect, ask, wait for the first event; then stay until told."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return "refused", None
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    try:
        await writer.drain()

        async def first_event():
            seen = b""
            while b"data:" not in seen:
                chunk = await reader.read(4096)
                if not chunk:
                    raise ConnectionError("closed")
                seen += chunk
            return seen

        await asyncio.wait_for(first_event(), timeout)
        return "held", writer
    except asyncio.TimeoutError:
        return "waiting", writer
    except OSError:
        writer.close()
        return "refused", None


def hold_idle(server, clients: int = 1000, *, hold: float = 30.0,
              timeout: float = OPEN_TIMEOUT) -> IdleCost:
    """Open `clients` idle SSE streams on a started RealServer; measure, then close them."""
    if isinstance(clients, bool) or not isinstance(clients, int) or not 1 <= clients <= 10_000:
        raise ValueError(f"clients must be a whole number from 1 to 10,000, not {clients!r}")
    raise_fd_limit(clients + 1024)
    before = server.rss()
    box: dict = {}

    async def main():
        opened = asyncio.Event()
        path = f"/sse?hold={hold:g}"
        t0 = time.monotonic()
        results = await asyncio.gather(*(_client(server.host, server.port, path, opened,
                                                 timeout) for _ in range(clients)))
        box["seconds"] = time.monotonic() - t0
        await asyncio.sleep(SETTLE)
        box["during"] = server.rss()   # every held stream is open and idle now
        box["counts"] = {k: sum(1 for r, _ in results if r == k)
                         for k in ("held", "waiting", "refused")}
        for _, writer in results:
            if writer is not None:
                writer.close()
        await asyncio.sleep(0.1)  # let the closes reach the server

    def run():
        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=run, name="gateway-lab-idle-clients", daemon=True)
    thread.start()
    thread.join(timeout + SETTLE + 60)
    if "error" in box:
        raise box["error"]
    if "counts" not in box:
        raise RuntimeError("the idle clients did not finish in time")
    c = box["counts"]
    return IdleCost(server.label, clients, c["held"], c["waiting"], c["refused"], before,
                    box["during"], box["seconds"])
