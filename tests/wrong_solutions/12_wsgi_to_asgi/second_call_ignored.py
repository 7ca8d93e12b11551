"""A wrong solution of exercise 12_wsgi_to_asgi: a second start_response accepted.

Mistake: lets a second start_response without exc_info replace the first: PEP 3333 calls that a
    fatal error, and a WSGI server answers 500; the adapter sends the second status as if all
    were well.
Fails: calls start_response twice without exc_info
Says: expected status 500, got 404
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


def run_wsgi_app(wsgi_app, environ, send, loop) -> None:
    """Run the WSGI app to the end, in a worker thread, sending as it goes; always close().

    `send` is the ASGI send; each message is sent on the event loop and this thread
    waits until it is done, so a slow client slows the app down and an error in send()
    (the client left: an OSError) stops the iteration here.
    """
    state = {"status": None, "headers": None, "started": False}

    def send_now(message):
        asyncio.run_coroutine_threadsafe(send(message), loop).result()

    def start_response(status, headers, exc_info=None):
        if exc_info:
            try:
                if state["started"]:  # too late for another status: re-raise (PEP 3333)
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        state["status"], state["headers"] = status, headers
        return write

    def start_if_needed():
        if not state["started"]:
            state["started"] = True
            send_now({"type": "http.response.start", "status": int(state["status"][:3]),
                      "headers": [(n.lower().encode("latin-1"), v.encode("latin-1"))
                                  for n, v in state["headers"]]})

    def write(chunk):  # the legacy write() callable
        start_if_needed()
        send_now({"type": "http.response.body", "body": chunk, "more_body": True})

    result = wsgi_app(environ, start_response)
    try:
        for chunk in result:
            if chunk:  # headers go out with the first non-empty chunk (PEP 3333)
                write(chunk)
        start_if_needed()
        send_now({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        # PEP 3333 §Specification Details: close() whatever happened.
        close = getattr(result, "close", None)
        if close is not None:
            close()


def wsgi_to_asgi(wsgi_app):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        environ = build_environ(scope, body)
        # A WSGI app blocks: it runs in a thread so the event loop stays free
        # (ASGI HTTP spec §WSGI Compatibility: "must be run in a threadpool").
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(run_wsgi_app, wsgi_app, environ, send, loop)

    return app
