"""A worker's side (see the package docstring): get the app, say "ready", serve
what the server sends until it says "stop" or goes away."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import threading
import time

from ..listening import IN_WORKER, clip_trace
from .channel import Channel


def load(ref: str):
    """The object 'module:attr' names (importing the module)."""
    import importlib

    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def child_by_name() -> None:
    """Entry point of a worker started by name (see _BOOT)."""
    # The pipes to the server are stdin and stdout: keep private copies, and point
    # fds 0 and 1 elsewhere, so an app that reads stdin or prints cannot garble them.
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)  # what the app prints goes to the server's stderr
    channel = Channel(reader, writer)
    _, ref, interface, timeout, keep_body = channel.recv()
    try:
        app = load(ref)
    except BaseException as error:  # noqa: BLE001 - reported to the server, which says why
        channel.send(("unimportable", f"the worker process could not import {ref}: "
                                f"{type(error).__name__}: {error}"))
        return
    _serve(app, interface, channel, timeout, keep_body)


def child_forked(app, interface, timeout, keep_body, reader_fd, writer_fd, parent_ends):
    """Entry point of a forked worker: it has the app already.  `parent_ends` are the
    server's ends of this worker's pipes and of every other worker's."""
    _release(parent_ends, keep={reader_fd, writer_fd})
    os.environ[IN_WORKER] = "1"
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own process group: killing it kills what the app starts
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    # A notebook's sys.stdout sends to the kernel through threads this copy does not
    # have: print to the process's own stdout and stderr instead.
    for name in ("stdout", "stderr"):
        original = getattr(sys, f"__{name}__", None)
        if original is not None:
            setattr(sys, name, original)
    channel = Channel(os.fdopen(reader_fd, "rb"), os.fdopen(writer_fd, "wb"))
    _serve(app, interface, channel, timeout, keep_body)


def _release(pipes, keep: set[int]) -> None:
    """Let go of what the server holds: `pipes` (its ends of the workers' pipes, so that
    each pipe has one process at either end and its end of file means "gone"), and
    every socket, the listening one and the client connections (a connection must
    close when the server closes it, not when this worker exits).  Each fd is pointed
    at /dev/null rather than closed: an object of the server that later closes its fd
    then closes the /dev/null copy, not a number reused for something else."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    pipes = set(pipes)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            if fd <= 2 or fd in keep or fd == devnull:
                continue
            try:
                if fd in pipes or stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
            except OSError:
                continue
    finally:
        os.close(devnull)


def _watch_parent() -> None:
    """Exit when the server process is gone (it was killed and could not stop us)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    thread = threading.Thread(target=watch, name="gateway-lab-parent-watch", daemon=True)
    thread.lab_idle = True
    thread.start()


def _serve(app, interface: str, channel: Channel, timeout: float, keep_body: int) -> None:
    _watch_parent()
    if interface == "wsgi":
        _serve_wsgi(app, channel, timeout, keep_body)
    else:
        from .asgi import AsgiWorker  # asyncio only where it is needed

        AsgiWorker(app, channel, timeout, keep_body).serve()


def _serve_wsgi(app, channel: Channel, timeout: float, keep_body: int) -> None:
    """gunicorn's sync worker: one request at a time, on the main thread."""
    from ..wsgi import run_wsgi

    channel.send(("ready", os.getpid()))
    while True:
        try:
            message = channel.recv()
        except EOFError:
            return
        if message[0] != "http":
            return  # "stop"
        _, job_id, request, options = message
        # isolate=False: this worker is already what the server kills at the deadline.
        ex = run_wsgi(app, request, timeout=timeout, isolate=False, **options)
        channel.send(("done", job_id, ex.response, clip_trace(ex.trace, keep_body)))
