"""A wrong solution of exercise 12_wsgi_to_asgi: the body iterated on the event loop.

Mistake: calls the WSGI app in a thread but loops over its body in the coroutine: each next()
    runs the app's code (a template, a query) on the event loop thread, which blocks every other
    request (ASGI HTTP spec §WSGI Compatibility: 'must be run in a threadpool').
Fails: a WSGI body whose iteration works for 0.15 s
Says: asgi.loop.blocked
"""

import asyncio
import io
import sys


def build_environ(scope, body: bytes) -> dict:
    """A PEP 3333 environ from an ASGI http scope and the whole body."""
    server = scope.get("server") or ("localhost", 80)
    # ASGI paths are decoded str; WSGI wants them as latin-1 "native strings".
    script_name = scope.get("root_path", "").encode("utf-8").decode("latin-1")
    path_info = scope["path"].encode("utf-8").decode("latin-1")
    # ASGI HTTP spec §WSGI Compatibility: SCRIPT_NAME is root_path, and PATH_INFO is
    # path with root_path stripped (path holds the whole path).
    if script_name and (path_info == script_name or path_info.startswith(script_name + "/")):
        path_info = path_info[len(script_name):]
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = scope["client"][0], str(
            scope["client"][1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[name] = value
            continue
        key = "HTTP_" + name
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    if body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


async def read_body(receive) -> bytes | None:
    """The whole request body; None if the client left first."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))  # both keys are optional
        if not message.get("more_body", False):
            return b"".join(parts)



def wsgi_to_asgi(wsgi_app):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        environ = build_environ(scope, body)
        state = {}

        def start_response(status, headers, exc_info=None):
            state["status"], state["headers"] = status, headers
            return lambda data: None

        # the call blocks: in a thread; the chunks then come quickly
        result = await asyncio.to_thread(wsgi_app, environ, start_response)
        started = False
        try:
            for chunk in result:
                if not chunk:
                    continue
                if not started:
                    started = True
                    await send({"type": "http.response.start",
                                "status": int(state["status"][:3]),
                                "headers": [(n.lower().encode("latin-1"), v.encode("latin-1"))
                                            for n, v in state["headers"]]})
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not started:
                await send({"type": "http.response.start",
                            "status": int(state["status"][:3]),
                            "headers": [(n.lower().encode("latin-1"), v.encode("latin-1"))
                                        for n, v in state["headers"]]})
            await send({"type": "http.response.body", "body": b""})
        finally:
            if hasattr(result, "close"):
                result.close()

    return app
