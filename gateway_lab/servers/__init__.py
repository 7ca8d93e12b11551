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

from .broker import start_redis
from .catalog import SERVERS, NotInstalled, Setup, installed
from .chat_run import chat_run
from .idle import hold_idle
from .loadgen import LoadResult, loadtest
from .probe import http2_probe, websocket_probe
from .process import ServerError
from .server import AppRef, RealServer, available, start, write_app
from .showdown import DEFAULT_SETUPS, EVERY_SETUP, showdown

# The functions `showdown` and `chat_run` share their modules' names: importing them here
# makes the package attribute the function for good (a later `import ...showdown` does not
# rebind it).  Clients (websockets, httpx) are imported inside the functions that use them.

__all__ = ["DEFAULT_SETUPS", "EVERY_SETUP", "SERVERS", "AppRef", "LoadResult", "NotInstalled",
           "RealServer", "ServerError", "ServersExplorer", "Setup", "available", "chat_run",
           "hold_idle", "http2_probe", "installed", "loadtest", "showdown", "start",
           "start_redis", "websocket_probe", "write_app"]


def __getattr__(name: str):
    if name == "ServersExplorer":  # the widget needs ipywidgets: imported when asked for
        from .widget import ServersExplorer

        return ServersExplorer
    raise AttributeError(f"module 'gateway_lab.servers' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
