"""Cell magics for live coding: write an app in a cell, and it answers a request at once.

    %load_ext gateway_lab

    %%wsgi GET /hello?name=Ada -H 'Accept: text/plain'
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello!"]

The first line is the request: an optional method (GET by default), a target,
`-H 'Name: value'` (repeatable), `-d BODY` (`@FILE` reads a file), and options:

    --app NAME     the callable to run (default: an `app` this cell defines, else
                   the last callable it defines, else an `app` defined earlier)
    --timeout S    seconds the app may take (default 5; then the client gets 504)
    --out NAME     also store the Exchange in variable NAME
    --isolate      run the app in a child process, killed at the deadline (as a
                   server kills a worker); %%cgi always does
    --no-stepper   show the static sequence diagram instead of the stepper widget

The line is read as `gateway-lab run` reads its arguments (gateway_lab.views.requests).

`%%wsgi` and `%%asgi` run the cell in the notebook's namespace, so the app can
use what earlier cells defined.  `%%cgi` writes the cell to a temporary script
and runs it as a real child process, as a web server runs a CGI script: the
cell is the whole program (RFC 3875 §3), it sees nothing of the notebook.

Each magic displays the response, the findings and a TraceStepper.

Mistakes are said in the learner's terms: an `async def app` in a %%wsgi cell
is an ASGI app ("use %%asgi"), a two-argument `def app(environ,
start_response)` in a %%asgi cell a WSGI one ("use %%wsgi"); and an error in
the cell's code points at the line of the cell as the notebook numbers it
(the magic's own line is line 1).
"""

from __future__ import annotations

import argparse
import ast
import html
import inspect
import shlex
import tempfile
from pathlib import Path

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.display import HTML, display

from .views import show
from .views.requests import (
    METHODS,
    InputError,
    add_request_options,
    build_request,
    check_timeout,
    run_through,
)

__all__ = ["GatewayMagics", "load_ipython_extension"]

# The last exchange a magic produced, for code that wants to look closer.
last_exchange = None


class HelpRequested(InputError):
    """`-h`: the message is the usage, shown as help rather than as an error."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad line as InputError instead of exiting the kernel.

    (-h is an ordinary flag here, so error() is the only way argparse would exit.)"""

    def error(self, message):
        raise InputError(f"{message}\n{self.format_usage().strip()}")


def _parser(name: str) -> _Parser:
    what = "a CGI script, run as a child process" if name == "cgi" else "the app"
    parser = _Parser(prog=f"%%{name}", add_help=False,
                     description=f"Run one request through the {name.upper()} gateway; "
                                 f"the cell body is {what}.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    parser.add_argument("words", nargs="*", metavar="[METHOD] TARGET",
                        help="e.g. GET /hello?name=Ada (method defaults to GET, target to /)")
    add_request_options(parser)    # -H, -d, --timeout: the same as `gateway-lab run`
    parser.add_argument("--app", default=None, metavar="NAME", help="the callable to run")
    parser.add_argument("--out", default=None, metavar="NAME",
                        help="store the Exchange in this variable")
    parser.add_argument("--no-stepper", action="store_true",
                        help="draw the sequence diagram without the widget")
    parser.add_argument("--isolate", action="store_true", default=None,
                        help="run the app in a child process killed at the deadline")
    return parser


def parse_line(name: str, line: str) -> tuple[argparse.Namespace, object]:
    """The magic's first line -> (options, Request); InputError says what is wrong."""
    try:
        words = shlex.split(line)
    except ValueError as error:  # an unclosed quote
        raise InputError(f"cannot read the line: {error}") from None
    parser = _parser(name)
    args = parser.parse_args(words)
    if args.help:
        raise HelpRequested(parser.format_help())
    method, target = "GET", "/"
    if len(args.words) == 1:
        (target,) = args.words
        if target.upper() in METHODS:   # '%%wsgi POST' means POST /
            method, target = target.upper(), "/"
    elif len(args.words) == 2:
        method, target = args.words
    elif len(args.words) > 2:
        raise InputError(f"expected [METHOD] TARGET, got {' '.join(args.words)!r} "
                         "(quote a header: -H 'Name: value')")
    check_timeout(args.timeout)
    return args, build_request(method, target, args.header, args.data)


def _defined_names(cell: str) -> list[str]:
    """Names the cell binds at top level, in order (def, class, assignment).

    Imports are left out: `from urllib.parse import parse_qs` binds a callable,
    but nobody means it as the app."""
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def pick_app(namespace: dict, cell: str, name: str | None = None):
    """The app the cell means: --app NAME, else an `app` this cell defines, else the
    last callable this cell defines, else an `app` an earlier cell defined."""
    if name is not None:
        if name not in namespace:
            raise InputError(f"--app {name}: nothing called {name!r} is defined")
        if not callable(namespace[name]):
            raise InputError(f"--app {name}: {name!r} is a {type(namespace[name]).__name__}, "
                             "not a callable")
        return namespace[name]
    defined = _defined_names(cell)
    if "app" in defined and callable(namespace.get("app")):
        return namespace["app"]
    if "app" in defined and not any(callable(namespace.get(n)) for n in defined):
        # `app = None`, `app = app()`: the cell does define app, as something a server
        # cannot call (gunicorn: "Application object must be callable.").
        raise InputError(f"the cell sets `app` to a {type(namespace.get('app')).__name__}, "
                         "not a callable: a server calls app(...) for every request; "
                         "assign the function itself (app = my_app, not my_app())")
    for candidate in reversed(defined):
        if callable(namespace.get(candidate)):
            return namespace[candidate]
    if callable(namespace.get("app")):
        return namespace["app"]
    raise InputError("the cell defines no app: write a function called `app` "
                     "(or name another one with --app NAME)")


def _wrong_interface(gateway: str, app) -> str | None:
    """What to say when the app is of the other interface than the magic, else None."""
    from .cli import guess_gateway

    kind = guess_gateway(app)
    if gateway == "wsgi" and kind == "asgi":
        return ("this is an ASGI app (async def app(scope, receive, send)): "
                "run it with %%asgi instead of %%wsgi")
    if gateway == "asgi" and kind == "wsgi":
        try:
            count = len(inspect.signature(app).parameters)
        except (TypeError, ValueError):
            return None
        if count == 2:    # (environ, start_response): PEP 3333's signature
            return ("this is a WSGI app (def app(environ, start_response)): "
                    "run it with %%wsgi instead of %%asgi")
    return None


def _error(text: str, *, help: bool = False) -> None:
    style = "" if help else " style='color:#b00020'"
    css = "gl-magic-help" if help else "gl-magic-error"
    display(HTML(f"<pre class='{css}'{style}>{html.escape(text)}</pre>"))


@magics_class
class GatewayMagics(Magics):
    """%%wsgi, %%asgi and %%cgi."""

    def _run(self, gateway: str, line: str, cell: str):
        global last_exchange
        try:
            args, request = parse_line(gateway, line)
        except InputError as error:
            return _error(str(error), help=isinstance(error, HelpRequested))
        if gateway == "cgi":
            exchange = self._run_cgi(f"# %%cgi {line}\n{cell}", request, args)
        else:
            result = self._run_cell_as_this_cell(f"# %%{gateway} {line}\n{cell}")
            if not result.success:
                return None   # IPython has already shown the learner's own error
            try:
                app = pick_app(self.shell.user_ns, cell, args.app)
                wrong = _wrong_interface(gateway, app)
                if wrong:
                    raise InputError(wrong)
                exchange = run_through(gateway, app, request, timeout=args.timeout,
                                       isolate=args.isolate)
            except InputError as error:
                return _error(str(error))
        last_exchange = exchange
        if args.out:
            self.shell.user_ns[args.out] = exchange
        show(exchange, stepper=not args.no_stepper)
        return None

    def _run_cell_as_this_cell(self, source: str):
        """Run the cell's code so that an error points at this cell and its line.

        The magic's line is line 1 of the cell: a comment holds its place, so line
        numbers match the cell's (IPython drops blank leading lines, not comments).
        IPython names code by the execution count; a nested run_cell would take
        the next one (IPython 9 counts a cell before running it), so the count is
        set to this cell's while its code runs."""
        shell = self.shell
        outer = getattr(getattr(shell.displayhook, "exec_result", None), "execution_count",
                        None)
        saved = shell.execution_count
        if outer is not None:
            shell.execution_count = outer
        try:
            return shell.run_cell(source, store_history=False)
        finally:
            shell.execution_count = saved

    def _run_cgi(self, cell: str, request, args):
        # A real CGI server runs a file: write the cell to one, in a folder of its own.
        # Its first line is a comment holding the magic's place, so that a traceback's
        # line numbers are the cell's own (as for %%wsgi and %%asgi).
        with tempfile.TemporaryDirectory(prefix="gateway-lab-cgi-") as folder:
            script = Path(folder) / "cell.py"
            script.write_text(cell, encoding="utf-8")
            return run_through("cgi", str(script), request, timeout=args.timeout)

    @cell_magic
    def wsgi(self, line: str, cell: str):
        """%%wsgi [METHOD] TARGET [-H 'N: v'] [-d BODY] [--app NAME]: run the cell's WSGI app."""
        return self._run("wsgi", line, cell)

    @cell_magic
    def asgi(self, line: str, cell: str):
        """%%asgi [METHOD] TARGET [-H 'N: v'] [-d BODY] [--app NAME]: run the cell's ASGI app."""
        return self._run("asgi", line, cell)

    @cell_magic
    def cgi(self, line: str, cell: str):
        """%%cgi [METHOD] TARGET [-H 'N: v'] [-d BODY]: run the cell as a CGI script."""
        return self._run("cgi", line, cell)


def load_ipython_extension(ipython) -> None:
    """Register the magics (`%load_ext gateway_lab`)."""
    ipython.register_magics(GatewayMagics)
