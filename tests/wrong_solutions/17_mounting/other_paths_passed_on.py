"""A wrong solution of exercise 17_mounting: paths outside the prefix passed to the app.

Mistake: adjusts SCRIPT_NAME/PATH_INFO (and root_path) for paths under the prefix and passes
    every other request to the app unchanged: the mounted app then answers URLs that are
    not its own.
Fails: WSGI: GET /other is not under /api: 404
Says: expected status 404, got 200
"""

NOT_FOUND = b"Not Found\n"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def mount_wsgi(prefix, app):
    prefix = prefix.rstrip("/")

    def mounted(environ, start_response):
        path_info = environ.get("PATH_INFO", "")
        if not _under(path_info, prefix):
            return app(environ, start_response)
        inner = dict(environ)
        inner["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
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
            await app(scope, receive, send)
            return
        await app({**scope, "root_path": root_path + prefix}, receive, send)

    return mounted
