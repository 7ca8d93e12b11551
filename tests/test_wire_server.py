"""The wire servers under load and against bad or slow clients: every request answered
or logged, a request deadline, bounded connections, a listen backlog, 413 before the
body, FastCGI's repeated names, and an app that will not stop killed with its worker.

Raw sockets speak each protocol byte for byte; the apps run in real worker processes."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from served_apps import app

import gateway_lab as gl
from gateway_lab.wire import WireServer, fastcgi, scgi, uwsgi
from gateway_lab.workers import KILL_GRACE

CODECS = {"scgi": scgi, "fastcgi": fastcgi, "uwsgi": uwsgi}


def exchange(port: int, data: bytes, *, half_close: bool = True, timeout: float = 20) -> bytes:
    """Send `data`, then read until the server closes (SCGI, uwsgi, errors)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def records(raw: bytes) -> list[tuple[str, int]]:
    return [(fastcgi.TYPES[r.type], r.request_id) for r in fastcgi.parse_records(raw)]


# -- framing: where a request ends, from the bytes alone ---------------------------------

@pytest.mark.parametrize("protocol", list(CODECS))
def test_frame_finds_the_end_of_a_request_from_any_prefix(protocol):
    codec = CODECS[protocol]
    request = gl.Request("POST", "/f?x=1", {"Content-Type": "text/plain"}, b"b" * 70000)
    data = codec.encode_request(request)
    whole = codec.frame(data + b"next request")
    assert whole.complete and whole.size == len(data) and whole.body == 70000
    for cut in [0, 1, 3, 7, 8, 20, len(data) // 2, len(data) - 1]:
        part = codec.frame(data[:cut])
        assert not (part.complete and part.size <= cut), cut
        assert part.size > cut  # how much to read before asking again


def test_fastcgi_frame_reports_a_management_record_on_its_own():
    ask = fastcgi.record(fastcgi.GET_VALUES, 0, fastcgi.encode_pairs({"FCGI_MPXS_CONNS": ""}))
    found = fastcgi.frame(ask + fastcgi.encode_request({"REQUEST_METHOD": "GET"}))
    assert found.complete and found.size == len(ask) and found.body is None


# -- FastCGI: a name sent twice ----------------------------------------------------------

def test_fastcgi_repeated_names_last_one_wins_like_php_fpm():
    pairs = fastcgi.encode_pairs({"SCRIPT_NAME": "/index.php", "REQUEST_METHOD": "GET"})
    pairs += fastcgi.encode_pairs({"SCRIPT_NAME": ""})
    data = (fastcgi.record(fastcgi.BEGIN_REQUEST, 1, fastcgi.BEGIN_BODY.pack(1, 0))
            + fastcgi.stream(fastcgi.PARAMS, 1, pairs) + fastcgi.record(fastcgi.STDIN, 1))
    variables, _ = fastcgi.decode_request(data)
    assert variables == {"SCRIPT_NAME": "", "REQUEST_METHOD": "GET"}
    labels = [f.label for f in fastcgi.explain(data)]
    assert "SCRIPT_NAME (again: this value replaces '/index.php')" in labels
    with WireServer("fastcgi", app) as server:
        response = fastcgi.decode_response(exchange(server.port, data))
    assert response.status == 200 and server.errors == []


# -- every bad request answered and logged ------------------------------------------------

BEGIN = fastcgi.record(fastcgi.BEGIN_REQUEST, 1, fastcgi.BEGIN_BODY.pack(1, 0))
GET = fastcgi.stream(fastcgi.PARAMS, 1, fastcgi.encode_pairs({"REQUEST_METHOD": "GET"}))
BAD_FASTCGI = {
    "a record of another version": (BEGIN + b"\x02" + GET[1:], [("STDOUT", 1), ("STDOUT", 1),
                                                                ("END_REQUEST", 1)], 400),
    "PARAMS after STDIN began": (BEGIN + fastcgi.record(fastcgi.STDIN, 1, b"x") + GET,
                                 [("STDOUT", 1), ("STDOUT", 1), ("END_REQUEST", 1)], 400),
    "the front end aborts": (BEGIN + fastcgi.record(fastcgi.ABORT_REQUEST, 1),
                             [("STDOUT", 1), ("STDOUT", 1), ("END_REQUEST", 1)], 400),
    "a second request on the connection": (
        BEGIN + fastcgi.record(fastcgi.BEGIN_REQUEST, 2, fastcgi.BEGIN_BODY.pack(1, 0)),
        [("END_REQUEST", 1)], fastcgi.CANT_MPX_CONN),
    "cut short, then the write side closed": (BEGIN + GET[:5], [("STDOUT", 1), ("STDOUT", 1),
                                                                ("END_REQUEST", 1)], 400),
}


@pytest.mark.parametrize("name", list(BAD_FASTCGI))
def test_a_bad_fastcgi_request_is_answered_on_its_request_id_and_logged(name):
    data, want, status = BAD_FASTCGI[name]
    with WireServer("fastcgi", app, quiet=True) as server:
        raw = exchange(server.port, data)
        assert records(raw) == want, name
        reply = fastcgi.decode_reply(raw)
        if status == 400:
            assert fastcgi.decode_response(raw).status == 400
            assert reply.protocol_status == fastcgi.REQUEST_COMPLETE
        else:
            assert reply.protocol_status == status
        assert len(server.errors) == 1 and "bad fastcgi request" in server.errors[0]
        # ... and the server goes on serving
        ok = exchange(server.port, fastcgi.encode_request(gl.Request("GET", "/ok")))
        assert fastcgi.decode_response(ok).status == 200


def test_garbage_with_no_request_id_is_logged_and_closed():
    with WireServer("fastcgi", app, quiet=True) as server:
        assert exchange(server.port, b"GET / HTTP/1.1\r\n\r\n") == b""
        assert "no request to answer" in server.errors[-1]


@pytest.mark.parametrize("protocol", ["scgi", "uwsgi"])
def test_a_request_cut_short_gets_a_400(protocol):
    data = CODECS[protocol].encode_request(gl.Request("POST", "/", body=b"x" * 100))
    with WireServer(protocol, app, quiet=True) as server:
        response = CODECS[protocol].decode_response(exchange(server.port, data[:-10]))
        assert response.status == 400 and b"stopped sending after" in response.body
        assert "stopped sending after" in server.errors[-1]


# -- bounds ----------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", list(CODECS))
def test_a_body_over_max_body_gets_413_before_it_is_read(protocol):
    codec = CODECS[protocol]
    with WireServer(protocol, app, max_body=50_000, quiet=True) as server:
        fits = codec.encode_request(gl.Request("PUT", "/up", body=b"x" * 50_000))
        assert codec.decode_response(exchange(server.port, fits)).status == 200
        big = codec.encode_request(gl.Request("PUT", "/up", body=b"x" * 2_000_000))
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(big[:60_000])  # the head, and a little of the body
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        response = codec.decode_response(reply)
        assert response.status == 413 and b"2000000 bytes" in response.body
        (finding,) = server.traces[-1].findings
        assert finding.rule == "http.body.too_large"
        assert "max_body (50000)" in server.errors[-1]


@pytest.mark.parametrize("protocol", ["scgi", "uwsgi"])
def test_a_huge_declared_body_is_413_not_400(protocol):
    # The head of a request that says its body is 999,999,999 bytes (none of it sent).
    if protocol == "scgi":
        block = b"CONTENT_LENGTH\x00999999999\x00SCGI\x001\x00REQUEST_METHOD\x00PUT\x00"
        head = str(len(block)).encode() + b":" + block + b","
    else:
        block = b"".join(uwsgi.SIZE.pack(len(x)) + x for x in (
            b"CONTENT_LENGTH", b"9" * 9, b"REQUEST_METHOD", b"PUT"))
        head = uwsgi.HEADER.pack(0, len(block), 0) + block
    with WireServer(protocol, app, quiet=True) as server:
        response = CODECS[protocol].decode_response(exchange(server.port, head))
    assert response.status == 413 and b"999999999 bytes" in response.body


def test_two_hundred_connections_are_accepted_at_once():
    with WireServer("scgi", app, quiet=True) as server:
        started = time.monotonic()
        clients = [socket.create_connection(("127.0.0.1", server.port), timeout=10)
                   for _ in range(200)]
        try:
            while server.connections < 200 and time.monotonic() - started < 10:
                time.sleep(0.02)
            took = time.monotonic() - started
            assert server.connections == 200 and took < 2.0, took
            # ... and a request on one of them is served at once
            clients[-1].sendall(scgi.encode_request(gl.Request("GET", "/last")))
            clients[-1].shutdown(socket.SHUT_WR)
            assert b"/last pid=" in clients[-1].recv(65536)
        finally:
            for client in clients:
                client.close()


def test_past_max_connections_a_connection_waits_in_the_backlog():
    with WireServer("scgi", app, max_connections=3, quiet=True) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10)
                for _ in range(3)]
        waiting = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        waiting.sendall(scgi.encode_request(gl.Request("GET", "/waited")))
        waiting.shutdown(socket.SHUT_WR)
        time.sleep(0.3)
        assert server.connections == 3  # not accepted yet: it waits in the backlog
        idle[0].close()
        reply = waiting.recv(65536)
        assert scgi.decode_response(reply).status == 200
        for sock in [*idle[1:], waiting]:
            sock.close()


@pytest.mark.timeout(60)
def test_a_slowloris_is_cut_at_the_deadline_while_others_are_served():
    request = scgi.encode_request(gl.Request("POST", "/slow", body=b"z" * 50))
    with WireServer("scgi", app, read_timeout=1.5, quiet=True) as server:
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        answered = threading.Event()

        def trickle():  # one byte a second: the request would take two minutes
            for byte in request:
                try:
                    slow.sendall(bytes([byte]))
                except OSError:
                    return
                if answered.wait(1.0):
                    return

        started = time.monotonic()
        thread = threading.Thread(target=trickle)
        thread.start()
        served = []
        for i in range(5):  # meanwhile, other clients get their answers right away
            begun = time.monotonic()
            reply = exchange(server.port, scgi.encode_request(gl.Request("GET", f"/q{i}")))
            served.append((scgi.decode_response(reply).status, time.monotonic() - begun))
            time.sleep(0.1)
        assert [status for status, _ in served] == [200] * 5
        assert max(took for _, took in served) < 0.5, served
        reply = slow.recv(65536)
        cut_after = time.monotonic() - started
        answered.set()
        thread.join(20)
        slow.close()
    assert scgi.decode_response(reply).status == 408
    assert 1.5 <= cut_after < 3.5, cut_after
    assert "not complete after 1.5 s" in server.errors[-1]
    assert server.traces[-1].findings[0].rule == "http.request.too_slow"


# -- a reply cut short ----------------------------------------------------------------------

@pytest.mark.parametrize("protocol", list(CODECS))
def test_a_reply_cut_at_max_body_does_not_reach_the_front_end_as_whole(protocol):
    # SCGI and uwsgi end a reply by closing: an orderly close after 10 MiB would tell the
    # front end the reply was whole.  FastCGI ends it with END_REQUEST: none is sent.
    codec = CODECS[protocol]
    with WireServer(protocol, app, quiet=True) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(codec.encode_request(gl.Request("GET", "/huge")))
            reply, reset = b"", False
            try:
                while chunk := sock.recv(1 << 20):
                    reply += chunk
            except ConnectionResetError:
                reset = True
        if protocol == "fastcgi":
            got = fastcgi.parse_records(reply)
            assert [fastcgi.TYPES[r.type] for r in got[-2:]] == ["STDERR", "STDERR"]
            assert got[-2].content == b"the response was cut short (wsgi.body.too_large)\n"
            with pytest.raises(gl.wire.WireError, match="ends before END_REQUEST"):
                fastcgi.decode_reply(reply)
        else:
            assert reset and len(reply) < 11 << 20
        assert [f.rule for f in server.traces[-1].findings] == ["wsgi.body.too_large"]
        assert "GET /huge: the response was cut short after 10485760 body bytes " \
               "(wsgi.body.too_large)" in server.errors[-1]
        ok = exchange(server.port, codec.encode_request(gl.Request("GET", "/after")))
        assert codec.decode_response(ok).status == 200


# -- an app that will not stop -------------------------------------------------------------

@pytest.mark.timeout(60)
def test_an_app_that_cannot_be_stopped_gets_504_and_a_fresh_worker():
    with WireServer("uwsgi", app, timeout=0.5, quiet=True) as server:
        first = server.pool.workers[0].pid
        started = time.monotonic()
        reply = uwsgi.decode_response(exchange(server.port, uwsgi.encode_request(
            gl.Request("GET", "/in_c"))))
        assert reply.status == 504 and time.monotonic() - started < 0.5 + KILL_GRACE + 3
        notes = [e.detail for e in server.traces[-1].events if e.kind == "note"]
        assert any(f"(pid {first})" in n and "killed the worker" in n for n in notes)
        assert server.traces[-1].events[0].kind == "wire read"  # the wire fields first
        for i in range(20):
            ok = uwsgi.decode_response(exchange(server.port, uwsgi.encode_request(
                gl.Request("GET", f"/ok{i}"))))
            assert ok.status == 200
        assert f"pid={first}".encode() not in ok.body
