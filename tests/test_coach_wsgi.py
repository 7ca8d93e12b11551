"""The WSGI half of the spec coach: broken apps get a real server's answer and
a finding that names the rule; nothing is left running afterwards."""

import ast
import inspect
import re
import sys
import threading
import time
import wsgiref.validate

import pytest

import gateway_lab as gl
from gateway_lab import sandbox
from gateway_lab.rules import all_rules
from gateway_lab.rules.wsgi import VALIDATE_MAP

TEXT = [("Content-Type", "text/plain")]


def ok(start_response, status="200 OK", headers=None):
    start_response(status, TEXT if headers is None else headers)


# -- the catalog: (app, expected rule, expected status, complete?) ---------------------

def returns_str(environ, start_response):
    ok(start_response)
    return "hello"


def returns_none(environ, start_response):
    ok(start_response)


def yields_str(environ, start_response):
    ok(start_response)
    return ["hello"]


def never_starts(environ, start_response):
    return [b"body without a status"]


def starts_twice(environ, start_response):
    ok(start_response)
    ok(start_response, "404 Not Found")
    return [b"x"]


def status_int(environ, start_response):
    start_response(200, TEXT)
    return [b"x"]


def status_no_reason(environ, start_response):
    start_response("200", TEXT)
    return [b"x"]


def headers_dict(environ, start_response):
    start_response("200 OK", {"Content-Type": "text/plain"})
    return [b"x"]


class HeaderList(list):
    pass


def headers_list_subclass(environ, start_response):
    start_response("200 OK", HeaderList(TEXT))
    return [b"x"]


def header_bytes(environ, start_response):
    start_response("200 OK", [(b"Content-Type", b"text/plain")])
    return [b"x"]


def header_splitting(environ, start_response):
    name = "Ada\r\nSet-Cookie: admin=1"
    start_response("200 OK", TEXT + [("X-User", name)])
    return [b"x"]


def header_bad_name(environ, start_response):
    start_response("200 OK", TEXT + [("X Trace", "1")])  # a space: not a token
    return [b"x"]


def header_name_validate_refuses(environ, start_response):
    start_response("200 OK", TEXT + [("X-Trace-", "1")])  # a token, but validate's pattern
    return [b"x"]


def header_not_latin1(environ, start_response):
    start_response("200 OK", TEXT + [("Content-Disposition", "attachment; filename=€.txt")])
    return [b"x"]


def hop_by_hop(environ, start_response):
    start_response("200 OK", TEXT + [("Connection", "close")])
    return [b"x"]


def status_header(environ, start_response):
    start_response("200 OK", TEXT + [("Status", "200 OK")])
    return [b"x"]


def no_content_type(environ, start_response):
    start_response("200 OK", [])
    return [b"x"]


def content_type_on_204(environ, start_response):
    start_response("204 No Content", TEXT)
    return []


def wrong_content_length(environ, start_response):
    start_response("200 OK", TEXT + [("Content-Length", "100")])
    return [b"short"]


def write_str(environ, start_response):
    write = start_response("200 OK", TEXT)
    write("text")
    return []


def write_before_start(environ, start_response):
    environ["start_write"] = True
    return WriteFirst(start_response)


class WriteFirst:
    def __init__(self, start_response):
        self.start_response = start_response

    def __iter__(self):
        write = self.start_response("200 OK", TEXT)
        write(b"early ")
        write(b"then ")  # fine: write() after start_response
        yield b"done"
        write(b"inside")  # write() while the server iterates: not allowed


def raises_before_start(environ, start_response):
    return [1 / 0]


def raises_after_start(environ, start_response):
    ok(start_response)
    yield b"first"
    raise KeyError("user_id")


class CloseRaises:
    def __iter__(self):
        return iter([b"x"])

    def close(self):
        raise OSError("disk full")


def close_raises(environ, start_response):
    ok(start_response)
    return CloseRaises()


def reads_past_content_length(environ, start_response):
    data = environ["wsgi.input"].read(1024)
    ok(start_response)
    return [data]


def closes_input(environ, start_response):
    environ["wsgi.input"].close()
    ok(start_response)
    return [b"x"]


def errors_bytes(environ, start_response):
    environ["wsgi.errors"].write(b"oops\n")
    ok(start_response)
    return [b"x"]


def start_response_kwargs(environ, start_response):
    start_response(status="200 OK", headers=TEXT)
    return [b"x"]


def exc_info_exception(environ, start_response):
    try:
        raise ValueError("bad")
    except ValueError as error:
        start_response("500 Oops", TEXT, error)
    return [b"x"]


def exc_info_outside_except(environ, start_response):
    ok(start_response)
    yield b"first"
    # Not inside `except`: sys.exc_info() is (None, None, None), nothing to re-raise.
    start_response("500 Oops", TEXT, sys.exc_info())
    yield b"never sent"


def content_length_not_a_number(environ, start_response):
    start_response("200 OK", TEXT + [("Content-Length", "abc")])
    return [b"x"]


def content_length_twice(environ, start_response):
    start_response("200 OK", TEXT + [("Content-Length", "1"), ("Content-Length", "2")])
    return [b"x"]


def status_100(environ, start_response):
    start_response("100 Continue", TEXT)
    return [b""]


class WrongLen(list):
    def __len__(self):
        return 5


def wrong_len(environ, start_response):
    ok(start_response)
    return WrongLen([b"a", b"b"])


def not_callable_app():
    return "this is a str, not an app"


def infinite_loop(environ, start_response):
    while True:
        pass


def two_params_missing(environ):
    return [b"x"]


async def asgi_app_given_to_wsgi(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def async_wsgi_app(environ, start_response):  # a learner's "async WSGI"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"x"]


CATALOG = {
    "returns_str": (returns_str, "wsgi.body.str_or_bytes", 500),
    "returns_none": (returns_none, "wsgi.body.not_iterable", 500),
    "yields_str": (yields_str, "wsgi.body.not_bytes", 500),
    "never_starts": (never_starts, "wsgi.body.before_start_response", 500),
    "starts_twice": (starts_twice, "wsgi.start_response.called_twice", 500),
    "status_int": (status_int, "wsgi.status.not_str", 500),
    "status_no_reason": (status_no_reason, "wsgi.status.malformed", 200),
    "headers_dict": (headers_dict, "wsgi.headers.not_list", 500),
    "headers_list_subclass": (headers_list_subclass, "wsgi.headers.list_subclass", 200),
    "header_bytes": (header_bytes, "wsgi.headers.not_tuple", 500),
    "header_splitting": (header_splitting, "wsgi.headers.control_chars", 500),
    "header_bad_name": (header_bad_name, "wsgi.headers.bad_name", 500),
    "header_name_validate_refuses": (header_name_validate_refuses,
                                     "wsgi.headers.name_validate_only", 200),
    "header_not_latin1": (header_not_latin1, "wsgi.headers.not_latin1", 500),
    "hop_by_hop": (hop_by_hop, "wsgi.headers.hop_by_hop", 200),
    "status_header": (status_header, "wsgi.headers.status_header", 200),
    "no_content_type": (no_content_type, "wsgi.headers.content_type_missing", 200),
    "content_type_on_204": (content_type_on_204, "wsgi.headers.content_type_forbidden", 204),
    "wrong_content_length": (wrong_content_length, "wsgi.content_length.mismatch", 200),
    "content_length_not_a_number": (content_length_not_a_number,
                                    "wsgi.content_length.invalid", 500),
    "content_length_twice": (content_length_twice, "wsgi.content_length.invalid", 500),
    "status_100": (status_100, "wsgi.status.informational", 500),
    "write_str": (write_str, "wsgi.write.not_bytes", 500),
    "write_inside_iterable": (write_before_start, "wsgi.write.inside_iterable", 200),
    "raises_before_start": (raises_before_start, "wsgi.app.raised", 500),
    "raises_after_start": (raises_after_start, "wsgi.app.raised_after_start", 200),
    "close_raises": (close_raises, "wsgi.close.raised", 200),
    "reads_past_content_length": (reads_past_content_length,
                                  "wsgi.input.past_content_length", 200),
    "closes_input": (closes_input, "wsgi.input.closed", 200),
    "errors_bytes": (errors_bytes, "wsgi.errors.not_str", 200),
    "start_response_kwargs": (start_response_kwargs, "wsgi.start_response.arguments", 500),
    "exc_info_exception": (exc_info_exception, "wsgi.start_response.exc_info_not_tuple", 500),
    "exc_info_outside_except": (exc_info_outside_except,
                                "wsgi.start_response.exc_info_no_error", 200),
    "wrong_len": (wrong_len, "wsgi.len.wrong", 200),
    "not_callable": (not_callable_app(), "wsgi.app.not_callable", 500),
    "one_parameter": (two_params_missing, "wsgi.app.signature", 500),
    "asgi_app": (asgi_app_given_to_wsgi, "wsgi.app.is_async", 500),
    "async_def_wsgi": (async_wsgi_app, "wsgi.app.is_async", 500),
}


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_broken_app_gets_a_server_answer_and_a_finding(name):
    app, rule, status = CATALOG[name]
    start = time.perf_counter()
    ex = gl.run_wsgi(app, gl.Request("POST", "/", body=b"tiny"), timeout=2.0)
    elapsed = time.perf_counter() - start
    rules = [f.rule for f in ex.findings]
    assert rule in rules, (rules, str(ex))
    assert ex.response.status == status
    assert elapsed < 2.0
    assert sandbox.lab_threads() == []
    finding = next(f for f in ex.findings if f.rule == rule)
    assert finding.message and finding.hint and finding.url.startswith("https://")
    # a section of PEP 3333, or of the HTTP RFC for the rules PEP 3333 leaves to HTTP
    assert re.match(r"(PEP 3333|RFC 911[02]) §", finding.spec), finding.spec
    # the trace shows where it happened, with the finding in place
    assert any(e.finding is finding for e in ex.trace)


def test_a_cut_response_after_the_status_line_went_out():
    ex = gl.run_wsgi(raises_after_start)
    assert ex.response.complete is False and ex.response.body == b"first"
    assert "KeyError" in ex.findings[0].message and "user_id" in ex.findings[0].message


def test_response_splitting_is_never_sent():
    ex = gl.run_wsgi(header_splitting)
    assert ex.response.status == 500
    assert all("Set-Cookie" not in v for _, v in ex.response.headers)


def test_infinite_loop_is_stopped_and_the_next_run_works():
    start = time.perf_counter()
    ex = gl.run_wsgi(infinite_loop, timeout=0.5)
    assert time.perf_counter() - start < 2.0
    assert ex.response.status == 504
    assert [f.rule for f in ex.findings] == ["wsgi.app.timeout"]
    assert "stopped" in ex.findings[0].message
    assert sandbox.lab_threads() == []
    again = gl.run_wsgi(returns_str)
    assert again.response.status == 500  # the lab still works


def blocked(environ, start_response):
    time.sleep(1.5)  # blocked inside C
    ok(start_response)
    return [b"late"]


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGALRM on Windows")
def test_a_blocking_call_on_the_main_thread_is_interrupted():
    start = time.perf_counter()
    ex = gl.run_wsgi(blocked, timeout=0.3)
    assert time.perf_counter() - start < 1.0
    assert ex.response.status == 504 and "it was stopped" in ex.findings[0].message
    assert sandbox.lab_threads() == []


def test_a_blocked_app_off_the_main_thread_is_abandoned_not_waited_for():
    result = {}

    def client():
        start = time.perf_counter()
        result["ex"] = gl.run_wsgi(blocked, timeout=0.3)
        result["elapsed"] = time.perf_counter() - start

    thread = threading.Thread(target=client)
    thread.start()
    thread.join(5)
    assert result["elapsed"] < 1.2
    ex = result["ex"]
    assert ex.response.status == 504
    assert "C call" in ex.findings[0].message
    # the one blocked thread is the only one left, and it ends by itself
    assert len(sandbox.lab_threads()) <= 1
    time.sleep(1.5)
    assert sandbox.lab_threads() == []


def test_correct_apps_have_no_findings():
    def good(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", TEXT + [("Content-Length", str(len(body)))])
        return [body]

    assert gl.run_wsgi(good, gl.Request("POST", "/", body=b"abc")).findings == []


def _validate_checks():
    """Every assertion and warning in CPython's wsgiref/validate.py, keyed as VALIDATE_MAP is."""
    tree = ast.parse(inspect.getsource(wsgiref.validate))
    keys = []

    def visit(node, fn):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef) else fn
            if isinstance(child, ast.Call):
                called = getattr(child.func, "id", None) or getattr(child.func, "attr", None)
                if called == "assert_":
                    keys.append(f"{fn}: {ast.unparse(child.args[0])}")
                elif called == "warn":
                    keys.append(f"{fn}: warn")
                elif called == "check_string_type":
                    keys.append(f"{fn}: {ast.unparse(child.args[1])} is str")
            visit(child, name)

    visit(tree, None)
    return keys


@pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                    reason="the map follows Python 3.11's wsgiref/validate.py line by line")
def test_every_wsgiref_validate_check_maps_to_a_rule():
    checks = _validate_checks()
    assert len(checks) >= 50
    missing = [c for c in checks if c not in VALIDATE_MAP]
    assert missing == []
    rules = all_rules()
    for target in VALIDATE_MAP.values():
        if target.startswith(("server:", "allowed:")):
            continue
        for rule_id in target.split("|"):
            assert rule_id in rules, rule_id


def test_every_app_side_validate_rule_is_exercised_by_the_catalog():
    """The mapping is not just names: each app-side rule it names is found in a real run."""
    found = set()
    for app, _rule, _ in CATALOG.values():
        found |= {f.rule for f in gl.run_wsgi(app, gl.Request("POST", "/", body=b"tiny")).findings}
    named = {r for t in VALIDATE_MAP.values() if not t.startswith(("server:", "allowed:"))
             for r in t.split("|")}
    untested = named - found - {"wsgi.input.bad_argument"}
    assert untested == set()


def test_bad_argument_to_readline():
    def app(environ, start_response):
        environ["wsgi.input"].readline("10")
        ok(start_response)
        return [b"x"]

    ex = gl.run_wsgi(app)
    assert ex.response.status == 500
    assert "wsgi.input.bad_argument" in [f.rule for f in ex.findings]


def test_raw_bytes_that_no_server_accepts_never_reach_the_app():
    called = []

    def app(environ, start_response):
        called.append(True)
        ok(start_response)
        return [b"x"]

    smuggled = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    ex = gl.run_wsgi(app, smuggled)
    assert called == [] and ex.response.status == 400
    assert [f.rule for f in ex.findings] == ["http.smuggling.cl_te"]
    assert "smuggling" in ex.findings[0].message
    big = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * 20000 + b"\r\n\r\n"
    assert gl.run_wsgi(app, big).response.status == 431
    good = gl.run_wsgi(app, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    assert good.response.status == 200 and called == [True]


def test_underscore_headers_are_dropped_like_nginx_does():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        ok(start_response)
        return [b"x"]

    ex = gl.run_wsgi(app, gl.Request("GET", "/", {"X_User": "admin", "X-User": "ada"}))
    assert seen["HTTP_X_USER"] == "ada"
    # The server did right: a note in the trace, not a finding against anyone.
    assert ex.findings == []
    notes = [e for e in ex.trace.events if e.kind == "note"]
    assert [e.actor for e in notes] == ["server"] and "X_User" in notes[0].detail


# -- hostile and odd inputs: a server's answer, never a traceback from the lab -----------

def app_with_status(status):
    def app(environ, start_response):
        start_response(status, TEXT)
        return [b"x"]
    return app


@pytest.mark.parametrize("status", ["200 OK\r\nSet-Cookie: session=evil",  # splits the line
                                    "\uff12\uff10\uff10 OK",  # fullwidth digits: '２００'
                                    "1000 Too Long", "999 Out Of Range", "200 Caf\u00e9 \u20ac"])
def test_a_status_no_server_could_send_gets_a_500(status):
    ex = gl.run_wsgi(app_with_status(status))
    assert ex.response.status == 500
    assert [f.rule for f in ex.findings] == ["wsgi.status.malformed"]
    assert not any("evil" in str(v) for _, v in ex.response.headers)


def test_a_status_without_its_reason_is_passed_on_with_a_finding():
    ex = gl.run_wsgi(app_with_status("404"))
    assert (ex.response.status, ex.response.body) == (404, b"x")
    assert [f.rule for f in ex.findings] == ["wsgi.status.malformed"]
    ex = gl.run_wsgi(app_with_status("404\tNot Found"))  # a tab for the space: int() of it failed
    assert (ex.response.status, ex.response.reason) == (404, "Not Found")


@pytest.mark.parametrize("length", ["9" * 5000, "\u00b2", "0" * 5000 + "1"])
def test_an_absurd_content_length_is_judged_not_raised(length):
    # int() of 5,000 digits raises ValueError, and so does int('²'), which isdigit() passes.
    ex = gl.run_wsgi(lambda environ, start_response: (
        start_response("200 OK", TEXT + [("Content-Length", length)]), [b"x"])[1])
    if length == "\u00b2":  # no number at all (RFC 9110 §8.6: ASCII digits)
        assert ex.response.status == 500
        assert [f.rule for f in ex.findings] == ["wsgi.content_length.invalid"]
        return
    assert ex.response.status == 200
    if length.startswith("9"):
        finding = next(f for f in ex.findings if f.rule == "wsgi.content_length.mismatch")
        assert len(finding.message) < 300 and ex.response.complete is False
    else:
        assert ex.findings == [] and ex.response.body == b"x"


@pytest.mark.parametrize("lengths", [["abc"], ["-1"], ["+5"], ["1,2"], ["5 x"], [""],
                                     ["1", "2"]])
def test_a_content_length_that_states_no_one_length_is_never_sent(lengths):
    # RFC 9112 §6.3: an invalid Content-Length is an unrecoverable error for the
    # client; a server must not pass the body on under it (h11 refuses each of these).
    ex = gl.run_wsgi(lambda environ, start_response: (
        start_response("200 OK", TEXT + [("Content-Length", v) for v in lengths]),
        [b"hello"])[1])
    assert ex.response.status == 500 and b"hello" not in ex.response.body
    assert [f.rule for f in ex.findings] == ["wsgi.content_length.invalid"]
    assert repr(lengths[-1]) in ex.findings[0].message


@pytest.mark.parametrize("lengths", [["5"], ["5", "5"], ["5, 5"], ["005"]])
def test_one_length_however_repeated_is_served(lengths):
    ex = gl.run_wsgi(lambda environ, start_response: (
        start_response("200 OK", TEXT + [("Content-Length", v) for v in lengths]),
        [b"hello"])[1])
    assert (ex.response.status, ex.response.body, ex.findings) == (200, b"hello", [])


class Unreadable(Exception):
    def __str__(self):
        raise SystemExit("from __str__")  # the learner's code, run when the lab words it


def test_an_error_whose_str_raises_systemexit_is_reported_not_raised():
    def app(environ, start_response):
        raise Unreadable()

    ex = gl.run_wsgi(app)
    assert ex.response.status == 500
    assert "Unreadable: (its message could not be read)" in ex.findings[0].message


def test_close_that_raises_systemexit_is_a_close_finding():
    class Body:
        def __iter__(self):
            return iter([b"x"])

        def close(self):
            sys.exit(1)

    def app(environ, start_response):
        ok(start_response)
        return Body()

    ex = gl.run_wsgi(app)
    assert (ex.response.status, ex.response.body, ex.response.complete) == (200, b"x", True)
    assert [f.rule for f in ex.findings] == ["wsgi.close.raised"]


def test_an_error_inside_the_standard_library_names_the_apps_line():
    import json

    def app(environ, start_response):
        json.loads("{not json")  # the error is raised inside json.decoder
        ok(start_response)
        return [b"x"]

    ex = gl.run_wsgi(app)
    message = ex.findings[0].message
    line = inspect.getsourcelines(app)[1] + 1  # the json.loads line
    assert f"test_coach_wsgi.py line {line}" in message, message


def test_an_async_app_in_a_wsgi_server_is_named_an_asgi_app_and_leaves_no_warning():
    """A coroutine a WSGI server cannot run is closed by the lab: the learner gets the
    finding that says which interface the app is for, not Python's 'never awaited'."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 'never awaited' RuntimeWarning would fail here
        ex = gl.run_wsgi(async_wsgi_app, gl.Request("GET", "/"))
        import gc
        gc.collect()
    (finding,) = ex.findings
    assert finding.rule == "wsgi.app.is_async" and "'async_wsgi_app'" in finding.message
    assert "gl.run_asgi" in finding.hint


def test_the_content_type_rules_cite_what_states_them():
    """PEP 3333 says nothing of Content-Type: the rule is wsgiref.validate's, and the
    HTTP sections behind it; a finding must not put it in PEP 3333's mouth."""
    for app, rule in ((no_content_type, "wsgi.headers.content_type_missing"),
                      (content_type_on_204, "wsgi.headers.content_type_forbidden")):
        ex = gl.run_wsgi(app, gl.Request("GET", "/"))
        finding = next(f for f in ex.findings if f.rule == rule)
        assert "PEP 3333" not in finding.spec and "wsgiref.validate" in finding.spec
        assert finding.url.startswith("https://www.rfc-editor.org/rfc/rfc9110#section-")


def test_a_thread_pool_job_left_running_is_reported_whatever_code_it_runs():
    from concurrent.futures import ThreadPoolExecutor

    release = threading.Event()
    pool = ThreadPoolExecutor(thread_name_prefix="learner-pool")

    def app(environ, start_response):
        pool.submit(release.wait, 5)  # threading's code, but the app's job
        start_response("200 OK", TEXT)
        return [b"started"]

    try:
        ex = gl.run_wsgi(app)
        assert ex.response.status == 200
        [finding] = ex.findings
        assert finding.rule == "sandbox.left_threads"
        assert "'learner-pool_0'" in finding.message
        assert "running threading.Event.wait" in finding.message
    finally:
        release.set()
        pool.shutdown()
    # An idle pool thread left from an earlier run is no finding.
    pool = ThreadPoolExecutor(thread_name_prefix="learner-pool")
    try:
        ex = gl.run_wsgi(lambda environ, start_response: (
            pool.submit(int).result(), start_response("200 OK", TEXT), [b"ok"])[2])
        assert ex.findings == []
    finally:
        pool.shutdown()


@pytest.mark.parametrize("name", ["X.Trace", "X-Trace-", "1st", "x~y", "X_"])
def test_a_token_wsgiref_validate_refuses_is_sent_with_a_finding(name):
    """PEP 3333 asks for a valid HTTP field name, a token (RFC 9110 §5.1): servers send
    these; only wsgiref.validate's stricter pattern refuses them.  Sent, and said."""
    ex = gl.run_wsgi(lambda environ, start_response: (
        start_response("200 OK", TEXT + [(name, "1")]), [b"ok"])[1])
    assert ex.response.status == 200 and ex.response.header(name) == "1"
    assert [f.rule for f in ex.findings] == ["wsgi.headers.name_validate_only"]
    with pytest.raises(AssertionError):  # and wsgiref.validate does refuse it
        wsgiref.validate.validator(lambda environ, start_response: (
            start_response("200 OK", TEXT + [(name, "1")]), [b"ok"])[1])(
            _validate_environ(), lambda status, headers, exc_info=None: None)


def _validate_environ() -> dict:
    import io
    from wsgiref.util import setup_testing_defaults

    environ = {"wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(), "QUERY_STRING": ""}
    setup_testing_defaults(environ)
    return environ
