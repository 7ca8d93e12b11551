"""SCGI, FastCGI and uwsgi: the protocols' own examples byte for byte, round trips
for random requests (hypothesis), only WireError for bad bytes, fields a viewer
can highlight, and the lab's app servers answered over real sockets."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from served_apps import wire_app as app

import gateway_lab as gl
from gateway_lab.serving import ServeError
from gateway_lab.wire import (
    Field,
    WireError,
    WireServer,
    explain,
    fastcgi,
    request_from_vars,
    scgi,
    uwsgi,
)

ROOT = Path(__file__).resolve().parent.parent
CODECS = {"scgi": scgi, "fastcgi": fastcgi, "uwsgi": uwsgi}
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


# -- the protocols' own examples (SCGI protocol.txt, FastCGI 1.0, uwsgi Protocol.rst) --

SCGI_VECTOR = (b"70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00"
               b"REQUEST_URI\x00/deepthought\x00,What is the answer to life?")


def test_scgi_example_from_the_protocol_text():
    data = scgi.encode_request({"REQUEST_METHOD": "POST", "REQUEST_URI": "/deepthought"},
                               b"What is the answer to life?")
    assert data == SCGI_VECTOR
    assert scgi.decode_request(SCGI_VECTOR) == (
        {"CONTENT_LENGTH": "27", "SCGI": "1", "REQUEST_METHOD": "POST",
         "REQUEST_URI": "/deepthought"}, b"What is the answer to life?")


def test_uwsgi_example_little_endian_sizes():
    want = bytes.fromhex("00230000") + b"\x0e\x00REQUEST_METHOD\x03\x00GET" + (
        b"\x09\x00PATH_INFO\x01\x00/")
    assert uwsgi.encode_request({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}) == want
    assert uwsgi.decode_request(want) == ({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, b"")


def test_fastcgi_begin_request_record_and_stream_layout():
    data = fastcgi.encode_request({"REQUEST_METHOD": "GET"}, b"")
    assert data[:16] == bytes.fromhex("01010001000800000001000000000000")
    kinds = [(r.type, len(r.content)) for r in fastcgi.parse_records(data)]
    # BEGIN, one PARAMS, the empty PARAMS that ends the stream, the empty STDIN.
    assert kinds == [(fastcgi.BEGIN_REQUEST, 8), (fastcgi.PARAMS, 2 + 14 + 3),
                     (fastcgi.PARAMS, 0), (fastcgi.STDIN, 0)]
    assert len(data) % 8 == 0, "records are padded to 8 bytes (§3.3)"
    keep = fastcgi.encode_request({"REQUEST_METHOD": "GET"}, request_id=7, keep_conn=True)
    parsed = fastcgi.parse(keep)
    assert (parsed.request_id, parsed.role, parsed.keep_conn) == (7, fastcgi.RESPONDER, True)


def test_fastcgi_long_names_use_four_byte_lengths_and_big_bodies_split():
    value = "v" * 300
    pairs = fastcgi.encode_pairs({"SHORT": "x", "LONG": value})
    assert pairs[:2] == b"\x05\x01"                           # 1-byte lengths up to 127
    assert pairs[8:13] == b"\x04\x80\x00\x01\x2c"            # 300 = 0x12c with bit 31 set
    body = bytes(range(256)) * 1000                           # 256000 bytes
    data = fastcgi.encode_request({"REQUEST_METHOD": "PUT"}, body)
    stdin = [r for r in fastcgi.parse_records(data) if r.type == fastcgi.STDIN]
    assert [len(r.content) for r in stdin] == [65535, 65535, 65535, 59395, 0]
    assert fastcgi.decode_request(data) == ({"CONTENT_LENGTH": "256000",
                                             "REQUEST_METHOD": "PUT"}, body)


# -- round trips ------------------------------------------------------------------------

names = st.from_regex(r"[A-Z][A-Z0-9_]{0,30}", fullmatch=True).filter(
    lambda n: n not in ("CONTENT_LENGTH", "SCGI"))
values = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=200)
variables = st.dictionaries(names, values, max_size=12)
bodies = st.binary(max_size=3000)


@FAST
@given(protocol=st.sampled_from(list(CODECS)), vars_=variables, body=bodies)
def test_decode_encode_round_trip(protocol, vars_, body):
    codec = CODECS[protocol]
    back, got_body = codec.decode_request(codec.encode_request(dict(vars_), body))
    extra = {"CONTENT_LENGTH": str(len(body))} if body or protocol == "scgi" else {}
    if protocol == "scgi":
        extra["SCGI"] = "1"
    assert back == {**extra, **vars_}
    assert got_body == body


methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
segments = st.text("abcXYZ019-._~%20", min_size=1, max_size=12)
paths = st.lists(segments, min_size=0, max_size=4).map(lambda p: "/" + "/".join(p))
queries = st.one_of(st.just(""), st.text("abc=&1%+", max_size=20).map(lambda q: "?" + q))
header_names = st.from_regex(r"X-[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(
    str.strip)


@FAST
@given(protocol=st.sampled_from(list(CODECS)), method=methods, path=paths, query=queries,
       headers=st.dictionaries(header_names, header_values, max_size=5), body=bodies)
def test_a_request_survives_the_wire(protocol, method, path, query, headers, body):
    request = gl.Request(method, path + query, headers, body)
    codec = CODECS[protocol]
    if protocol == "scgi" and "%00" in path:  # PATH_INFO holds a NUL, SCGI's separator
        with pytest.raises(WireError, match="NUL"):
            codec.encode_request(request)
        return
    back, script_name = request_from_vars(*codec.decode_request(codec.encode_request(request)))
    assert (back.method, back.target, back.body, script_name) == (method, path + query, body, "")
    sent: dict[str, str] = {}
    for name, value in request.headers:  # repeated fields travel as one (RFC 9110 §5.3)
        key = name.lower()
        sent[key] = f"{sent[key]}, {value}" if key in sent else value
    assert {n.lower(): v for n, v in back.headers} == sent
    env, got = gl.run_wsgi(_environ_app, back), gl.run_wsgi(_environ_app, request)
    assert env.response.body == got.response.body  # the app cannot tell the difference


def _environ_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    keys = sorted(k for k in environ if k.isupper() and k not in ("REMOTE_PORT",))
    return [repr([(k, environ[k]) for k in keys]).encode(), environ["wsgi.input"].read()]


# -- bad bytes: WireError and a message, nothing else ---------------------------------

@FAST
@given(protocol=st.sampled_from(list(CODECS)), data=st.binary(max_size=400))
def test_random_bytes_raise_only_wire_error(protocol, data):
    try:
        CODECS[protocol].decode_request(data)
    except WireError as error:
        assert str(error)


@FAST
@given(protocol=st.sampled_from(list(CODECS)), vars_=variables, body=bodies,
       cut=st.integers(min_value=0), flip=st.integers(min_value=0), bit=st.integers(0, 7))
def test_damaged_messages_raise_only_wire_error(protocol, vars_, body, cut, flip, bit):
    codec = CODECS[protocol]
    data = codec.encode_request(dict(vars_), body)
    with pytest.raises(WireError):
        codec.decode_request(data[:cut % len(data)])  # every truncation is detected
    damaged = bytearray(data)
    damaged[flip % len(data)] ^= 1 << bit
    try:
        codec.decode_request(bytes(damaged))
    except WireError:
        pass


@pytest.mark.parametrize("protocol,data,words", [
    ("scgi", b"", "header length"),
    ("scgi", b"5:abc", "header bytes"),
    ("fastcgi", b"\x01\x01\x00", "8 bytes"),
    ("fastcgi", b"\x02" + b"\0" * 7, "version 2"),
    ("fastcgi", fastcgi.record(fastcgi.STDIN, 1), "starts with BEGIN_REQUEST"),
    ("fastcgi", fastcgi.encode_request({"A": "b"})[:-8], "empty STDIN"),
    ("fastcgi", fastcgi.record(fastcgi.BEGIN_REQUEST, 1, b"\0\1\0\0\0\0\0\0")
     + fastcgi.record(fastcgi.PARAMS, 1, b"\x05\x01AB") + fastcgi.record(fastcgi.PARAMS, 1)
     + fastcgi.record(fastcgi.STDIN, 1), "name-value pair"),
    ("fastcgi", fastcgi.encode_request({"A": "b"}, request_id=1)[:-8]
     + fastcgi.record(fastcgi.STDIN, 2), "requestId 2"),
    ("uwsgi", b"\x00\x01", "4-byte header"),
    ("uwsgi", b"\x05\x00\x00\x00", "modifier1=5"),
    ("uwsgi", b"\x00\x10\x00\x00\x01\x00A", "cut short"),
    ("uwsgi", uwsgi.encode_request({"CONTENT_LENGTH": "3"}, b"abc")[:-1], "3 body bytes"),
])
def test_malformed_input_is_explained(protocol, data, words):
    with pytest.raises(WireError, match=words):
        CODECS[protocol].decode_request(data)


# A uwsgi packet whose only variable is CONTENT_LENGTH = '²' (one byte, 0xb2).
UWSGI_ODD_LENGTH = uwsgi.HEADER.pack(0, 19, 0) + b"\x0e\x00CONTENT_LENGTH\x01\x00\xb2"


def test_digits_outside_ascii_are_wire_errors_not_value_errors():
    # '²' is a digit to str.isdigit() but not to int(): the bytes are still malformed.
    bad_length = (fastcgi.record(fastcgi.BEGIN_REQUEST, 1, fastcgi.BEGIN_BODY.pack(1, 0))
                  + fastcgi.stream(fastcgi.PARAMS, 1, fastcgi.encode_pairs(
                      {"REQUEST_METHOD": "GET", "CONTENT_LENGTH": "\xb2"}))
                  + fastcgi.stream(fastcgi.STDIN, 1, b""))
    with pytest.raises(WireError, match="CONTENT_LENGTH"):
        fastcgi.decode_request(bad_length)
    with pytest.raises(WireError, match="CONTENT_LENGTH"):
        scgi.decode_request(scgi.encode_request({"REQUEST_METHOD": "GET"}, b"").replace(
            b"CONTENT_LENGTH\x000", b"CONTENT_LENGTH\x00\xb2"))
    with pytest.raises(WireError, match="CONTENT_LENGTH"):
        uwsgi.decode_request(UWSGI_ODD_LENGTH)
    with pytest.raises(WireError, match="3-digit"):
        scgi.decode_response(b"Status: \xb2\xb2\xb2 OK\r\n\r\n")
    # Ports are informative: one that is not a number falls back to the default.
    request, _ = request_from_vars({"REQUEST_METHOD": "GET", "SERVER_PORT": "\xb2",
                                    "REMOTE_ADDR": "10.0.0.1", "REMOTE_PORT": "\xb2"})
    assert (request.server, request.client) == (("localhost", 80), ("10.0.0.1", 0))


def test_what_cannot_be_encoded_is_refused_clearly():
    with pytest.raises(WireError, match="Latin-1"):
        scgi.encode_request({"HTTP_X": "\u20ac"}, b"")
    with pytest.raises(WireError, match="NUL"):
        scgi.encode_request({"HTTP_X": "a\0b"}, b"")
    with pytest.raises(WireError, match="65535"):
        uwsgi.encode_request({"HTTP_BIG": "x" * 70000})
    with pytest.raises(WireError, match="CONTENT_LENGTH"):
        uwsgi.encode_request({"CONTENT_LENGTH": "9"}, b"short")
    with pytest.raises(WireError, match="requestId"):
        fastcgi.encode_request({}, request_id=0)


def test_exercise_13_solution_passes_and_the_lab_parser_reads_it():
    from gateway_lab import exercises

    report = exercises.check("13_scgi", ROOT / "solutions" / "13_scgi.py")
    assert report.passed, str(report)
    assert any("lab's SCGI parser" in r.title for r in report.results)


# -- fields for a wire viewer ------------------------------------------------------------

@pytest.mark.parametrize("protocol", list(CODECS))
def test_every_field_points_at_its_bytes(protocol):
    request = gl.Request("POST", "/form?x=1", {"Content-Type": "text/plain", "X-Name": "Ada"},
                         b"hello")
    data = CODECS[protocol].encode_request(request)
    fields = explain(protocol, data)
    assert all(isinstance(f, Field) for f in fields)
    by_label = {f.label: f for f in fields}
    for label, value in [("REQUEST_METHOD", "POST"), ("HTTP_X_NAME", "Ada"),
                         ("QUERY_STRING", "x=1")]:
        f = by_label[label]
        assert data[f.offset:f.offset + f.length].decode("latin-1") == value == f.value
    body = by_label.get("body") or by_label["stdin"]
    assert data[body.offset:body.offset + body.length] == b"hello"
    # No two fields claim the same byte, and they stay inside the data.
    spans = sorted((f.offset, f.offset + f.length) for f in fields if f.length)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert spans[-1][1] <= len(data)


@pytest.mark.parametrize("protocol", list(CODECS))
def test_encode_and_decode_add_one_trace_event_per_field(protocol):
    codec = CODECS[protocol]
    sent, read = gl.Trace(protocol), gl.Trace(protocol)
    data = codec.encode_request(gl.Request("GET", "/?q=1"), trace=sent)
    codec.decode_request(data, trace=read)
    fields = codec.explain(data)
    assert len(sent.events) == len(read.events) == len(fields)
    first = read.events[0]
    assert first.actor == "gateway" and first.kind == "wire read"
    assert {"offset", "length", "label", "value"} <= set(first.data)
    assert [e.data["offset"] for e in sent.events] == [f.offset for f in fields]


@pytest.mark.parametrize("protocol", list(CODECS))
def test_the_front_end_builds_the_variables_like_the_wsgi_environ(protocol):
    request = gl.Request("GET", "/a%20b?x=1", {"X-Ok": "1", "X_Spoof": "2", "Cookie": "a=1"})
    sent = gl.Trace(protocol)
    variables, _ = CODECS[protocol].decode_request(
        CODECS[protocol].encode_request(request, trace=sent))
    environ = next(e.data for e in gl.run_wsgi(_environ_app, request).trace.events
                   if e.kind == "environ")
    for key in ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "HTTP_X_OK",
                "HTTP_COOKIE", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL"):
        assert variables[key] == environ[key], key
    assert "HTTP_X_SPOOF" not in variables and "SCRIPT_NAME" not in variables
    assert all(name.isupper() for name in variables)  # CGI variables only, no wsgi.*
    # Dropping X_Spoof is the front end doing right: a note, not a finding.
    assert sent.findings == []
    assert [e.data["rule"] for e in sent.events if e.kind == "note"] == \
        ["http.header.underscore_dropped"]


def test_fastcgi_reply_records_and_cgi_response():
    response = gl.Response(201, [("Content-Type", "text/plain"), ("X-A", "1")], b"made",
                           reason="Created")
    data = fastcgi.encode_response(response, request_id=3, stderr=b"warning\n", app_status=7)
    reply = fastcgi.decode_reply(data)
    assert (reply.stderr, reply.app_status, reply.protocol_status) == (b"warning\n", 7, 0)
    assert reply.stdout.startswith(b"Status: 201 Created\r\nContent-Type: text/plain\r\n")
    back = fastcgi.decode_response(data)
    assert (back.status, back.headers, back.body) == (201, response.headers, b"made")
    labels = [f.label for f in fastcgi.explain(data)]
    assert "appStatus" in labels and "protocolStatus" in labels and "stdout" in labels
    with pytest.raises(WireError, match="END_REQUEST"):
        fastcgi.decode_reply(data[:-16])


def test_cgi_style_responses_decode_like_a_front_end_reads_them():
    assert scgi.decode_response(b"Location: /x\n\n").status == 302  # RFC 3875 §6.2.2
    nph = uwsgi.decode_response(b"HTTP/1.1 404 Not Found\r\nContent-Type: a/b\r\n\r\nno")
    assert (nph.status, nph.reason, nph.body) == (404, "Not Found", b"no")
    with pytest.raises(WireError, match="3-digit"):
        scgi.decode_response(b"Status: 20x\r\n\r\n")
    with pytest.raises(WireError, match="empty line"):
        scgi.decode_response(b"Content-Type: text/plain\r\n")


# -- the app servers, over real sockets --------------------------------------------------
# (the app they serve, served_apps.wire_app, lives where a worker process imports it fast)

def _exchange(port: int, data: bytes, *, until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if until_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize("protocol", list(CODECS))
def test_server_answers_like_the_engine(protocol):
    codec = CODECS[protocol]
    request = gl.Request("POST", "/items?x=1", {"Content-Type": "text/plain"}, b"payload")
    with WireServer(protocol, app) as server:
        reply = _exchange(server.port, codec.encode_request(request))
        assert server.traces and server.traces[0].events[-1].kind == "response"
    got = codec.decode_response(reply)
    want = gl.run_wsgi(app, request).response
    assert (got.status, got.headers, got.body) == (want.status, want.headers, want.body)


def _read_records(sock: socket.socket, until_type: int) -> list:
    data = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
        try:
            records = fastcgi.parse_records(data)
        except WireError:
            continue
        if records and records[-1].type == until_type:
            return records


def test_fastcgi_server_keeps_the_connection_and_answers_management_records():
    with WireServer("fastcgi", app) as server, socket.create_connection(
            ("127.0.0.1", server.port), timeout=10) as sock:
        asked = fastcgi.encode_pairs({"FCGI_MPXS_CONNS": "", "FCGI_MAX_REQS": ""})
        sock.sendall(fastcgi.record(fastcgi.GET_VALUES, 0, asked))
        (result,) = _read_records(sock, fastcgi.GET_VALUES_RESULT)
        assert fastcgi.decode_pairs(result.content)[0] == {
            "FCGI_MPXS_CONNS": "0", "FCGI_MAX_REQS": str(server.max_connections)}
        sock.sendall(fastcgi.record(42, 0))
        (unknown,) = _read_records(sock, fastcgi.UNKNOWN_TYPE)
        assert unknown.content[0] == 42                          # §4.2 names the type
        for rid in (1, 2):                                       # two requests, one connection
            sock.sendall(fastcgi.encode_request(gl.Request("GET", f"/n?{rid}"), request_id=rid,
                                                keep_conn=True))
            records = _read_records(sock, fastcgi.END_REQUEST)
            assert {r.request_id for r in records} == {rid}
            body = fastcgi.decode_response(b"".join(
                fastcgi.record(r.type, r.request_id, r.content) for r in records)).body
            assert body == f"GET {rid} ".encode()
        sock.sendall(fastcgi.record(fastcgi.BEGIN_REQUEST, 3,
                                    fastcgi.BEGIN_BODY.pack(fastcgi.FILTER, 1))
                     + fastcgi.record(fastcgi.PARAMS, 3) + fastcgi.record(fastcgi.STDIN, 3))
        (end,) = _read_records(sock, fastcgi.END_REQUEST)
        assert fastcgi.END_BODY.unpack(end.content)[1] == fastcgi.UNKNOWN_ROLE
        assert server.connections == 1


def test_bad_request_gets_400_and_the_server_keeps_serving():
    with WireServer("scgi", app) as server:
        reply = scgi.decode_response(_exchange(server.port, b"12:not an scgi!,"))
        assert reply.status == 400 and b"bad scgi request" in reply.body
        assert server.errors
        ok = scgi.decode_response(_exchange(server.port, scgi.encode_request(
            gl.Request("GET", "/again"))))
        assert ok.status == 200


def test_a_hanging_app_gets_504_through_the_wire():
    with WireServer("uwsgi", app, timeout=0.5) as server:
        started = time.monotonic()
        reply = uwsgi.decode_response(_exchange(server.port, uwsgi.encode_request(
            gl.Request("GET", "/slow"))))
        assert reply.status == 504
        assert time.monotonic() - started < 5
        assert any(f.rule == "wsgi.app.timeout" for f in server.traces[-1].findings)


def test_stop_closes_idle_connections_and_joins_threads():
    server = WireServer("fastcgi", app).start()
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    idle.sendall(fastcgi.record(fastcgi.BEGIN_REQUEST, 1, fastcgi.BEGIN_BODY.pack(1, 1)))
    time.sleep(0.1)  # the handler thread is now blocked reading the rest
    before = time.monotonic()
    server.stop()
    server.stop()  # idempotent
    assert time.monotonic() - before < 5
    assert idle.recv(10) == b""  # the server closed it
    idle.close()
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith("gateway-lab-fastcgi")]
    assert not server.running


def test_a_taken_port_is_a_clear_error():
    with WireServer("scgi", app) as server, pytest.raises(
            ServeError, match=f"port {server.port} is already in use"):
        WireServer("scgi", app, port=server.port)


def test_serve_helpers_and_unknown_protocol():
    from gateway_lab import wire

    with wire.serve_uwsgi(app) as server:
        assert server.running and server.url.startswith("uwsgi://127.0.0.1:")
    with pytest.raises(ValueError, match="unknown protocol"):
        WireServer("ajp", app)
    with pytest.raises(TypeError, match="callable"):
        WireServer("scgi", "not an app")
    # §3.3: the header of a record is 8 bytes, its two u16 fields big-endian.
    assert fastcgi.HEADER.size == 8
    assert fastcgi.HEADER.unpack(bytes.fromhex("0105 0102 0304 0500")) == (1, 5, 258, 772, 5)


def test_odd_digits_over_the_wire_get_an_answer_not_a_dropped_connection():
    with WireServer("scgi", app) as server:
        reply = scgi.decode_response(_exchange(server.port, scgi.encode_request(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_PORT": "\xb2"}, b"")))
        assert reply.status == 200
    with WireServer("uwsgi", app) as server:
        reply = uwsgi.decode_response(_exchange(server.port, UWSGI_ODD_LENGTH))
        assert reply.status == 400 and b"CONTENT_LENGTH" in reply.body
    with WireServer("fastcgi", app) as server:  # answered on its requestId, and logged
        data = fastcgi.encode_request({"REQUEST_METHOD": "GET"}).replace(
            b"\x0e\x03REQUEST_METHODGET", b"\x0e\x03CONTENT_LENGTH\xb2\xb2\xb2")
        raw = _exchange(server.port, data)
        assert fastcgi.decode_reply(raw).protocol_status == fastcgi.REQUEST_COMPLETE
        assert fastcgi.decode_response(raw).status == 400
        assert server.errors and "CONTENT_LENGTH" in server.errors[-1]


def test_fastcgi_variables_that_are_not_a_request_get_a_400_reply():
    with WireServer("fastcgi", app) as server:
        reply = _exchange(server.port, fastcgi.encode_request({"PATH_INFO": "/no-method"}))
        response = fastcgi.decode_response(reply)
        assert response.status == 400 and b"REQUEST_METHOD" in response.body


def test_the_examples_in_the_docstrings_hold():
    import doctest

    from gateway_lab import wire

    for module in (wire, scgi, fastcgi, uwsgi):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__
