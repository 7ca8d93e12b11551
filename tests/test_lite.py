"""The lessons in the browser: the JupyterLite site built from the registries, served on
127.0.0.1, opened in Debian's chromium, every lesson run top to bottom in the Pyodide kernel.

One page session does it all (a kernel start costs 15-25 s here): each lesson is opened,
its kernel awaited, its cells run; no cell may show an error or write to stderr (a cell
that needs what a page cannot do prints why instead).  In lesson 00 a stepper is stepped
and exercise 03 is checked to a pass (the solution written into the site's exercises/
through the kernel's file system, then `gl.check`).  Every request the page made is
recorded: none may leave 127.0.0.1.  The timings go to tests/artifacts/lite.json.
"""

import json
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
SITE = ROOT / "build" / "lite-test"
CACHE = ROOT / "build" / "lite-cache"     # npm's and PyPI's downloads, kept between runs
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.lite,
    pytest.mark.timeout(1500),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(apt-get install chromium; .ci/run does it)"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (the Pyodide "
                       "runtime comes from npm; .ci/run installs it)"),
]

SOLVE = """\
from pathlib import Path
import gateway_lab as gl
Path("../exercises/03_wsgi_hello.py").write_text(
    Path("../solutions/03_wsgi_hello.py").read_text())
report = gl.check("03_wsgi_hello")
print(report.summary() if hasattr(report, "summary") else report)
print("PASSED" if report.passed else "FAILED", len(report.results))
"""

# The race apps compute for real in the browser too (Pyodide has no time.thread_time).
COMPUTE = """\
import gateway_lab as gl
tl = gl.run_many("gateway_lab.concurrency.apps:wsgi_app",
                 [gl.Request("GET", f"/?cpu=0.03&n={i}") for i in range(4)], model=gl.Sequential())
print("COMPUTED", tl.summary()["failed"], round(tl.makespan, 3))
"""


@pytest.fixture(scope="module")
def built():
    pytest.importorskip("jupyterlite_pyodide_kernel", reason="pip install -e '.[lite]'")
    from gateway_lab.lite.build import build

    return build(SITE, CACHE, log=lambda *a: None)


@pytest.fixture(scope="module")
def run(built):
    """Every lesson in one chromium session; what each showed, how long it took."""
    pytest.importorskip("playwright")
    from gateway_lab.lite.drive import browser
    from gateway_lab.lite.serve import serve_in_thread

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server, url = serve_in_thread(SITE)
    results = {"site_mb": round(built["bytes"] / 1e6, 1), "build_s": built["seconds"],
               "lessons": {}}
    try:
        with browser(url) as site:
            results["lab_open_s"] = round(site.open_lab(f"notebooks/{LESSONS[0]}.ipynb"), 1)
            for n, name in enumerate(LESSONS):
                if n:
                    site.open(f"notebooks/{name}.ipynb")
                kernel = site.wait_kernel()
                ran = site.run_all()
                lesson = {"kernel_s": round(kernel, 1), "run_s": round(ran, 1),
                          "errors": site.errors(), "text": site.text()}
                if n == 0:
                    lesson.update(_step_and_check(site))
                results["lessons"][name] = lesson
                site.page.screenshot(path=str(ARTIFACTS / f"lite-{name}.png"))
                site.close_current()
            results["requests"] = len(site.requests)
            results["outside"] = site.outside()
    finally:
        server.shutdown()
        server.server_close()
        summary = {k: v for k, v in results.items() if k != "lessons"}
        summary["lessons"] = {k: {f: v for f, v in row.items() if f != "text"}
                              for k, row in results["lessons"].items()}
        (ARTIFACTS / "lite.json").write_text(json.dumps(summary, indent=1))
    return results


def _step_and_check(site) -> dict:
    """Lesson 00 is open and has run: click Next on its stepper, then pass exercise 03."""
    stepper = site.page.locator(".gl-stepper").first
    stepper.scroll_into_view_if_needed()
    current = stepper.locator(".gl-step-current")
    steps = [current.get_attribute("data-step")]
    stepper.locator(".gl-next").click()
    deadline = time.monotonic() + 20
    while current.get_attribute("data-step") == steps[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    steps.append(current.get_attribute("data-step"))
    detail = stepper.locator(".gl-detail").inner_text()
    stepper.screenshot(path=str(ARTIFACTS / "lite-stepper.png"))
    started = time.perf_counter()
    check = site.run_code(SOLVE, timeout=120)
    check_s = round(time.perf_counter() - started, 1)
    return {"steps": steps, "detail": detail, "check": check, "check_s": check_s,
            "computed": site.run_code(COMPUTE, timeout=60)}


def test_the_site_is_built_from_the_registries(built):
    lock = json.loads((SITE / "static" / "pyodide" / "pyodide-lock.json").read_text())
    served = lock["packages"]
    for name in ("gateway-lab", "werkzeug", "markupsafe", "ipywidgets", "micropip", "ipython"):
        assert name in served, name
    for entry in served.values():            # every file the lock names is there, hash and all
        wheel = SITE / "static" / "pyodide" / entry["file_name"]
        import hashlib

        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == entry["sha256"], wheel.name
    assert served["markupsafe"]["file_name"].endswith("-py3-none-any.whl")   # pure Python
    config = json.loads((SITE / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["disablePyPIFallback"] is True
    assert kernel["pyodideUrl"].startswith("./static/pyodide/")              # self-hosted
    for path in ("notebooks/00_welcome.ipynb", "exercises/03_wsgi_hello.py",
                 "solutions/03_wsgi_hello.py"):
        assert (SITE / "files" / path).is_file(), path
    assert built["bytes"] < 80e6              # no source maps: about 50 MB


def test_every_lesson_runs_top_to_bottom_in_the_pyodide_kernel(run):
    assert sorted(run["lessons"]) == LESSONS  # none skipped
    failures = {name: lesson["errors"] for name, lesson in run["lessons"].items()
                if lesson["errors"]}
    assert not failures, json.dumps(failures, indent=1)[:6000]


def test_what_the_browser_cannot_do_is_said_not_raised(run):
    lessons = run["lessons"]
    said = {"01_cgi": "the cost of a process per request cannot run",
            "03_wsgi_servers": "the free-threading probe cannot run",
            "08_bridges": "cannot start threads",
            "11_real_servers": "In the browser (JupyterLite), uWSGI cannot run"}
    for name, words in said.items():
        assert words in lessons[name]["text"], name
    # CGI ran, simulated: lesson 01's first script answered
    assert "Hello, Ada!" in lessons["01_cgi"]["text"]


def test_a_stepper_steps_and_an_exercise_check_passes(run):
    welcome = run["lessons"][LESSONS[0]]
    assert welcome["steps"][0] != welcome["steps"][1], welcome["steps"]
    assert "Step 2 of" in welcome["detail"]
    assert "PASSED" in welcome["check"], welcome["check"]
    failed, took = welcome["computed"].split("COMPUTED")[1].split()
    assert failed == "0" and float(took) >= 0.12, welcome["computed"]  # 4 x 30 ms, for real


def test_no_request_leaves_127_0_0_1(run):
    assert run["requests"] > 100           # the page did load the site
    assert run["outside"] == []
