"""The lab in a real browser: JupyterLab started as `make lab` starts it, Debian's chromium
driven by Playwright.

One workspace, as a learner meets it: the Lab opens on lesson 00 with the exercises beside
the lessons; an exercise is edited in the Lab's editor and its check, run from the lesson,
passes; the request builder compares two runs; a saved lesson, reopened without its
kernel, shows the static copy of each widget.  Then the WSGI lesson (02) is run and a
learner's clicks replayed: Next on the trace stepper moves the highlighted step and
changes the detail panel; Run on the request builder shows the response; the %%wsgi cell
shows its answer.  Screenshots go to tests/artifacts/.  Offline: see BROWSER_TESTING.md.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
LESSON = "notebooks/02_wsgi.ipynb"
WELCOME = "notebooks/00_welcome.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "gateway-lab-browser-test"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium; .ci/run does it)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> None:
    """JupyterLab settings for a quiet, deterministic page."""
    def put(plugin: str, values: dict) -> None:
        path = folder / plugin
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    # No news toast, no update check.
    put("@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False})
    # Keep every cell in the DOM (no virtual scrolling), so off-screen outputs can be found.
    put("@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"})
    # Never write outputs back into the lesson.
    put("@jupyterlab/docmanager-extension/plugin.jupyterlab-settings", {"autosave": False})


def _open_and_run_all(page, base: str, notebook: str) -> None:
    """Open `notebook`, wait until its own kernel is idle, run every cell."""
    page.goto(f"{base}/lab/tree/{notebook}?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook")
    # The restored workspace may hold other notebooks: wait for *this* one, idle.
    page.wait_for_function(
        "path => { const w = window.jupyterapp?.shell.currentWidget;"
        " return w?.context?.path === path"
        " && w.sessionContext?.session?.kernel?.status === 'idle'; }", arg=notebook)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    if os.name == "posix":
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def workspace_root(tmp_path_factory):
    """A copy of the clone's learner folders: the test edits and saves in it, not in ROOT."""
    root = tmp_path_factory.mktemp("lab") / "workspace"
    for folder in ("notebooks", "exercises", "solutions"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


@pytest.fixture(scope="module")
def lab(workspace_root):
    """JupyterLab on 127.0.0.1, started with the command `make lab` runs: yields its URL."""
    from gateway_lab import workspace

    tmp = workspace_root.parent
    _settings(tmp / "settings")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTER_PATH=os.path.join(sys.prefix, "share", "jupyter"))
    port = _free_port()
    # make lab = `gateway-lab lab .` = this command, with the clone's folders hidden
    args = workspace.jupyter_command(workspace_root, [
        "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"], clone=True)
    with open(tmp / "jupyter.log", "wb") as log:   # the child keeps its own descriptor
        proc = subprocess.Popen(args, cwd=workspace_root, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=(os.name == "posix"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n"
                                + (tmp / "jupyter.log").read_text()[-3000:])
                time.sleep(0.3)
        yield base
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser(lab):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield chromium
        finally:
            chromium.close()


def _new_page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(90_000)  # a whole lesson runs first; a loaded machine is slow
    return page


def _wait_idle(page, path: str) -> None:
    page.wait_for_function(
        "path => { const w = window.jupyterapp?.shell.currentWidget;"
        " return w?.context?.path === path"
        " && w.sessionContext?.session?.kernel?.status === 'idle'; }", arg=path)


@pytest.fixture(scope="module")
def page(lab, browser):
    """Chromium with the WSGI lesson open and every cell run."""
    page = _new_page(browser)
    try:
        _open_and_run_all(page, lab, LESSON)
        # The last cell of the lesson is the exercise check: wait for its report.
        page.locator(".jp-OutputArea-output", has_text="03_wsgi_hello").first.wait_for()
        page.wait_for_function("window.jupyterapp.shell.currentWidget.sessionContext"
                               ".session.kernel.status === 'idle'")
        yield page
    finally:
        page.close()


# -- one workspace, as a learner meets it (lesson 00) ------------------------------------------

@pytest.fixture(scope="module")
def welcome(lab, browser):
    """The Lab's front page, as `make lab` opens it in a browser: lesson 00."""
    page = _new_page(browser)
    try:
        page.goto(f"{lab}/?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook")
        _wait_idle(page, WELCOME)
        yield page
    finally:
        page.close()


def test_the_lab_opens_on_lesson_00_with_the_exercises_beside_it(welcome, workspace_root):
    from playwright.sync_api import expect

    page = welcome
    assert page.evaluate("window.jupyterapp.shell.currentWidget.context.path") == WELCOME
    # The file browser: back to the workspace's root, where the three folders are...
    page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").first.click()
    listing = page.locator(".jp-DirListing-content")
    for name in ("notebooks", "exercises", "solutions"):
        expect(listing.locator(".jp-DirListing-item", has_text=name).first).to_be_visible()
    # ...and nothing of the engine (hidden as `make lab` hides it)
    expect(listing.locator(".jp-DirListing-itemName", has_text="gateway_lab")).to_have_count(0)
    # Into exercises/, by a double click, as a learner browses.
    listing.locator(".jp-DirListing-item", has_text="exercises").first.dblclick()
    stub = listing.locator(".jp-DirListing-item", has_text="03_wsgi_hello.py")
    expect(stub).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "workspace.png"))


def test_an_exercise_edited_in_the_lab_passes_its_check_run_from_the_lesson(welcome,
                                                                            workspace_root):
    from playwright.sync_api import expect

    page = welcome
    exercise = workspace_root / "exercises" / "03_wsgi_hello.py"
    solution = (workspace_root / "solutions" / "03_wsgi_hello.py").read_text()
    page.evaluate("window.jupyterapp.commands.execute('filebrowser:go-to-path', "
                  "{path: '/exercises/'})")
    page.locator(".jp-DirListing-item", has_text="03_wsgi_hello.py").first.dblclick()
    editor = page.locator(".jp-FileEditor .cm-content").first
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(solution)          # as a paste: no auto-indent
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 15
    while exercise.read_text() != solution and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exercise.read_text() == solution
    # Back to the lesson; its last cell runs the check: gl.check("03_wsgi_hello").
    page.locator(".lm-TabBar-tab", has_text="00_welcome.ipynb").first.click()
    _wait_idle(page, WELCOME)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    report = page.locator(".jp-OutputArea-output .gateway-lab-check").first
    expect(report).to_contain_text("checks passed", timeout=60_000)
    expect(report).to_contain_text(str(exercise))
    report.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "check_passed.png"))


def test_the_builder_compares_two_runs_side_by_side(welcome):
    from playwright.sync_api import expect

    page = welcome
    _wait_idle(page, WELCOME)
    builder = page.locator(".gl-builder").first
    builder.scroll_into_view_if_needed()
    builder.locator(".gl-run").click()
    expect(builder.locator(".gl-status")).to_contain_text("run 1: WSGI → 200")
    builder.locator(".gl-gateway button", has_text="asgi").click()
    builder.locator(".gl-run").click()
    expect(builder.locator(".gl-status")).to_contain_text("run 2: ASGI → 200")
    builder.locator(".gl-compare-button").click()
    table = builder.locator(".gl-compared .gl-compare-table")
    expect(table).to_be_visible()
    expect(table).to_contain_text("1 · WSGI POST /guestbook → 200")
    expect(table).to_contain_text("2 · ASGI POST /guestbook → 200")
    assert table.locator("tr.gl-changed").count() >= 1        # environ against scope
    assert table.locator("tr.gl-compare-row.gl-same").count() >= 1   # the request line
    builder.screenshot(path=str(ARTIFACTS / "compare.png"))


def test_a_reopened_lesson_shows_each_widgets_static_copy(welcome, lab, browser):
    from playwright.sync_api import expect

    page = welcome
    _wait_idle(page, WELCOME)
    # Live: the copies are there, hidden beside their widgets.
    stepper_cell = page.locator(".jp-CodeCell", has_text="TraceStepper(ex)").last
    expect(stepper_cell.locator(".gl-stepper")).to_be_visible()
    expect(stepper_cell.locator(".gl-static")).to_be_hidden()
    page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").first.click()
    stepper_cell.locator(".gl-next").click()
    stepper_cell.locator(".gl-next").click()
    page.locator(".jp-CodeCell", has_text="import gateway_lab as gl").first \
        .scroll_into_view_if_needed()
    stepper_cell.locator(".gl-detail").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "lesson_00.png"))    # the README's picture
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("!window.jupyterapp.shell.currentWidget.context.model.dirty")
    page.evaluate("window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    page.evaluate("window.jupyterapp.commands.execute('application:close-all')")

    again = _new_page(browser)
    try:
        again.goto(f"{lab}/lab/tree/{WELCOME}?token={TOKEN}")
        again.wait_for_selector(".jp-Notebook")
        _wait_idle(again, WELCOME)      # a new kernel: the widgets' models are gone
        cell = again.locator(".jp-CodeCell", has_text="TraceStepper(ex)").last
        cell.scroll_into_view_if_needed()
        copy = cell.locator(".gl-static")
        expect(copy).to_be_visible()
        expect(copy.locator("svg.gl-sequence")).to_be_visible()
        # JupyterLab's "model not found" is there, under the copy, and hidden by it
        gone = cell.locator(".jp-OutputArea-output", has_text="Error displaying widget")
        expect(gone).to_have_count(1, timeout=15_000)
        expect(gone).to_be_hidden()
        expect(cell.locator(".gl-stepper")).to_have_count(0)
        builder_cell = again.locator(".jp-CodeCell", has_text="RequestBuilder(").last
        builder_copy = builder_cell.locator(".gl-static")
        builder_copy.scroll_into_view_if_needed()
        expect(builder_copy).to_be_visible()
        expect(builder_copy).to_contain_text("2 run(s)")
        expect(builder_copy.locator(".gl-compare-table")).to_be_visible()
        cell.screenshot(path=str(ARTIFACTS / "reopened.png"))
    finally:
        again.close()


# -- the WSGI lesson ---------------------------------------------------------------------------

def test_next_moves_the_highlighted_step_and_changes_the_detail_panel(page):
    from playwright.sync_api import expect

    stepper = page.locator(".gl-stepper").first
    stepper.scroll_into_view_if_needed()
    current = stepper.locator(".gl-step-current")
    expect(current).to_have_attribute("data-step", "0")
    detail = stepper.locator(".gl-detail")
    expect(detail).to_contain_text("Step 1 of")
    expect(detail).to_contain_text("GET /hello?name=Ada HTTP/1.1")  # the request's bytes
    stepper.locator(".gl-next").click()
    expect(current).to_have_attribute("data-step", "1")
    expect(detail).to_contain_text("Step 2 of")
    expect(detail).to_contain_text("PATH_INFO")                      # the environ
    stepper.locator(".gl-next").click()
    stepper.locator(".gl-next").click()
    expect(current).to_have_attribute("data-step", "3")
    expect(detail).to_contain_text("start_response")
    assert stepper.locator(".gl-step-current").count() == 1
    stepper.screenshot(path=str(ARTIFACTS / "stepper.png"))
    stepper.locator(".gl-prev").click()
    expect(current).to_have_attribute("data-step", "2")


def test_play_advances_the_steps_in_the_browser_alone(page):
    from playwright.sync_api import expect

    stepper = page.locator(".gl-stepper").first
    stepper.scroll_into_view_if_needed()
    stepper.locator(".gl-prev").click()
    stepper.locator(".gl-prev").click()
    current = stepper.locator(".gl-step-current")
    expect(current).to_have_attribute("data-step", "0")
    # Play is linked to the slider in the browser (jslink); the kernel only redraws.
    stepper.locator(".gl-play button").first.click()
    expect(current).to_have_attribute("data-step", "2", timeout=15_000)
    stepper.locator(".gl-play button").nth(1).click()   # pause


def test_findings_are_shown_in_red_and_a_button_jumps_to_them(page):
    from playwright.sync_api import expect

    finding = page.locator(".gl-response .gl-finding", has_text="wsgi.body.str_or_bytes").first
    expect(finding).to_be_visible()
    color = finding.evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(176, 0, 32)", color
    cell = page.locator(".jp-CodeCell", has_text="show(gl.run_wsgi(broken").first
    cell.scroll_into_view_if_needed()
    cell.locator(".gl-finding-jump", has_text="wsgi.body.str_or_bytes").click()
    expect(cell.locator(".gl-step-current.gl-finding")).to_have_count(1)
    expect(cell.locator(".gl-detail .gl-rule")).to_have_text("wsgi.body.str_or_bytes")
    cell.screenshot(path=str(ARTIFACTS / "finding.png"))


def test_the_request_builder_runs_and_shows_the_response(page):
    from playwright.sync_api import expect

    builder = page.locator(".gl-builder").first
    builder.scroll_into_view_if_needed()
    path = builder.locator(".gl-path input")
    path.fill("/hello?name=Browser")
    builder.locator(".gl-run").click()
    expect(builder.locator(".gl-status")).to_contain_text("200 OK")
    expect(builder.locator(".gl-output")).to_contain_text("Hello, Browser!")
    expect(builder.locator(".gl-output .gl-stepper")).to_have_count(1)
    builder.screenshot(path=str(ARTIFACTS / "builder.png"))


def test_the_wsgi_magic_cell_shows_its_response_and_a_stepper(page):
    from playwright.sync_api import expect

    cell = page.locator(".jp-CodeCell", has_text="%%wsgi GET /greet").first
    cell.scroll_into_view_if_needed()
    output = cell.locator(".jp-OutputArea")
    expect(output).to_contain_text("Hello, Grace (en)")
    expect(output.locator(".gl-stepper")).to_have_count(1)
    cell.screenshot(path=str(ARTIFACTS / "wsgi_magic.png"))


def test_the_static_sequence_diagram_renders_in_jupyterlab(page, lab):
    """00_welcome displays `sequence(ex)`: a bundle of SVG and Mermaid; JupyterLab draws one."""
    from playwright.sync_api import expect

    second = _new_page(page.context.browser)
    try:
        _open_and_run_all(second, lab, WELCOME)
        cell = second.locator(".jp-CodeCell", has_text="sequence(ex)").last
        output = cell.locator(".jp-OutputArea-output")
        expect(output).to_have_count(1)
        cell.scroll_into_view_if_needed()
        expect(output.locator("svg, img").first).to_be_visible()
        expect(output).not_to_contain_text("Syntax error")
        cell.screenshot(path=str(ARTIFACTS / "sequence.png"))
    finally:
        second.close()
