"""The views: the sequence diagram, the stepper and the request builder, driven as a user would
(buttons clicked, fields filled), without a browser (tests/test_browser.py has one)."""

import html
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import gateway_lab as gl
from gateway_lab.views import sequence, sequence_mermaid, sequence_svg
from gateway_lab.views.panels import data_html, step_html
from gateway_lab.views.requests import InputError, build_request, header_pairs, run_through

SVG = "{http://www.w3.org/2000/svg}"


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Hello, ", environ["QUERY_STRING"].encode()]


def yields_str(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["not bytes"]


@pytest.fixture
def ok():
    return gl.run_wsgi(hello, gl.Request("GET", "/hi?name=Ada"))


@pytest.fixture
def broken():
    return gl.run_wsgi(yields_str, gl.Request("GET", "/"))


def rows(svg: str):
    return [g for g in ET.fromstring(svg).iter(f"{SVG}g") if "gl-step" in g.get("class", "")]


# -- the sequence diagram --------------------------------------------------------------

def test_svg_has_a_lane_per_actor_and_a_row_per_event(ok):
    root = ET.fromstring(sequence_svg(ok))  # well-formed XML, or this raises
    titles = [t.text for t in root.iter(f"{SVG}text")][:4]
    assert titles == ["client", "server", "gateway", "app"]
    assert len(rows(sequence_svg(ok))) == len(ok.trace.events)


def test_svg_arrows_go_from_actor_to_target(ok):
    svg = sequence_svg(ok)
    lane_x = {t.text: float(t.get("x")) for t in list(ET.fromstring(svg).iter(f"{SVG}text"))[:4]}
    for event, row in zip(ok.trace.events, rows(svg), strict=True):
        line = row.find(f"{SVG}line")
        assert line is not None, f"{event} has a target, so it is drawn as an arrow"
        assert float(line.get("x1")) == lane_x[event.actor]
        assert float(line.get("x2")) == lane_x[event.target]


def test_svg_highlights_exactly_the_current_step(ok):
    for current in (0, 3, len(ok.trace.events) - 1):
        marked = [r.get("data-step") for r in rows(sequence_svg(ok, current))
                  if "gl-step-current" in r.get("class")]
        assert marked == [str(current)]
    assert not any("gl-step-current" in r.get("class") for r in rows(sequence_svg(ok)))


def test_svg_draws_findings_in_red_with_the_rule(broken):
    svg = sequence_svg(broken)
    red = [r for r in rows(svg) if "gl-finding" in r.get("class")]
    assert len(red) == 1
    text = "".join(red[0].itertext())
    assert "wsgi.body.not_bytes" in text
    assert "#b00020" in ET.tostring(red[0]).decode()


def test_svg_escapes_what_the_app_wrote(ok):
    def sneaky(environ, start_response):
        environ["wsgi.errors"].write("<script>alert(1)</script> & more")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    svg = sequence_svg(gl.run_wsgi(sneaky, gl.Request()))
    assert "<script>" not in svg
    ET.fromstring(svg)


def test_mermaid_source_lists_participants_and_messages(ok, broken):
    text = sequence_mermaid(ok, current=1)
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert lines[1:5] == [f"    participant {a}" for a in ("client", "server", "gateway", "app")]
    assert "client->>server: 1. request#58; GET /hi?name=Ada" in text
    assert "    rect rgb(255, 243, 176)" in lines  # the current step
    bad = sequence_mermaid(broken)
    assert re.search(r"Note over app: \d+\. ✗ wsgi\.body\.not_bytes", bad)
    # Mermaid syntax characters in details are entity-coded, never raw.
    assert ";" not in "".join(line.split(": ", 1)[-1].replace("#59;", "").replace(
        "#58;", "").replace("#35;", "").replace("#60;", "").replace("#62;", "")
        for line in bad.splitlines()[5:])


def test_display_bundle_offers_svg_mermaid_and_text(ok):
    bundle = sequence(ok, 2)._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/vnd.mermaid", "text/plain"}
    assert bundle["text/vnd.mermaid"].startswith("sequenceDiagram")
    assert "start_response" in bundle["text/plain"]


def test_sequence_rejects_what_is_not_a_trace():
    with pytest.raises(TypeError, match="Trace or Exchange"):
        sequence_svg("GET /")


# -- panels ---------------------------------------------------------------------------------

def test_detail_panel_shows_the_environ_at_the_environ_step(ok):
    i = next(i for i, e in enumerate(ok.trace.events) if e.kind == "environ")
    panel = step_html(ok.trace, i)
    assert "PATH_INFO" in panel and "&#x27;/hi&#x27;" in panel
    assert "QUERY_STRING" in panel and "name=Ada" in panel
    assert "https://peps.python.org/pep-3333/" in panel


def test_detail_panel_shows_a_finding_with_spec_link_and_hint(broken):
    i = next(i for i, e in enumerate(broken.trace.events) if e.finding is not None)
    panel = step_html(broken.trace, i)
    f = broken.findings[0]
    assert "gl-finding" in panel and f.rule in panel and f.url in panel
    assert "encode" in panel  # the hint


def test_data_html_reads_asgi_style_headers_and_bytes():
    out = data_html({"type": "http.response.start", "status": 200,
                     "headers": [(b"content-type", b"text/plain")]})
    assert "content-type: text/plain" in out and "http.response.start" in out


# -- the stepper ------------------------------------------------------------------------------

@pytest.fixture
def widgets():
    """ipywidgets (the `lab` extra); the tests that use a widget skip without it."""
    return pytest.importorskip("ipywidgets")


def test_stepper_next_prev_and_slider_move_the_highlight_and_the_details(ok, widgets):
    from gateway_lab.views import TraceStepper

    s = TraceStepper(ok)
    assert s.step == 0 and s.prev_button.disabled
    first_detail = s.detail.value
    s.next_button.click()
    assert s.step == 1
    assert 'class="gl-step gl-step-current" data-step="1"' in s.diagram.value
    assert s.detail.value != first_detail and "Step 2 of" in s.detail.value
    s.prev_button.click()
    assert s.step == 0 and s.detail.value == first_detail
    s.slider.value = len(ok.trace.events) - 1  # what Play does, through jslink
    assert s.next_button.disabled
    assert "the response the client got" in s.detail.value
    s.go(10_000)
    assert s.step == len(ok.trace.events) - 1


def test_stepper_play_is_linked_to_the_slider_in_the_browser(ok, widgets):
    from gateway_lab.views import TraceStepper

    s = TraceStepper(ok)
    assert s.play.max == s.slider.max == len(ok.trace.events) - 1
    link = s.play_link  # Play must drive the slider front-end side, not from a kernel loop
    assert type(link).__name__ == "Link"
    assert link.source == (s.play, "value") and link.target == (s.slider, "value")


def test_stepper_has_the_css_classes_the_browser_test_uses(ok, widgets):
    from gateway_lab.views import TraceStepper

    s = TraceStepper(ok)
    assert "gl-stepper" in s._dom_classes
    assert "gl-next" in s.next_button._dom_classes and "gl-detail" in s.detail._dom_classes


def test_stepper_accepts_an_empty_trace(widgets):
    from gateway_lab.views import TraceStepper

    s = TraceStepper(gl.Trace("wsgi"))
    s.next_button.click()
    assert s.step == 0 and "no events" in s.detail.value


# -- the request builder ------------------------------------------------------------------------

def test_builder_runs_the_form_through_wsgi_and_shows_response_and_stepper(widgets):
    from gateway_lab.views import RequestBuilder

    b = RequestBuilder(hello)
    b.path.value = "/x?name=Grace"
    b.run_button.click()
    assert b.exchange.response.body == b"Hello, name=Grace"
    assert "200 OK" in b.status.value
    shown = [o["data"].get("application/vnd.jupyter.widget-view+json", {}).get("model_id")
             for o in b.output.outputs]
    assert "Hello, name=Grace" in b.output.outputs[0]["data"]["text/html"]
    assert b.stepper.model_id in shown and b.stepper.exchange is b.exchange
    assert b.stepper.trace.events[0].detail == "GET /x?name=Grace"


def test_builder_default_serves_the_guestbook_with_a_form_post(widgets):
    from gateway_lab.views import RequestBuilder

    b = RequestBuilder(method="POST", path="/guestbook",
                       headers="Content-Type: application/x-www-form-urlencoded",
                       body="name=Ada&message=hi")
    ex = b.run()
    assert ex.response.status == 200 and b"Ada" in ex.response.body


def test_builder_reports_bad_input_in_the_status_line_not_a_traceback(widgets):
    from gateway_lab.views import RequestBuilder

    b = RequestBuilder(hello, path="no-slash")
    assert b.run() is None
    assert "must start with" in b.status.value
    b.path.value, b.headers.value = "/", "Just text"
    assert b.run() is None and "Name: value" in b.status.value
    assert b.output.outputs == ()


def test_builder_shows_findings_and_a_timeout_as_the_client_sees_it(widgets):
    from gateway_lab.views import RequestBuilder

    def forever(environ, start_response):
        while True:
            pass

    b = RequestBuilder(forever, timeout=0.3)
    ex = b.run()
    assert ex.response.status == 504 and "finding" in b.status.value


def test_builder_needs_the_right_kind_of_app_for_the_gateway(widgets):
    from gateway_lab.views import RequestBuilder

    with pytest.raises(ValueError, match="gateway must be one of"):
        RequestBuilder(hello, gateway="fastcgi")
    b = RequestBuilder({"cgi": hello})  # a callable where a script path belongs
    assert b.run() is None and "path of a .py file" in b.status.value


def test_header_pairs_and_build_request():
    assert header_pairs("A: 1\n\nB-C:  two \n") == [("A", "1"), ("B-C", "two")]
    with pytest.raises(InputError, match="before the colon"):
        header_pairs("Host : x")
    with pytest.raises(InputError, match="no server would accept"):
        build_request("GET", "/", "X: a\x00b")


def test_importing_gateway_lab_views_imports_no_notebook_library():
    code = ("import sys, gateway_lab, gateway_lab.views, gateway_lab.views.requests; "
            "from gateway_lab.views import sequence_svg; "
            "eager = [m for m in ('ipywidgets', 'IPython', 'matplotlib') if m in sys.modules]; "
            "assert not eager, f'imported eagerly: {eager}'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_gateway_not_the_form_answers_for_a_missing_script_or_a_non_callable():
    # As a real server does: 404 for a script that is not there, 500 for an app that
    # cannot be called, each with its rule; only a callable given to CGI is refused here.
    ex = run_through("cgi", "no/such/script.py", gl.Request())
    assert ex.response.status == 404 and ex.findings[0].rule == "cgi.script.not_found"
    ex = run_through("wsgi", "not an app", gl.Request())
    assert ex.response.status == 500 and ex.findings[0].rule == "wsgi.app.not_callable"
    with pytest.raises(InputError, match="path of a .py file"):
        run_through("cgi", hello, gl.Request())


# -- the concurrency explorer -------------------------------------------------------------------

def _explorer():
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from gateway_lab.views import ConcurrencyExplorer

    return ConcurrencyExplorer()


def test_explorer_simulates_and_shows_summary_and_gantt_chart():
    e = _explorer()
    e.model.value, e.workers.value, e.requests.value = "threads", 4, 12
    e.run_button.click()
    summary = e.timeline.summary()
    # 3 rounds of 50 ms waits, plus what the default gl.Costs charge for the switches
    assert summary["requests"] == 12 and summary["makespan"] == pytest.approx(0.15, rel=0.01)
    kinds = [set(o["data"]) for o in e.output.outputs]
    assert any("text/html" in k for k in kinds) and any("image/png" in k for k in kinds)


def test_explorer_real_event_loop_shows_the_blocked_loop():
    e = _explorer()
    e.mode.value, e.model.value, e.requests.value = "real", "eventloop", 4
    e.workload.value = "blocking"
    tl = e.run()
    # Four 50 ms sleeps that hold the loop cannot overlap: at least 4 x 50 ms in all.
    assert tl.summary()["makespan"] >= 0.19
    assert e.workers.disabled
    # What the run noticed is shown with its numbers, as the Timeline shows itself.
    assert tl.notes
    shown = "".join(o["data"].get("text/html", "") for o in e.output.outputs)
    assert html.escape(tl.notes[0]) in shown


def test_explorer_workloads_are_the_races_and_pools_take_the_workers():
    pytest.importorskip("ipywidgets")
    from gateway_lab import concurrency as c
    from gateway_lab.concurrency import apps
    from gateway_lab.views.explorer import ConcurrencyExplorer, make_model

    offered = [value for _, value in ConcurrencyExplorer().workload.options]
    assert offered == list(apps.WORKLOADS) and "blocking" in offered
    assert make_model("threads", 7) == c.Threads(7)
    assert make_model("cgi", 3) == c.ProcessPerRequest(limit=3)
    assert make_model("eventloop", 7) == c.EventLoop()


def test_explorer_refuses_a_real_run_too_big_for_the_machine():
    e = _explorer()
    e.mode.value, e.requests.value = "real", 500
    assert e.run() is None and "simulate for more" in e.status.value


# -- the wire viewer ----------------------------------------------------------------------------

def test_hex_dump_colours_each_field_and_outlines_the_current_one():
    from gateway_lab import wire
    from gateway_lab.views.panels import hex_html

    data = wire.scgi.encode_request({"REQUEST_METHOD": "GET"}, b"")
    fields = wire.explain("scgi", data)
    dump = hex_html(data, fields, current=0)
    # the first field is the netstring length "43": two bytes, both outlined
    assert dump.count("gl-field-current") == 2 * 2  # hex column + text column
    assert "netstring length" in dump
    assert dump.count("\n") + 1 == -(-len(data) // 16)  # 16 bytes a row


def test_wire_viewer_steps_through_fields_and_switches_protocol(widgets):
    from gateway_lab.views import WireViewer

    w = WireViewer(gl.Request("POST", "/form", headers={"Content-Type": "text/plain"},
                              body="hi"))
    assert "field 1 of" in w.detail.value and w.prev_button.disabled
    w.next_button.click()
    assert "field 2 of" in w.detail.value
    w.protocol.value = "uwsgi"
    assert w.slider.value == 0 and "modifier1" in w.detail.value
    assert w.data[:1] == b"\x00" and "uwsgi" in w.summary.value
    w.go(10_000)
    assert w.next_button.disabled and w.slider.value == len(w.fields) - 1


def test_stepper_has_a_red_button_per_finding_that_jumps_to_its_step(broken, ok, widgets):
    from gateway_lab.views import TraceStepper

    s = TraceStepper(broken)
    jumps = [w for box in s.children if isinstance(box, widgets.HBox) for w in box.children
             if "gl-finding-jump" in w._dom_classes]
    assert [b.description for b in jumps] == ["✗ wsgi.body.not_bytes"]
    jumps[0].click()
    assert broken.trace.events[s.step].finding is not None
    assert "gl-finding" in s.detail.value and "encode" in s.detail.value
    plain = TraceStepper(ok)
    assert not any("gl-finding-jump" in w._dom_classes for box in plain.children
                   if isinstance(box, widgets.HBox) for w in box.children)


# -- a CGI trace's lanes --------------------------------------------------------------------------

def test_a_cgi_trace_has_no_empty_gateway_lane_and_says_the_server_is_the_gateway():
    from gateway_lab import demo

    ex = gl.run_cgi(demo.CGI_SCRIPT, gl.Request("GET", "/guestbook"))
    svg = sequence_svg(ex)
    titles = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")
              if "gl-lane" in t.get("class", "")]
    assert titles == ["client", "server (gateway)", "app"]
    assert "participant server as server (gateway)" in sequence_mermaid(ex)
    assert "participant gateway" not in sequence_mermaid(ex)
    wsgi = sequence_svg(gl.run_wsgi(hello, gl.Request("GET", "/")))
    assert [t.text for t in ET.fromstring(wsgi).iter(f"{SVG}text")
            if "gl-lane" in t.get("class", "")] == ["client", "server", "gateway", "app"]


# -- static copies: what a saved notebook shows without a kernel ----------------------------------

def _displayed(widget):
    """What a notebook cell gets when `widget` is its last line: the outputs' bundles."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.user_ns["the_widget"] = widget
    with capture_output() as captured:
        shell.run_cell("the_widget")
    return [o.data for o in captured.outputs]


def test_every_widget_leaves_a_static_copy_beside_it(ok, widgets):
    from gateway_lab.views import ConcurrencyExplorer, RequestBuilder, TraceStepper, WireViewer

    for widget, expect in ((TraceStepper(ok), "<svg"), (RequestBuilder(hello), "No run yet"),
                           (ConcurrencyExplorer(), "No run yet"),
                           (WireViewer(gl.Request("GET", "/x")), "gl-hex")):
        outputs = _displayed(widget)
        assert len(outputs) == 2, outputs
        live, copy = outputs
        assert live["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id
        static = copy["text/html"]
        assert "gl-static" in static and expect in static
        # the copy hides itself beside a live widget, which carries the class it looks for
        assert ".jp-OutputArea:has(.gl-live) .gl-static{display:none}" in static
        assert "gl-live" in widget._dom_classes
        assert "run the cell again" in static


def test_the_steppers_static_copy_is_the_whole_diagram_and_the_findings(broken, widgets):
    from gateway_lab.views import TraceStepper

    static = TraceStepper(broken).static()
    svg = static[static.index("<svg"):static.index("</svg>") + 6]
    assert len(rows(svg)) == len(broken.trace.events)
    assert broken.findings and broken.findings[0].rule in static


def test_the_builders_static_copy_follows_its_runs(widgets):
    from gateway_lab.views import RequestBuilder

    b = RequestBuilder(path="/guestbook")
    assert "No run yet" in b.static()
    b.run()
    b.method.value = "DELETE"
    b.run()
    static = b.static()
    assert "2 run(s)" in static and "405" in static and "<svg" in static


def test_an_update_reaches_the_saved_copy_through_its_display_handle(widgets):
    from gateway_lab.views import RequestBuilder

    b = RequestBuilder(path="/guestbook")
    _displayed(b)
    updates = []
    b._static_handle.update = lambda obj: updates.append(obj.data)
    b.run()
    assert updates and "200 OK" in updates[-1] and "gl-static" in updates[-1]


# -- comparing two runs ---------------------------------------------------------------------------

def test_compare_aligns_wsgi_and_asgi_step_by_step_and_marks_the_differences():
    from gateway_lab.demo import request
    from gateway_lab.demo.guestbook_asgi import app as asgi_app
    from gateway_lab.demo.guestbook_wsgi import app as wsgi_app
    from gateway_lab.views import compare

    a, b = gl.run_wsgi(wsgi_app, request()), gl.run_asgi(asgi_app, request())
    c = compare(a, b)
    marks = [mark for _, _, mark in c.rows]
    assert c.rows[0] == (0, 0, "=")                       # the same request line
    assert c.rows[-1] == (len(a.trace.events) - 1, len(b.trace.events) - 1, "=")
    # environ and scope sit on one row, marked as different
    (environ,) = [r for r in c.rows if r[0] is not None
                  and a.trace.events[r[0]].kind == "environ"]
    assert environ[1] is not None and b.trace.events[environ[1]].kind == "scope"
    assert environ[2] == "≠"
    # every step of each trace appears once, in order
    assert [i for i, _, _ in c.rows if i is not None] == list(range(len(a.trace.events)))
    assert [j for _, j, _ in c.rows if j is not None] == list(range(len(b.trace.events)))
    assert "≠" in marks and c.differences == sum(m != "=" for m in marks)
    page = c._repr_html_()
    assert "gl-changed" in page and "gl-same" in page and "WSGI POST /guestbook" in page
    assert "ASGI POST /guestbook" in str(c)


def test_compare_before_and_after_a_fix_marks_the_step_that_broke_a_rule(broken):
    from gateway_lab.views import compare

    fixed = gl.run_wsgi(hello, gl.Request("GET", "/"))
    c = compare(broken, fixed, labels=("before", "after"))
    changed = [(i, j) for i, j, mark in c.rows if mark != "="]
    assert changed
    assert any(i is not None and broken.trace.events[i].finding is not None
               for i, _ in changed)
    assert "findings" in c._repr_html_() and broken.findings[0].rule in c._repr_html_()
    assert compare(fixed, fixed).differences == 0


def test_the_builder_keeps_its_runs_and_compares_two_of_them(widgets):
    from gateway_lab.views import RequestBuilder

    b = RequestBuilder(method="POST", path="/guestbook",
                       headers="Content-Type: application/x-www-form-urlencoded",
                       body="name=Ada&message=hi")
    assert b.compare_button.disabled
    b.run()
    b.gateway.value = "asgi"
    b.run()
    b.gateway.value = "cgi"
    b.run()
    assert [ex.interface for ex in b.runs] == ["wsgi", "asgi", "cgi"]
    assert not b.compare_button.disabled
    assert (b.pick_a.value, b.pick_b.value) == (1, 2)     # the last two, by default
    b.pick_a.value = 0
    b.compare_button.click()
    assert b.comparison.labels == (b.run_label(0), b.run_label(2))
    assert "1 · WSGI POST /guestbook → 200" in b.compared.value
    assert "3 · CGI POST /guestbook → 200" in b.compared.value
    assert b.comparison._repr_html_() in b.static()


# -- the concurrency explorer's controls -----------------------------------------------------------

def test_explorer_says_done_only_after_the_chart_is_shown():
    e = _explorer()
    said = []
    append = e.output.append_display_data

    def watch(obj):
        said.append(e.status.value)
        append(obj)

    e.output.append_display_data = watch
    e.run()
    assert said and not any("done" in s for s in said)     # while the outputs go out
    assert "done" in e.status.value and not e.run_button.disabled


@pytest.mark.parametrize("model,sized", [("threads", True), ("processes", True),
                                         ("eventloop", False), ("sequential", False)])
def test_explorer_workers_slider_is_blank_and_disabled_where_there_is_one_worker(model, sized):
    e = _explorer()
    e.model.value = model
    assert e.workers.disabled is not sized
    assert e.workers.readout is sized                       # no number when it means nothing
    assert (e.workers_note.value == "") is sized
