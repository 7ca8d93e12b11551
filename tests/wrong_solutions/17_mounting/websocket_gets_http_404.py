"""A wrong solution of exercise 17_mounting: a 404 page sent on a WebSocket.

Mistake: answers a WebSocket outside the prefix with http.response.start: a websocket scope has
    no http.response.* messages; websocket.close before accept refuses it (the client sees 403).
Fails: a WebSocket not under /api is refused
Says: expected status 403, got 500
"""

NOT_FOUND = b"Not Found\n"


def _under(path: str, prefix: str) -> bool:
    # Whole segments only: /api and /api/... are under /api, /apix is not.
    return path == prefix or path.startswith(prefix + "/")


def mount_wsgi(prefix, app):
    prefix = prefix.rstrip("/")

    def mounted(environ, start_response):
        path_info = environ.get("PATH_INFO", "")
        if not _under(path_info, prefix):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(NOT_FOUND)))])
            return [NOT_FOUND]
        # SCRIPT_NAME + PATH_INFO stays the whole path; the prefix moves across.
        inner = dict(environ)
        inner["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
        inner["PATH_INFO"] = path_info[len(prefix):]
        return app(inner, start_response)

    return mounted


def mount_asgi(prefix, app):
    prefix = prefix.rstrip("/")

    async def mounted(scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)  # lifespan has no path
            return
        root_path = scope.get("root_path", "")
        path = scope["path"]
        # The path inside the current mount point is what follows root_path.
        rest = path[len(root_path):] if path.startswith(root_path) else path
        if not _under(rest, prefix):
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(NOT_FOUND)).encode())]})
            await send({"type": "http.response.body", "body": NOT_FOUND})
            return
        # ASGI: root_path grows, path stays whole (PATH_INFO = path minus root_path).
        await app({**scope, "root_path": root_path + prefix}, receive, send)

    return mounted
