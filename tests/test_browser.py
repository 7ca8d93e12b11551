"""The widgets in a real browser: JupyterLab started here, Debian's chromium driven by Playwright.

The WSGI lesson (notebooks/02_wsgi.ipynb) is opened, every cell run, then a learner's clicks
are replayed: Next on the trace stepper moves the highlighted step and changes the detail
panel; Run on the request builder shows the response; the %%wsgi cell shows its answer.
Screenshots go to tests/artifacts/.  Offline: see /work/shared/BROWSER_TESTING.md.
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
LESSON = "02_wsgi.ipynb"
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
def lab(tmp_path_factory):
    """A JupyterLab on 127.0.0.1 serving a copy of the lessons: yields its base URL."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)   # a copy: the lessons stay output-free
    _settings(tmp / "settings")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTER_PATH=os.path.join(sys.prefix, "share", "jupyter"))
    port = _free_port()
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        args.append("--allow-root")
    with open(tmp / "jupyter.log", "wb") as log:   # the child keeps its own descriptor
        proc = subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=(os.name == "posix"))
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
def page(lab):
    """Chromium with the lesson open and every cell run."""
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            _open_and_run_all(page, lab, LESSON)
            # The last cell of the lesson is the exercise check: wait for its report.
            page.locator(".jp-OutputArea-output", has_text="03_wsgi_hello").first.wait_for()
            page.wait_for_function("window.jupyterapp.shell.currentWidget.sessionContext"
                                   ".session.kernel.status === 'idle'")
            yield page
        finally:
            browser.close()


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

    second = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        second.set_default_timeout(30_000)
        _open_and_run_all(second, lab, "00_welcome.ipynb")
        cell = second.locator(".jp-CodeCell", has_text="sequence(ex)").last
        output = cell.locator(".jp-OutputArea-output")
        expect(output).to_have_count(1)
        cell.scroll_into_view_if_needed()
        expect(output.locator("svg, img").first).to_be_visible()
        expect(output).not_to_contain_text("Syntax error")
        cell.screenshot(path=str(ARTIFACTS / "sequence.png"))
    finally:
        second.close()
