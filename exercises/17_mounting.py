"""Exercise 17: mount an app under a prefix, in WSGI and in ASGI.

Lesson: 08 Bridges (notebooks/08_*.ipynb, mounting).
Check: `gateway-lab check 17_mounting`.

A shop app written for "/" is to live at https://example.org/api/.  The app keeps
routing on its own paths ("/items"); whoever mounts it tells it where it lives,
so the links it makes still work.  WSGI has SCRIPT_NAME and PATH_INFO for that,
ASGI has root_path.

Task: write

* `mount_wsgi(prefix, app)`: a WSGI app.  For a request under `prefix` it calls
  `app` with SCRIPT_NAME + prefix as SCRIPT_NAME and the rest of PATH_INFO as
  PATH_INFO:

      GET /api/items   ->  app sees SCRIPT_NAME "/api",  PATH_INFO "/items"
      GET /api         ->  app sees SCRIPT_NAME "/api",  PATH_INFO ""
      GET /apix, /x    ->  404 Not Found (text/plain), the app is not called

  A server may already have mounted everything somewhere: with SCRIPT_NAME
  "/site" and PATH_INFO "/api/items" the app sees "/site/api" and "/items".

* `mount_asgi(prefix, app)`: an ASGI app.  For a request under `prefix` (the path
  *after* the root_path the server gave) it calls `app` with root_path +
  prefix as root_path, and the path left whole:

      GET /api/items   ->  app sees root_path "/api",  path "/api/items"

  "websocket" scopes are mounted the same way; other scopes (lifespan) go to the
  app as they are; a path that is not under the prefix is 404.

Rules it practises:
* PEP 3333 §environ Variables (RFC 3875 §4.1.13, §4.1.5): SCRIPT_NAME + PATH_INFO
  is the whole path; SCRIPT_NAME is where the app is mounted;
* ASGI HTTP spec: root_path is "the root path this application is mounted at";
  §WSGI Compatibility: PATH_INFO is path with root_path stripped, so `path`
  itself keeps the whole path;
* a prefix matches whole path segments: /apix is not under /api.
"""


def mount_wsgi(prefix, app):
    def mounted(environ, start_response):
        # Replace this with your code.
        start_response("501 Not Implemented", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not implemented yet\n"]

    return mounted


def mount_asgi(prefix, app):
    async def mounted(scope, receive, send):
        # Replace this with your code.
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 501,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"not implemented yet\n"})

    return mounted
