"""The lessons in the browser, measured: the site's size, its build time, and the time from
opening lesson 00 to a ready Pyodide kernel in chromium (the wait a learner sees).

    python bench/lite.py [--runs N]       (make bench runs it; needs npm and chromium)

Results go to bench/lite_results.json.  The site is built into build/lite (downloads kept
in build/lite-cache, so a second build fetches nothing).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="kernel starts to time")
    args = parser.parse_args(argv)
    if shutil.which("npm") is None or shutil.which("chromium") is None:
        print("bench/lite.py: needs npm and chromium (apt install npm chromium); skipped")
        return 0
    from gateway_lab.lite.build import build
    from gateway_lab.lite.drive import browser
    from gateway_lab.lite.serve import serve_in_thread

    site = ROOT / "build" / "lite"
    report = build(site, ROOT / "build" / "lite-cache", log=lambda *a: None)
    server, url = serve_in_thread(site)
    opens, kernels = [], []
    try:
        for _ in range(args.runs):
            with browser(url) as page:  # a new browser each time: nothing cached in memory
                opens.append(page.open_lab("notebooks/00_welcome.ipynb"))
                kernels.append(page.wait_kernel())
    finally:
        server.shutdown()
        server.server_close()
    sizes = {}
    for part in ("build", "static/pyodide", "extensions"):
        sizes[part] = sum(p.stat().st_size for p in (site / part).rglob("*") if p.is_file())
    results = {
        "site_mb": round(report["bytes"] / 1e6, 1),
        "parts_mb": {k: round(v / 1e6, 1) for k, v in sizes.items()},
        "build_s": report["seconds"],
        "lab_open_s": [round(t, 1) for t in opens],
        "kernel_ready_s": [round(t, 1) for t in kernels],
        "ready_median_s": round(statistics.median(o + k for o, k in zip(opens, kernels,
                                                                          strict=True)), 1),
        "packages": len(report["packages"]),
        "pyodide": report["pyodide"],
    }
    (ROOT / "bench" / "lite_results.json").write_text(json.dumps(results, indent=1) + "\n")
    parts = ", ".join(f"{k} {v} MB" for k, v in results["parts_mb"].items())
    print(f"lite site: {results['site_mb']} MB ({parts}), built in {results['build_s']} s")
    print(f"lesson 00 open to a ready kernel: median {results['ready_median_s']} s over "
          f"{args.runs} runs (JupyterLab {results['lab_open_s']} s, then the kernel "
          f"{results['kernel_ready_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
