"""The `gateway-lab` command: a thin dispatcher to each part's own `main(argv)`.

The text `gateway-lab --help` prints is USAGE below; each subcommand has its own --help.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# subcommand -> "module:function"; each function takes argv and returns an exit status.
COMMANDS = {
    "lab": ("gateway_lab.workspace:main", "the lessons and exercises in JupyterLab"),
    "demo": ("gateway_lab.demo:main", "the guestbook through CGI, WSGI and ASGI, traced"),
    "run": ("gateway_lab.cli:run_main", "run one request through any app and print the trace"),
    "race": ("gateway_lab.concurrency.cli:main", "compare worker models on a workload"),
    "serve": ("gateway_lab.serving:main", "serve an app on 127.0.0.1 with a real server"),
    "check": ("gateway_lab.exercises:main", "check an exercise (or all of them) and get hints"),
    "loadtest": ("gateway_lab.servers.cli:main", "a real server (gunicorn, uvicorn, ...) "
                 "under wrk"),
    "lite": ("gateway_lab.lite:main", "the lessons in the browser: build and serve a "
             "JupyterLite site"),
}


USAGE = """\
gateway-lab: watch a web server talk to your Python app, step by step,
through CGI, WSGI and ASGI.

Start here:
  gateway-lab lab [FOLDER]      the lessons and exercises in JupyterLab
                                (the first time, copies them into FOLDER)
  gateway-lab demo              one form POST through CGI, WSGI and ASGI

Then:
  gateway-lab check NAME        check your exercise (--hint for a hint,
                                --list for the exercises)
  gateway-lab run APP [METHOD] [PATH] [-H 'Name: value'] [-d BODY]
                                send your app one request, see every step
                                (APP is module:name, or a script for CGI)
  gateway-lab serve APP         serve your app on 127.0.0.1 with a real
                                server (werkzeug, uvicorn)
  gateway-lab race              compare servers: one at a time, threads,
                                processes, an event loop

All commands:
{commands}

`gateway-lab COMMAND --help` tells a command's options.
`python -m gateway_lab` is the same program."""


def usage() -> str:
    width = max(map(len, COMMANDS))
    commands = "\n".join(f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items())
    return USAGE.format(commands=commands)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"gateway-lab: unknown command {name!r}; try one of: {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    module, func = COMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


# -- gateway-lab run -------------------------------------------------------------

# Finding the app a command names: in a lower module, for run, serve and race alike.
from .targets import UsageError, guess_gateway, load_target  # noqa: E402, F401


def run_main(argv: list[str]) -> int:
    # The request is read and run by the same code as the %%wsgi magics and the
    # RequestBuilder (gateway_lab.views.requests: plain Python, no Jupyter).
    from .views.requests import (
        GATEWAYS,
        InputError,
        add_request_options,
        build_request,
        check_timeout,
        run_through,
    )

    parser = argparse.ArgumentParser(
        prog="gateway-lab run",
        description="Run one request through an app and print the response and trace. "
                    "Exit status: 0 no findings, 1 findings, 2 usage error.")
    parser.add_argument("--gateway", choices=GATEWAYS,
                        help="the interface (guessed when left out)")
    parser.add_argument("target", help="module:attr for WSGI/ASGI apps, a script path for CGI")
    parser.add_argument("method", nargs="?", default="GET")
    parser.add_argument("path", nargs="?", default="/")
    add_request_options(parser)
    parser.add_argument("--json", action="store_true", help="print the Exchange as JSON")
    args = parser.parse_args(argv)
    try:
        app = load_target(args.target)
        request = build_request(args.method, args.path, args.header, args.data)
        ex = run_through(args.gateway or guess_gateway(app), app, request,
                         timeout=check_timeout(args.timeout))
    except (UsageError, InputError) as error:
        print(f"gateway-lab run: {error}", file=sys.stderr)
        return 2
    print(json.dumps(ex.to_dict(), indent=2) if args.json else ex)
    return 1 if ex.findings else 0
