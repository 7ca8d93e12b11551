"""A right solution of exercise 12_wsgi_to_asgi in another style.

Style: the WSGI app runs in loop.run_in_executor and hands each message to the coroutine
    through an asyncio.Queue (call_soon_threadsafe); the coroutine sends them and tells
    the thread, through a threading.Event, whether the client is still there.
"""

import asyncio
import io
import sys
import threading

DONE = object()


def make_environ(scope, body):
    root = scope.get("root_path", "")
    path = scope["path"]
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    host, port = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root.encode().decode("latin-1"),
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": host, "SERVER_PORT": str(port), "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    seen = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        seen.setdefault(key, []).append(value.decode("latin-1"))
    environ.update((key, ", ".join(values)) for key, values in seen.items())
    if body:
        environ.setdefault("CONTENT_LENGTH", str(len(body)))
    return environ


def run(wsgi_app, environ, put, gone):
    response = {}

    def start_response(status, headers, exc_info=None):
        if exc_info is not None:
            if response.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
        elif "status" in response:
            raise AssertionError("start_response called twice without exc_info")
        response["status"], response["headers"] = status, list(headers)
        return lambda data: emit(data)

    def emit(data):
        if gone.is_set():
            raise ConnectionResetError("the client has gone")
        if not response.get("sent"):
            response["sent"] = True
            put({"type": "http.response.start", "status": int(response["status"].split()[0]),
                 "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                             for k, v in response["headers"]]})
        put({"type": "http.response.body", "body": data, "more_body": True})

    result = wsgi_app(environ, start_response)
    try:
        for data in result:
            if data:
                emit(data)
        if not response.get("sent"):
            emit(b"")
        put({"type": "http.response.body", "body": b""})
    finally:
        if hasattr(result, "close"):
            result.close()


def wsgi_to_asgi(wsgi_app):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()
        gone = threading.Event()

        def put(message):
            loop.call_soon_threadsafe(queue.put_nowait, message)

        def work():
            try:
                run(wsgi_app, make_environ(scope, body), put, gone)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, DONE)

        worker = loop.run_in_executor(None, work)
        try:
            while (message := await queue.get()) is not DONE:
                if not gone.is_set():
                    try:
                        await send(message)
                    except OSError:
                        gone.set()
        finally:
            gone.set()
            await worker

    return app
