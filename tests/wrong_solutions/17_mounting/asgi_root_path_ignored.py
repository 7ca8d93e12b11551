"""A wrong solution of exercise 17_mounting: the server's root_path ignored.

Mistake: compares scope['path'] with the prefix and sets root_path to the prefix: under a server
    that already has a root_path '/site', /site/api/items is not found.
Fails: ASGI: a server with root_path '/site'
Says: expected status 200, got 404
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
        path = scope["path"]
        rest = path
        if not _under(rest, prefix):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
                return
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(NOT_FOUND)).encode())]})
            await send({"type": "http.response.body", "body": NOT_FOUND})
            return
        await app({**scope, "root_path": prefix}, receive, send)

    return mounted
