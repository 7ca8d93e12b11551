"""Apps the server tests serve from worker processes.

They live in a module of their own, importable by name (`served_apps:app`), as
`gateway-lab serve served_apps:app` would load them: a worker imports this
module, which imports nothing heavy, so it starts quickly (a test module
imports pytest, hypothesis, starlette: a second or more per worker).  In
`app` and `asgi_app` each path is one way an app can misbehave.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/spin":  # the lab's own deadline stops it inside the worker
        while True:
            pass
    if path == "/swallow":  # catches the lab's stop each time it comes
        while True:
            try:
                while True:
                    pass
            except BaseException:  # noqa: BLE001, S110 - the point of the test
                pass
    if path == "/deaf":  # ignores SIGALRM, then spins: only a kill stops it
        if hasattr(signal, "SIGALRM"):
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass
    if path == "/in_c":  # a loop inside one C call: no signal handler runs, only a kill
        sum(itertools.repeat(1))
    if path == "/exit":  # the worker process dies under the request
        os._exit(3)
    if path == "/sleep":
        time.sleep(float(environ.get("QUERY_STRING") or "0.2"))
    if path == "/huge":  # 11 MiB, past the server's max_body of 10 MiB
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * (1 << 20) for _ in range(11))
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{path} pid={os.getpid()} body={len(body)}".encode()]


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["started_by"] = os.getpid()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "spin":  # blocks the worker's loop
                while True:
                    pass
            await send({"type": "websocket.send", "text": message.get("text", "").upper()})
    path = scope["path"]
    if path == "/spin":  # blocks the worker's event loop for good
        while True:
            pass
    if path == "/stop":  # stops the loop it runs on (a server's loop, not its own)
        asyncio.get_running_loop().stop()
    if path == "/cancel":  # cancels its own task
        asyncio.current_task().cancel()
        await asyncio.sleep(0)
    if path == "/interrupt":
        raise KeyboardInterrupt
    if path == "/nap":  # awaits past the timeout: the worker stops it itself
        await asyncio.sleep(60)
    if path == "/huge":  # streams 12 MiB, past the server's max_body of 10 MiB
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        for _ in range(12):
            await send({"type": "http.response.body", "body": b"x" * (1 << 20),
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    state = scope.get("state", {})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body",
                "body": f"{path} pid={os.getpid()} body={len(body)} "
                        f"started_by={state.get('started_by')}".encode()})


# -- the apps of test_serve, test_wire and test_nginx -----------------------------------

def wsgi_app(environ, start_response):
    if environ["PATH_INFO"] == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"nothing here\n"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Method",
                                                                environ["REQUEST_METHOD"])])
    return [f"{environ['PATH_INFO']}?{environ['QUERY_STRING']} ".encode(), body]


def rude_app(environ, start_response):
    start_response("200 OK", [])  # no Content-Type: the engine records a finding
    return [b"x"]


def streaming_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return (f"chunk {i}\n".encode() for i in range(3))


def wire_app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        for _ in range(200):  # short sleeps: the timeout can stop it between two
            time.sleep(0.05)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Path", environ["PATH_INFO"])])
    return [environ["REQUEST_METHOD"].encode(), b" ", environ["QUERY_STRING"].encode(), b" ",
            body]


def nginx_app(environ, start_response):
    """Echoes what it was given, so any difference on the way shows up in the body."""
    path = environ["PATH_INFO"]
    if path.endswith("/missing"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such page: " + path.encode("latin-1") + b"\n"]
    if path.endswith("/big"):  # more than one FastCGI STDOUT record (65535 bytes each)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [bytes(range(256)) * 800]
    if path.endswith("/count"):  # reads the body, answers its size: a small reply
        size = len(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{size} bytes, SCRIPT_NAME={environ.get('SCRIPT_NAME')!r}".encode()]
    if path.endswith("/stream"):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Streamed", "yes")])
        return (f"part {i}\n".encode() for i in range(5))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.errors"].write(f"lab app saw {environ['REQUEST_METHOD']} {path}\n")
    lines = [f"method={environ['REQUEST_METHOD']}", f"path={path}",
             f"query={environ['QUERY_STRING']}",
             f"type={environ.get('CONTENT_TYPE', '')}",
             f"x-lab={environ.get('HTTP_X_LAB', '')}", f"body={body.decode('latin-1')}"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("X-Lab-Echo", "1"), ("Set-Cookie", "a=1"),
                              ("Set-Cookie", "b=2")])
    return ["\n".join(lines).encode("utf-8") + b"\n"]
