"""Exercise 12, a reference solution: a WSGI-to-ASGI adapter that calls close()."""

import asyncio
import io
import sys


def build_environ(scope, body: bytes) -> dict:
    """A PEP 3333 environ from an ASGI http scope and the whole body."""
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        # ASGI paths are decoded str; WSGI wants them as latin-1 "native strings".
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
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
    for raw_name, raw_value in scope["headers"]:
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


def run_wsgi_app(wsgi_app, environ):
    """Run the WSGI app to the end (in a thread): status, headers, chunks. Always close()."""
    started = {}

    def start_response(status, headers, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started["status"], started["headers"] = status, headers
        return chunks.append  # the legacy write() callable

    chunks = []
    result = wsgi_app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        # PEP 3333 §Specification Details: close() whatever happened.
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started["status"], started["headers"], chunks


def wsgi_to_asgi(wsgi_app):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = []
        while True:
            message = await receive()
            body.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        environ = build_environ(scope, b"".join(body))
        # A WSGI app blocks: run it in a thread so the event loop stays free.
        status, headers, chunks = await asyncio.to_thread(run_wsgi_app, wsgi_app, environ)
        await send({"type": "http.response.start", "status": int(status[:3]),
                    "headers": [(n.lower().encode("latin-1"), v.encode("latin-1"))
                                for n, v in headers]})
        for chunk in chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app
