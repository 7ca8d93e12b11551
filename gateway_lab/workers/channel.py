"""The pipe between a server and a worker: pickled messages, an 8-byte length first.

server -> worker: ("init", ref, interface, timeout, keep_body) (a worker started by
name), ("http", job_id, request, options), ("ws", relay_id, scope), ("ws_in",
relay_id, message), ("ws_ack", relay_id, error or None), ("stop",).
worker -> server: ("ready", pid), ("failed", why), ("unimportable", why),
("done", job_id, response,
trace), ("ws_out", relay_id, message), ("ws_end", relay_id, trace), ("beat",).
"""

from __future__ import annotations

import contextlib
import pickle
import threading

from ..trace import Trace

BEAT = 0.2  # s between an ASGI worker's heartbeats (the server kills a worker that stops)


class Channel:
    """Pickled messages over a pair of pipes: an 8-byte length, then the pickle."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.lock = threading.Lock()

    def send(self, message) -> None:
        data = _pickled(message)
        with self.lock:
            self.writer.write(len(data).to_bytes(8, "big") + data)
            self.writer.flush()

    def recv(self):
        """The next message; EOFError when the other side has gone."""
        head = self.reader.read(8)
        if len(head) < 8:
            raise EOFError
        size = int.from_bytes(head, "big")
        data = self.reader.read(size)
        if len(data) < size:
            raise EOFError
        return pickle.loads(data)

    def fds(self) -> list[int]:
        """The file descriptors of its pipes (a forked worker closes other workers')."""
        fds = []
        for stream in (self.reader, self.writer):
            with contextlib.suppress(OSError, ValueError):
                fds.append(stream.fileno())
        return fds

    def close(self) -> None:
        for stream in (self.writer, self.reader):
            with contextlib.suppress(OSError):
                stream.close()


def _pickled(message) -> bytes:
    try:
        return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - something an app put in a trace; show its repr instead
        for item in message:
            if isinstance(item, Trace):
                _portable(item)
        return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)


def _portable(trace: Trace) -> None:
    """Make every event's data picklable: what cannot be pickled (a generator the app
    returned, the endpoint a framework put in the scope) is replaced by its repr, item
    by item in a dict or a list, so the worker's trace can reach the server."""
    for event in trace.events:
        data = _picklable(event.data)
        if data is not event.data:
            event.data = data


def _picklable(value, depth: int = 0):
    try:
        pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        return value
    except Exception:  # noqa: BLE001 - anything an app put there
        pass
    if depth < 3 and type(value) is dict:
        return {k: _picklable(v, depth + 1) for k, v in value.items()}
    if depth < 3 and type(value) in (list, tuple):
        return type(value)(_picklable(v, depth + 1) for v in value)
    try:
        return repr(value)[:200]
    except Exception:  # noqa: BLE001 - a repr that raises
        return f"<{type(value).__name__}>"


def resolve_future(future, value) -> None:
    """Set an asyncio future's result unless it is done (cancelled) already."""
    if not future.done():
        future.set_result(value)


def lab_thread(target, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.lab_idle = True  # runs no learner code (sandbox.lab_threads leaves it out)
    thread.start()
    return thread
