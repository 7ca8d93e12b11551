"""Exercise 14: port a WSGI app to Starlette, with identical responses.

Lesson: 04 ASGI (notebooks/04_*.ipynb, the same app in Starlette).
Check: `gateway-lab check 14_starlette_port`.

`wsgi_app` below is a small WSGI app.  Task: write `app`, a Starlette
application that answers every GET and POST exactly as `wsgi_app` does: same
status, same Content-Type, same body bytes, for

    GET  /                   GET /hello/<name>[?shout=1]  (<name> may hold a /)
    POST /echo (JSON)        anything else: 404, even a known path with the
                             other method (Starlette's own answer there is 405)

The check sends the same requests to both and compares, also with both mounted
at /api (SCRIPT_NAME for the WSGI app, root_path for yours).  Leave `wsgi_app` as
it is.

Rules it practises:
* ASGI: an app is `async (scope, receive, send)`; a framework gives you
  Request/Response objects on top of it (Starlette: Route, Request,
  Response, PlainTextResponse);
* PEP 3333 vs ASGI: a percent-decoded path, the body as bytes, and headers
  that must match byte for byte (Content-Type with its charset).
"""

import json
from urllib.parse import parse_qs

from starlette.applications import Starlette


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"].encode("latin-1").decode("utf-8")
    method = environ["REQUEST_METHOD"]
    if path == "/" and method == "GET":
        status, ctype, body = "200 OK", "text/plain; charset=utf-8", "Home\n"
    elif path.startswith("/hello/") and method == "GET":
        name = path[len("/hello/"):]
        text = f"Hello, {name}!"
        if parse_qs(environ["QUERY_STRING"]).get("shout"):
            text = text.upper()
        status, ctype, body = "200 OK", "text/plain; charset=utf-8", text + "\n"
    elif path == "/echo" and method == "POST":
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            data = json.loads(raw)
        except ValueError:
            status, ctype = "400 Bad Request", "application/json"
            body = json.dumps({"error": "invalid JSON"})
        else:
            status, ctype, body = "200 OK", "application/json", json.dumps({"echo": data})
    else:
        status, ctype, body = "404 Not Found", "text/plain; charset=utf-8", "Not Found\n"
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
    return [data]


# Replace this with your Starlette app: routes for /, /hello/{name} and /echo.
app = Starlette(routes=[])
