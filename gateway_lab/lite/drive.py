"""Driving the built site in a real chromium (Playwright): open a lesson, wait for the
Pyodide kernel, run every cell, read the outputs.  The browser test (tests/test_lite.py)
and the benchmark (bench/lite.py) both use it.

Needs Playwright for Python and a chromium (Debian's: /usr/bin/chromium; Playwright's
own browser download is never used).  Every request the page makes is recorded, so a
caller can prove that none left 127.0.0.1.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("GATEWAY_LAB_CHROMIUM", "/usr/bin/chromium")
# Without the networking flags chromium keeps trying to reach the internet.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage"]

KERNEL_IDLE = ("() => { const w = window.jupyterapp?.shell.currentWidget;"
               " return w?.sessionContext?.session?.kernel?.status === 'idle'; }")
# The kernel is idle again and either every code cell has run (an execution count), or
# one ended in an error (JupyterLab stops running the cells below it).
ALL_RAN = """() => { const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session?.kernel; const cells = w.content.model.cells;
  if (k?.status !== 'idle' || w.content.widgets.some(c => c.promptNode?.textContent === '[*]:'))
    return false;
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i);
    if (c.type !== 'code') continue;
    for (let j = 0; j < c.outputs.length; j++)
      if (c.outputs.get(j).type === 'error') return true;
    if (c.sharedModel.getSource().trim() && c.executionCount === null) return false; }
  return true; }"""
# Outputs that are errors: an exception, or anything written to stderr.
ERRORS = """() => { const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.model.cells; const out = [];
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i);
    if (c.type !== 'code') continue;
    for (let j = 0; j < c.outputs.length; j++) { const o = c.outputs.get(j).toJSON();
      if (o.output_type === 'error')
        out.push({cell: i, kind: 'error', text: o.ename + ': ' + o.evalue + '\\n'
                  + (o.traceback || []).join('\\n').replace(/\\x1b\\[[0-9;]*m/g, '')});
      else if (o.output_type === 'stream' && o.name === 'stderr')
        out.push({cell: i, kind: 'stderr', text: [].concat(o.text).join('')}); } }
  return out; }"""
# All text a notebook shows (streams, text/plain results), for a caller to search.
TEXT = """() => { const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.model.cells; const out = [];
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i);
    if (c.type !== 'code') continue;
    for (let j = 0; j < c.outputs.length; j++) { const o = c.outputs.get(j).toJSON();
      if (o.text) out.push([].concat(o.text).join(''));
      if (o.data && o.data['text/plain']) out.push([].concat(o.data['text/plain']).join('')); } }
  return out.join('\\n'); }"""


class Site:
    """A page on the site, with every URL it requested (`requests`)."""

    def __init__(self, page, url: str):
        self.page, self.url = page, url
        self.requests: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))

    def outside(self) -> list[str]:
        """Requests that went anywhere but 127.0.0.1 (data: and blob: URLs stay in the page)."""
        return [u for u in self.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                and urlsplit(u).hostname != "127.0.0.1"]

    def open_lab(self, path: str, timeout: float = 90) -> float:
        """Open JupyterLab on `path`; returns the seconds until the notebook shows."""
        start = time.perf_counter()
        self.page.goto(f"{self.url}lab/index.html?path={path}")
        self.page.wait_for_selector(".jp-Notebook", timeout=timeout * 1000)
        return time.perf_counter() - start

    def open(self, path: str) -> None:
        """Open another notebook in the same JupyterLab (it gets its own kernel)."""
        self.page.evaluate(f"() => {{ window.jupyterapp.commands.execute('docmanager:open', "
                           f"{{path: {path!r}}}); }}")
        self.page.wait_for_function(
            f"() => window.jupyterapp.shell.currentWidget?.context?.path === {path!r}",
            timeout=30_000)

    def wait_kernel(self, timeout: float = 120) -> float:
        start = time.perf_counter()
        self.page.wait_for_function(KERNEL_IDLE, timeout=timeout * 1000, polling=200)
        return time.perf_counter() - start

    def run_all(self, timeout: float = 240) -> float:
        """Run every cell of the current notebook; returns the seconds it took."""
        start = time.perf_counter()
        # (not awaited: the command's promise settles only when every cell has run)
        self.page.evaluate("() => { window.jupyterapp.commands.execute("
                           "'notebook:run-all-cells'); }")
        self.page.wait_for_function(ALL_RAN, timeout=timeout * 1000, polling=250)
        return time.perf_counter() - start

    def errors(self) -> list[dict]:
        return self.page.evaluate(ERRORS)

    def text(self) -> str:
        return self.page.evaluate(TEXT)

    def run_code(self, code: str, timeout: float = 60) -> str:
        """Append a cell with `code` to the current notebook, run it, return its text."""
        self.page.evaluate("""(code) => { const w = window.jupyterapp.shell.currentWidget;
            const m = w.content.model; m.sharedModel.insertCell(m.cells.length,
              {cell_type: 'code', source: code});
            w.content.activeCellIndex = m.cells.length - 1; }""", code)
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-cell'); }")
        self.page.wait_for_function(ALL_RAN, timeout=timeout * 1000, polling=200)
        return self.page.evaluate("""() => { const w = window.jupyterapp.shell.currentWidget;
            const m = w.content.model; const c = m.cells.get(m.cells.length - 1);
            const out = []; for (let j = 0; j < c.outputs.length; j++) {
              const o = c.outputs.get(j).toJSON();
              if (o.text) out.push([].concat(o.text).join(''));
              if (o.ename) out.push(o.ename + ': ' + o.evalue);
              if (o.data && o.data['text/plain'])
                out.push([].concat(o.data['text/plain']).join(''));
            } return out.join('\\n'); }""")

    def close_current(self) -> None:
        """Close the notebook and shut its kernel down (each Pyodide kernel is a worker)."""
        self.page.evaluate("""async () => { const w = window.jupyterapp.shell.currentWidget;
            await w.sessionContext.shutdown(); w.dispose(); }""")


@contextmanager
def browser(url: str, *, headless: bool = True):
    """A chromium page on the site at `url`, closed afterwards (also on failure)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=headless)
        try:
            page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
            yield Site(page, url)
        finally:
            chromium.close()
