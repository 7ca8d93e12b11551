"""Exercise 12: your own WSGI-to-ASGI adapter: streaming, in a thread, closing, mounted.

Lesson: 08 Bridges (notebooks/08_*.ipynb).  Check: `gateway-lab check 12_wsgi_to_asgi`.

asgiref's WsgiToAsgi and a2wsgi's WSGIMiddleware let an ASGI server run a WSGI
app.  Task: write a small one yourself,

    wsgi_to_asgi(wsgi_app) -> an ASGI app: async def app(scope, receive, send)

For an "http" scope it must
* read the whole request body (it can come in many http.request messages, and
  `body` and `more_body` are optional keys);
* build a PEP 3333 environ from the scope (REQUEST_METHOD, SCRIPT_NAME,
  PATH_INFO, QUERY_STRING, SERVER_*, CONTENT_TYPE, CONTENT_LENGTH, HTTP_*
  headers, wsgi.input, wsgi.errors, wsgi.url_scheme, ...); when the app is
  mounted (root_path "/app", path "/app/hello") SCRIPT_NAME is "/app" and
  PATH_INFO "/hello";
* run the WSGI app in a thread, not on the event loop (it blocks);
* stream: send http.response.start and each body chunk as the WSGI app yields
  it, not all at the end;
* call close() on the WSGI iterable when it is done, in a finally: also when
  the body raises half way, or send() raises because the client left.

The check runs WSGI apps through your adapter and through the lab's WSGI
server, and compares: same status, headers and body, close() called once.

Rules it practises:
* ASGI HTTP spec: the http scope, http.request (body, more_body),
  http.response.start (status: int, headers: list of [bytes, bytes]),
  http.response.body (more_body); §WSGI Compatibility: "SCRIPT_NAME is
  root_path", "PATH_INFO can be derived by stripping root_path from path", and
  WSGI apps "must be run in a threadpool";
* PEP 3333 §environ Variables and §Specification Details (close()).
"""


def wsgi_to_asgi(wsgi_app):
    async def app(scope, receive, send):
        # Replace this with your code.
        await send({"type": "http.response.start", "status": 501,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        await send({"type": "http.response.body", "body": b"not implemented yet\n"})

    return app
