"""The WSGI gateway: real werkzeug and Flask apps give the same responses as
werkzeug's own test Client, wsgiref.validate finds nothing, and the server
side of PEP 3333 (headers held back, close() always called) is honoured."""

import io
import warnings
from wsgiref.validate import validator

import pytest
from flask import Flask, Response, jsonify, redirect, request, stream_with_context
from werkzeug.test import Client
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

import gateway_lab as gl


def make_flask():
    app = Flask("parity")

    @app.get("/hello")
    def hello():
        return f"Hello, {request.args.get('name', 'world')}!"

    @app.post("/json")
    def echo_json():
        data = request.get_json()
        return jsonify(received=data, length=len(request.data))

    @app.post("/form")
    def form():
        return jsonify(dict(request.form))

    @app.get("/stream")
    def stream():
        def chunks():
            for i in range(3):
                yield f"part {i}\n"
        return Response(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/go")
    def go():
        return redirect("/hello?name=redirected")

    @app.get("/cookie")
    def cookie():
        resp = jsonify(seen=request.cookies.get("flavour"))
        resp.set_cookie("flavour", "oatmeal", httponly=True)
        return resp

    @app.get("/missing")
    def missing():
        return "nope", 404

    return app


@WRequest.application
def werkzeug_app(req):
    if req.path == "/upload":
        return WResponse(f"{len(req.get_data())} bytes of {req.mimetype}")
    return WResponse(f"{req.method} {req.path} {dict(req.args)}", mimetype="text/plain")


CASES = [
    (make_flask, "GET", "/hello?name=Ada", {}, b""),
    (make_flask, "POST", "/json", {"Content-Type": "application/json"}, b'{"a": [1, 2]}'),
    (make_flask, "POST", "/form", {"Content-Type": "application/x-www-form-urlencoded"},
     b"x=1&y=caf%C3%A9"),
    (make_flask, "GET", "/stream", {}, b""),
    (make_flask, "GET", "/go", {}, b""),
    (make_flask, "GET", "/cookie", {}, b""),
    (make_flask, "GET", "/missing", {}, b""),
    (make_flask, "HEAD", "/hello", {}, b""),
    (lambda: werkzeug_app, "GET", "/a/b?x=1&x=2", {}, b""),
    (lambda: werkzeug_app, "POST", "/upload", {"Content-Type": "application/octet-stream"},
     bytes(range(256)) * 40),
]


@pytest.mark.parametrize("factory,method,target,headers,body", CASES,
                         ids=[f"{c[1]} {c[2]}" for c in CASES])
def test_same_response_as_werkzeug_client(factory, method, target, headers, body):
    app = factory()
    ours = gl.run_wsgi(app, gl.Request(method, target, headers, body))
    theirs = Client(app).open(target, method=method, headers=headers, data=body)
    assert ours.response.status == theirs.status_code
    assert ours.response.body == theirs.get_data()
    assert sorted(ours.response.headers) == sorted(theirs.headers.to_wsgi_list())
    assert ours.findings == [], [str(f) for f in ours.findings]


def test_validator_finds_nothing_and_close_is_called():
    closed = []

    class Body:
        def __init__(self):
            self.parts = [b"one ", b"two"]

        def __iter__(self):
            return iter(self.parts)

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.errors"].write(f"got {len(data)} bytes\n")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a WSGIWarning would fail the test
        for req in (gl.Request("GET", "/"), gl.Request("POST", "/p?q=1", body=b"data"),
                    gl.Request("POST", "/c", {"Transfer-Encoding": "chunked"}, chunks=[b"ab"])):
            ex = gl.run_wsgi(validator(app), req)
            assert ex.response.status == 200 and ex.response.body == b"one two"
            assert ex.findings == []
    assert closed == [True, True, True]
    assert any(e.kind == "wsgi.errors" and "got 2 bytes" in e.detail for e in ex.trace)


def test_environ_is_complete():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    req = gl.Request("POST", "/shop/cart%20items?id=7", {"Content-Type": "text/plain",
                                                         "X-Trace": "a", "Host": "ex.org:8080"},
                     b"abc")
    ex = gl.run_wsgi(app, req, script_name="/shop", multithread=True)
    assert ex.response.status == 204 and ex.findings == []
    assert seen["SCRIPT_NAME"] == "/shop" and seen["PATH_INFO"] == "/cart items"
    assert seen["QUERY_STRING"] == "id=7"
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"]) == ("ex.org", "8080")
    assert seen["CONTENT_TYPE"] == "text/plain" and seen["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in seen and "HTTP_CONTENT_LENGTH" not in seen
    assert seen["HTTP_X_TRACE"] == "a"
    assert seen["wsgi.version"] == (1, 0) and seen["wsgi.url_scheme"] == "http"
    assert seen["wsgi.multithread"] is True and seen["wsgi.run_once"] is False
    assert seen["wsgi.input"].read() == b"abc"  # the app did not read it; it is all there


def test_input_honours_content_length_and_readline():
    def app(environ, start_response):
        stream = environ["wsgi.input"]
        lines = [stream.readline(), stream.readline(2), stream.read()]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(lines).encode()]

    ex = gl.run_wsgi(app, gl.Request("POST", "/", body=b"first\nsecond\n"))
    assert ex.response.body == b"[b'first\\n', b'se', b'cond\\n']"
    assert ex.findings == []


def test_headers_wait_for_the_first_non_empty_chunk():
    order = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        order.append("start_response")
        yield b""
        order.append("after empty chunk")
        yield b"data"

    ex = gl.run_wsgi(app)
    kinds = [e.kind for e in ex.trace]
    assert kinds.index("send headers") < kinds.index("send body")
    assert order == ["start_response", "after empty chunk"]
    sent = next(e for e in ex.trace if e.kind == "send headers")
    assert sent.t >= next(e for e in ex.trace if e.kind == "start_response").t


def test_file_wrapper_and_write():
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
        write(b"head:")
        return environ["wsgi.file_wrapper"](io.BytesIO(b"x" * 20000), 4096)

    ex = gl.run_wsgi(app)
    assert ex.response.body == b"head:" + b"x" * 20000
    assert ex.findings == []


def test_exc_info_replaces_the_response_before_headers_are_sent():
    import sys

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")],
                           sys.exc_info())
            return [b"sorry"]

    ex = gl.run_wsgi(app)
    assert (ex.response.status, ex.response.body) == (500, b"sorry")
    assert ex.findings == []


def test_close_is_called_when_iteration_fails_and_the_client_sees_a_cut():
    closed = []

    class Body:
        def __iter__(self):
            yield b"partial"
            raise RuntimeError("database went away")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    ex = gl.run_wsgi(app)
    assert closed == [True]
    assert ex.response.complete is False and ex.response.body == b"partial"
    assert [f.rule for f in ex.findings] == ["wsgi.app.raised_after_start"]
    assert "database went away" in ex.findings[0].message


def test_cookie_header_reaches_the_app_and_set_cookie_comes_back():
    ex = gl.run_wsgi(make_flask(), gl.Request("GET", "/cookie", {"Cookie": "flavour=ginger"}))
    assert ex.response.json() == {"seen": "ginger"}
    assert "flavour=oatmeal" in ex.response.header("set-cookie")


def test_a_chunked_request_reaches_a_werkzeug_app_whole():
    # The gateway de-chunks the body and passes its length; were Transfer-Encoding
    # passed on as well, werkzeug would ignore CONTENT_LENGTH and read nothing.
    @WRequest.application
    def echo(req):
        return WResponse(req.get_data())

    req = gl.Request("POST", "/", {"Transfer-Encoding": "chunked"}, chunks=[b"ab", b"cd"])
    ex = gl.run_wsgi(echo, req)
    assert ex.response.body == b"abcd"
    assert ex.findings == []
