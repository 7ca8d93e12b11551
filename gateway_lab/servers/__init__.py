"""Real servers under real load: the WSGI-vs-ASGI claims, measured on this machine.

    import gateway_lab as gl

    with gl.servers.start("gunicorn", workers=2, threads=4) as srv:   # gthread workers
        result = gl.servers.loadtest(srv.url + "?io=0.05", connections=16, duration=2)
    result.summary()                       # throughput, p50/p95/p99, failed

    run = gl.servers.showdown()            # workloads x servers x concurrency, idle streams
    run.curves(); run.verdicts()

    chat = gl.servers.chat_run(workers=2)                  # two uvicorn workers: lost
    chat = gl.servers.chat_run(workers=2, broker="redis")  # with Redis pub/sub: delivered
    chat.trace()

Modules, in reading order: catalog (the servers, their command lines and
docs), process (a server as a child process group: start, measure, stop),
server (`start`, and how an app is named so another process can import it),
apps (the app every server runs), loadgen (wrk), idle (idle long-lived
connections and their memory), probe (a WebSocket handshake), showdown (all
of it, with predictions and verdicts), chart (the curves), chat, broker and
chat_run (the chat that outgrows one process), widget (pick and run), cli
(`gateway-lab loadtest`).

Needs the `servers` extra (`pip install "gateway-lab[servers]"`) and, from
the OS, wrk and redis-server; whatever is missing is named, with how to
install it, when it is asked for.
"""

from .catalog import SERVERS, NotInstalled, Setup, installed
from .loadgen import LoadResult, loadtest
from .process import ServerError
from .server import AppRef, RealServer, available, start, write_app

__all__ = ["SERVERS", "AppRef", "LoadResult", "NotInstalled", "RealServer", "ServerError",
           "Setup", "ServersExplorer", "available", "chat_run", "hold_idle", "installed",
           "loadtest", "showdown", "start", "start_redis", "websocket_probe", "write_app"]

# name -> module, imported on first use (the chat needs websockets, the widget ipywidgets)
_LAZY = {"showdown": "showdown", "hold_idle": "idle", "websocket_probe": "probe",
         "chat_run": "chat_run", "start_redis": "broker", "ServersExplorer": "widget"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway_lab.servers' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
