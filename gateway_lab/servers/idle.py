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

QUIET = 2.0          # seconds without a new stream served: the server takes no more
OPEN_TIMEOUT = 15.0  # seconds at most for all clients to be served
SETTLE = 0.3         # seconds to let the server's memory settle before reading it
ENOUGH_HELD = 50     # fewer held streams than this: too few to divide the memory by


@dataclass
class IdleCost:
    label: str
    clients: int
    held: int
    waiting: int
    refused: int
    rss_before: int
    rss_during: int
    seconds_to_open: float   # until the last stream was served

    @property
    def per_held(self) -> float:
        """Server memory per held connection, in bytes; NaN when fewer than ENOUGH_HELD
        were held (a page or two of noise divided by 2 is not a cost per connection)."""
        if self.held < ENOUGH_HELD:
            return math.nan
        return (self.rss_during - self.rss_before) / self.held

    def __str__(self) -> str:
        per = (f"{self.per_held / 1024:,.1f} KiB per held stream"
               if not math.isnan(self.per_held) else "too few held to say per stream")
        return (f"{self.label}: {self.held:,} of {self.clients:,} idle streams held "
                f"({self.waiting:,} waiting, {self.refused:,} refused); server RSS "
                f"{self.rss_before / 2**20:,.1f} -> {self.rss_during / 2**20:,.1f} MiB, "
                f"{per}")

    def to_dict(self) -> dict:
        return {**self.__dict__, "per_held": None if math.isnan(self.per_held)
                else self.per_held}


async def _client(host: str, port: int, path: str, writers: list, held: list) -> None:
    """One SSE client: connect, ask, read until the first event arrives; it then stays
    connected (its writer is in `writers`) until the measurement is over."""
    reader, writer = await asyncio.open_connection(host, port)
    writers.append(writer)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    seen = b""
    while b"data:" not in seen:
        chunk = await reader.read(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        seen += chunk
    held.append(writer)


def hold_idle(server, clients: int = 1000, *, hold: float = 30.0, quiet: float = QUIET,
              timeout: float = OPEN_TIMEOUT) -> IdleCost:
    """Open `clients` idle SSE streams on a started RealServer; measure, then close them.

    The clients connect all at once; the lab waits until every one is served, or until
    no new stream has been served for `quiet` seconds (a server whose workers are all
    held takes no more), or `timeout` seconds in all.  `hold` is how long each stream
    stays open on the server's side (it must outlast the measurement).
    """
    if isinstance(clients, bool) or not isinstance(clients, int) or not 1 <= clients <= 10_000:
        raise ValueError(f"clients must be a whole number from 1 to 10,000, not {clients!r}")
    raise_fd_limit(clients + 1024)
    before = server.rss()
    box: dict = {}

    async def main():
        path = f"/sse?hold={hold:g}"
        writers, held = [], []
        t0 = last = time.monotonic()
        tasks = [asyncio.create_task(_client(server.host, server.port, path, writers, held))
                 for _ in range(clients)]
        count = 0
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            if len(held) > count:
                count, last = len(held), now
            if all(t.done() for t in tasks) or now - last > quiet or now - t0 > timeout:
                break
        box["seconds"] = last - t0
        await asyncio.sleep(SETTLE)
        box["during"] = server.rss()   # every held stream is open and idle now
        failed = sum(1 for t in tasks if t.done() and t.exception() is not None)
        box["counts"] = {"held": len(held), "refused": failed,
                         "waiting": clients - len(held) - failed}
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
        await asyncio.sleep(0.1)  # let the closes reach the server

    def run():
        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=run, name="gateway-lab-idle-clients", daemon=True)
    thread.start()
    thread.join(timeout + SETTLE + 30)
    if "error" in box:
        raise box["error"]
    if "counts" not in box:
        raise RuntimeError("the idle clients did not finish in time")
    c = box["counts"]
    return IdleCost(server.label, clients, c["held"], c["waiting"], c["refused"], before,
                    box["during"], box["seconds"])
