"""A right solution of exercise 17_mounting in another style.

Style: the WSGI mount changes the environ it was given (PEP 3333 lets an application
    change it) and compares with str.partition; the ASGI mount refuses a stray WebSocket
    with close code 1008 and passes every scope without a path through.
"""

NOT_FOUND = b"Not Found\n"


def _rest(path, prefix):
    """What follows `prefix` in `path` when the path is under it, else None."""
    head, found, tail = path.partition(prefix)
    if head or not found or tail[:1] not in ("", "/"):
        return None
    return tail


def mount_wsgi(prefix, app):
    def mounted(environ, start_response):
        rest = _rest(environ.get("PATH_INFO", ""), prefix)
        if rest is None:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [NOT_FOUND]
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
        environ["PATH_INFO"] = rest
        return app(environ, start_response)

    return mounted


def mount_asgi(prefix, app):
    async def mounted(scope, receive, send):
        if "path" not in scope:
            return await app(scope, receive, send)
        root = scope.get("root_path", "")
        inside = scope["path"][len(root):] if scope["path"].startswith(root) else scope["path"]
        if _rest(inside, prefix) is not None:
            return await app(dict(scope, root_path=root + prefix), receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        await send({"type": "http.response.body", "body": NOT_FOUND})

    return mounted
