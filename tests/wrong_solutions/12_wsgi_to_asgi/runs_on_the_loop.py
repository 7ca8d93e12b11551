"""A wrong solution of exercise 12_wsgi_to_asgi: the WSGI app run on the event loop.

Mistake: calls the WSGI app and iterates its body in the coroutine itself: while the WSGI app
    works (a database query, a template), the event loop can run nothing else.
Fails: does not block the event loop
Says: the WSGI app ran on the event loop thread
"""

import io
import sys


def build_environ(scope, body):
    script_name = scope.get("root_path", "").encode("utf-8").decode("latin-1")
    path_info = scope["path"].encode("utf-8").decode("latin-1")
    if script_name and (path_info == script_name or path_info.startswith(script_name + "/")):
        path_info = path_info[len(script_name):]
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"], "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info, "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0), "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
        environ[key] = raw_value.decode("latin-1")
    return environ


def wsgi_to_asgi(wsgi_app):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        parts = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        environ = build_environ(scope, b"".join(parts))
        started = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers

        result = wsgi_app(environ, start_response)  # right here, on the event loop
        try:
            sent_start = False
            for chunk in result:
                if not chunk:
                    continue
                if not sent_start:
                    sent_start = True
                    await send({"type": "http.response.start",
                                "status": int(started["status"][:3]),
                                "headers": [(n.lower().encode("latin-1"), v.encode("latin-1"))
                                            for n, v in started["headers"]]})
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not sent_start:
                await send({"type": "http.response.start", "status": int(started["status"][:3]),
                            "headers": [(n.lower().encode("latin-1"), v.encode("latin-1"))
                                        for n, v in started["headers"]]})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if hasattr(result, "close"):
                result.close()

    return app
