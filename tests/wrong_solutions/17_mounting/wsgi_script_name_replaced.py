"""A wrong solution of exercise 17_mounting: SCRIPT_NAME replaced by the prefix.

Mistake: sets SCRIPT_NAME to the prefix: a server that already mounted everything at /site loses
    that part, and the app builds links without /site.
Fails: a server that mounts everything at /site
Says: expected the body "SCRIPT_NAME='/site/api'
"""

NOT_FOUND = b"Not Found\n"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def mount_wsgi(prefix, app):
    prefix = prefix.rstrip("/")

    def mounted(environ, start_response):
        path_info = environ.get("PATH_INFO", "")
        if not _under(path_info, prefix):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(NOT_FOUND)))])
            return [NOT_FOUND]
        inner = dict(environ)
        inner["SCRIPT_NAME"] = prefix
        inner["PATH_INFO"] = path_info[len(prefix):]
        return app(inner, start_response)

    return mounted


def mount_asgi(prefix, app):
    prefix = prefix.rstrip("/")

    async def mounted(scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        path = scope["path"]
        rest = path[len(root_path):] if path.startswith(root_path) else path
        if not _under(rest, prefix):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
                return
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(NOT_FOUND)).encode())]})
            await send({"type": "http.response.body", "body": NOT_FOUND})
            return
        await app({**scope, "root_path": root_path + prefix}, receive, send)

    return mounted
