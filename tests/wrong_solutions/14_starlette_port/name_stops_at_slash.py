"""A wrong solution of exercise 14_starlette_port: a name without a "/".

Mistake: Route('/hello/{name}'): Starlette's default converter stops at "/", so
    /hello/Ada/Lovelace is a 404, where the WSGI app's startswith() greets 'Ada/Lovelace'.
Fails: GET /hello/Ada/Lovelace
Says: expected status 200, got 404
"""

import json
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


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


# -- the port ---------------------------------------------------------------------

async def home(request: Request) -> Response:
    return PlainTextResponse("Home\n")


async def hello(request: Request) -> Response:
    text = f"Hello, {request.path_params['name']}!"  # already percent-decoded
    if request.query_params.get("shout"):
        text = text.upper()
    return PlainTextResponse(text + "\n")


async def echo(request: Request) -> Response:
    try:
        data = json.loads(await request.body())
    except ValueError:
        return Response(json.dumps({"error": "invalid JSON"}), 400,
                        media_type="application/json")
    # json.dumps, not JSONResponse: JSONResponse leaves out the spaces after ":" and ",",
    # and the bodies must be identical.
    return Response(json.dumps({"echo": data}), media_type="application/json")


async def not_found(request: Request, exc) -> Response:
    return PlainTextResponse("Not Found\n", status_code=404)


app = Starlette(
    routes=[Route("/", home), Route("/hello/{name}", hello),
            Route("/echo", echo, methods=["POST"])],
    exception_handlers={404: not_found, 405: not_found},
)
