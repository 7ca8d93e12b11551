"""What an idle connection costs: a thread per connection versus a task per connection.

A WebSocket (or a long poll) sits idle most of its life.  A threaded server
parks one thread on it, blocked in a read; an event loop parks one task,
a suspended coroutine.  `idle_connection_cost(2000)` opens that many real
idle connections each way and measures what they hold:

* `heap`: Python objects allocated while they were open (tracemalloc): the
  frames, the queues, the Thread or Task objects;
* `rss`: how much more memory the process really uses (the OS's resident
  set): for threads this includes the touched pages of each thread's stack;
* `reserved` (threads only): address space set aside for each stack (8 MiB
  by default on Linux), which is why "10,000 threads" runs out first.

The connections are simulated in-process (a queue stands for the socket),
so the numbers show the cost of the *worker*, not of the kernel's socket.

`switch_cost()` measures what handing the CPU from one worker to another
costs (a thread hand-off, a task switch), and `process_memory()` what a
fresh worker process holds; `gl.Costs.measure()` feeds all three to the
simulator.
"""

from __future__ import annotations

import asyncio
import gc
import os
import queue
import subprocess
import sys
import threading
import time
import tracemalloc

from .models import RunError
from .timeline import Summary


def _rss() -> int | None:
    """Resident memory of this process in bytes, or None where it cannot be read."""
    try:
        import psutil  # present with Jupyter; the portable way
        return psutil.Process().memory_info().rss
    except ImportError:
        pass
    try:
        with open("/proc/self/statm") as f:  # Linux without psutil
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _default_stack() -> int | None:
    size = threading.stack_size()
    if size:
        return size
    if sys.platform.startswith("linux"):
        try:
            import resource

            soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
            return soft if soft > 0 else 8 * 2**20
        except (ImportError, ValueError):
            return 8 * 2**20
    return {"darwin": 512 * 2**10, "win32": 2**20}.get(sys.platform)


class Cost(Summary):
    """Bytes per idle connection: heap, rss (None if unknown), reserved (threads).
    Keys are also attributes, as in a run's Summary (`cost.rss`, `cost["heap"]`)."""

    def __str__(self) -> str:
        def kib(v):
            return "-" if v is None else f"{v / 1024:,.1f} KiB"

        text = (f"{self['how']:>7}: {self['n']:,} idle connections, per connection "
                f"{kib(self['heap'])} Python heap, {kib(self['rss'])} resident")
        if self.get("reserved"):
            text += f", {kib(self['reserved'])} stack reserved"
        return text


def _sync_handler(inbox: queue.SimpleQueue, ready: threading.Barrier) -> None:
    """A thread's WebSocket handler: wait for the next message, blocked in a read."""
    ready.wait()
    while inbox.get() is not None:
        pass


async def _async_handler(inbox: asyncio.Queue, ready: list) -> None:
    """The same handler as a task: `await` the next message, holding no thread."""
    ready.append(1)
    while await inbox.get() is not None:
        pass


def _measure(open_all, n: int, how: str) -> Cost:
    gc.collect()
    tracemalloc.start()
    try:
        heap0, rss0 = tracemalloc.get_traced_memory()[0], _rss()
        close = open_all(n)
        try:
            heap1, rss1 = tracemalloc.get_traced_memory()[0], _rss()
        finally:
            close()
    finally:
        tracemalloc.stop()
    rss = None if rss0 is None or rss1 is None else max(rss1 - rss0, 0) / n
    return Cost(how=how, n=n, heap=(heap1 - heap0) / n, rss=rss,
                reserved=_default_stack() if how == "threads" else None)


def _open_threads(n: int):
    ready = threading.Barrier(n + 1, timeout=60)
    inboxes, threads = [], []
    try:
        for k in range(n):
            inbox = queue.SimpleQueue()
            t = threading.Thread(target=_sync_handler, args=(inbox, ready), daemon=True,
                                 name=f"gateway-lab-idle-{k}")
            t.start()
            inboxes.append(inbox)
            threads.append(t)
    except RuntimeError as error:  # "can't start new thread": the point, made the hard way
        ready.abort()
        for inbox in inboxes:
            inbox.put(None)
        raise RunError(f"could not start thread {len(threads) + 1} of {n}: {error}") from None
    ready.wait()  # every handler is now blocked in its read

    def close():
        for inbox in inboxes:
            inbox.put(None)
        for t in threads:
            t.join(timeout=10)

    return close


def _open_tasks(n: int):
    """Run a loop on a thread of its own (this one may have a loop already, in Jupyter)."""
    opened, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    async def main():
        inboxes = [asyncio.Queue() for _ in range(n)]
        ready: list = []
        tasks = [asyncio.create_task(_async_handler(q, ready)) for q in inboxes]
        while len(ready) < n:
            await asyncio.sleep(0)
        opened.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        for q in inboxes:
            q.put_nowait(None)
        await asyncio.gather(*tasks)

    def loop_thread():
        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - reported to the caller
            errors.append(error)
            opened.set()

    thread = threading.Thread(target=loop_thread, name="gateway-lab-idle-loop", daemon=True)
    thread.start()
    opened.wait(timeout=60)
    if errors:
        raise errors[0]

    def close():
        release.set()
        thread.join(timeout=10)

    return close


def idle_connection_cost(n: int = 2000) -> dict[str, Cost]:
    """Open `n` idle connections as threads, then as tasks; the cost of one of each.

    >>> costs = idle_connection_cost(1000)
    >>> print(costs["threads"]); print(costs["tasks"])
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100_000:
        raise ValueError(f"n must be a whole number of connections from 1 to 100,000, not {n!r}")
    return {"threads": _measure(_open_threads, n, "threads"),
            "tasks": _measure(_open_tasks, n, "tasks")}


# -- what a switch costs --------------------------------------------------------------
# Two workers hand one message back and forth; each hand-over is one switch: the
# OS wakes the other thread and it takes the GIL, or the loop resumes the other
# task.  The fastest of a few rounds is kept: a busy machine only ever adds time.

def _thread_handoff(n: int) -> float:
    there, back = queue.SimpleQueue(), queue.SimpleQueue()

    def other():
        for _ in range(n):
            there.get()
            back.put(None)

    thread = threading.Thread(target=other, name="gateway-lab-switch", daemon=True)
    thread.start()
    start = time.perf_counter()
    for _ in range(n):
        there.put(None)
        back.get()
    took = time.perf_counter() - start
    thread.join(timeout=10)
    return took / (2 * n)


async def _task_handoff(n: int) -> float:
    loop = asyncio.get_running_loop()
    box: list = [None]

    async def other():
        for _ in range(n):
            box[0] = loop.create_future()
            await box[0]

    task = asyncio.create_task(other())
    await asyncio.sleep(0)
    start = time.perf_counter()
    for _ in range(n):
        box[0].set_result(None)   # wakes the other task...
        await asyncio.sleep(0)    # ... which runs, and waits again: two switches
    took = time.perf_counter() - start
    await asyncio.wait_for(task, 10)
    return took / (2 * n)


def _in_own_thread(coro_fn, *args):
    """asyncio.run on a thread of its own: this thread may run a loop already (Jupyter)."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(coro_fn(*args))),
                              name="gateway-lab-switch-loop", daemon=True)
    thread.start()
    thread.join(timeout=60)
    if not out:
        raise RunError("measuring a task switch did not finish")
    return out[0]


def switch_cost(n: int = 5000, rounds: int = 3) -> dict[str, float]:
    """CPU seconds one switch costs: between two threads (the OS wakes one and it takes
    the GIL) and between two tasks of one event loop.  The fastest of `rounds` rounds."""
    if isinstance(n, bool) or not isinstance(n, int) or not 100 <= n <= 1_000_000:
        raise ValueError(f"n must be a whole number from 100 to 1,000,000, not {n!r}")
    threads = min(_thread_handoff(n) for _ in range(rounds))
    tasks = min(_in_own_thread(_task_handoff, n) for _ in range(rounds))
    return {"threads": threads, "tasks": tasks}


def process_memory() -> int | None:
    """Resident bytes of a fresh Python process that has imported the lab (a worker
    process before it serves anything), or None where it cannot be read."""
    code = "from gateway_lab.concurrency.memory import _rss; print(_rss())"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60)
        return int(done.stdout.strip())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
