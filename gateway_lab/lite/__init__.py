"""`gateway-lab lite`: the lessons as a JupyterLite site, run in the browser by Pyodide.

    gateway-lab lite --build DIR        build the site into DIR (default build/lite)
    gateway-lab lite --serve [--port N] serve it on 127.0.0.1 (--isolate adds the
                                        headers kernel interrupt needs; see serve.py)

The site is static files: copy DIR to any web server.  What differs in the browser
is in gateway_lab/browser.py; how the site is put together, in build.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_SITE = Path("build") / "lite"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gateway-lab lite",
        description="The lessons in the browser: build a JupyterLite site (Pyodide, from "
                    "npm and PyPI only) and serve it on 127.0.0.1.")
    parser.add_argument("--build", nargs="?", const=str(DEFAULT_SITE), metavar="DIR",
                        help=f"build the site into DIR (default {DEFAULT_SITE})")
    parser.add_argument("--serve", action="store_true",
                        help="serve the site (DIR, or the one --build made)")
    parser.add_argument("--site", default=None, metavar="DIR",
                        help=f"the site to serve (default {DEFAULT_SITE})")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="where downloads are kept between builds (default: beside DIR)")
    parser.add_argument("--isolate", action="store_true",
                        help="send COOP/COEP headers (kernel interrupt; see "
                             "gateway_lab/lite/serve.py for why it is off by default)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if not args.build and not args.serve:
        parser.print_help()
        return 2
    site = Path(args.site or args.build or DEFAULT_SITE)
    if args.build:
        from .build import BuildError, build

        try:
            build(site, args.cache)
        except BuildError as error:
            print(f"gateway-lab lite: {error}", file=sys.stderr)
            return 1
    if args.serve:
        from .serve import make_server

        try:
            server = make_server(site, args.host, args.port, verbose=True,
                                 isolate=args.isolate)
        except (FileNotFoundError, OSError) as error:
            print(f"gateway-lab lite: {error}", file=sys.stderr)
            return 1
        print(f"serving {site} on http://{args.host}:{server.server_address[1]}/lab/index.html"
              " (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return 0
