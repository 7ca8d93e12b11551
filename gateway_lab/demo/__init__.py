"""The guestbook demo: one piece of logic served three ways (CGI, WSGI, ASGI).

`gateway-lab demo` sends the same form POST through all three and prints
each response and trace, so the interfaces can be compared step by step.
The output fits the terminal (80 columns at least): a trace row that does not
fit puts its spec section on a line of its own, instead of cutting it.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

HERE = Path(__file__).parent
CGI_SCRIPT = HERE / "guestbook_cgi.py"
FORM = b"name=Ada&message=Hello+from+1843%21"

# The files of the demo, and what each one is.
FILES = (("guestbook_cgi.py", "CGI: a script, one new process per request"),
         ("guestbook_wsgi.py", "WSGI: app(environ, start_response)"),
         ("guestbook_asgi.py", "ASGI: async app(scope, receive, send)"),
         ("guestbook.py", "the guestbook itself, which all three share"))
SCRIPT_OF = {"cgi": "guestbook_cgi.py", "wsgi": "guestbook_wsgi.py",
             "asgi": "guestbook_asgi.py"}

# The four lanes of every trace, in one line each.
ROLES = (("client", "sends the HTTP request (a browser, curl; here, the lab)"),
         ("server", "owns the socket and speaks HTTP (nginx, Apache, gunicorn, uvicorn)"),
         ("gateway", "the part of the server that turns the request into a call of "
                     "the app: CGI variables, a WSGI environ, an ASGI scope (in CGI "
                     "the server itself is the gateway: it runs the script)"),
         ("app", "your Python code: it gets the request and returns the page"))

NEXT = (("gateway-lab lab", "the lessons in JupyterLab (00_welcome first)"),
        ("gateway-lab run gateway_lab.demo.guestbook_wsgi:app DELETE /guestbook",
         "the same app refusing a method: 405 and Allow, traced"),
        ("gateway-lab check --list", "the exercises: write an app, get it checked"))


def request():
    from ..request import Request

    return Request("POST", "/guestbook?lang=en",
                   headers={"Content-Type": "application/x-www-form-urlencoded"}, body=FORM)


def run_all(timeout: float = 10.0) -> list:
    """The demo request through CGI, WSGI and ASGI: a list of three Exchanges."""
    from ..asgi import run_asgi
    from ..cgi import run_cgi
    from ..wsgi import run_wsgi
    from .guestbook_asgi import app as asgi_app
    from .guestbook_wsgi import app as wsgi_app

    return [run_cgi(CGI_SCRIPT, request(), timeout=timeout),
            run_wsgi(wsgi_app, request(), timeout=timeout),
            run_asgi(asgi_app, request(), timeout=timeout)]


# -- the text, at most `width` columns ---------------------------------------------

def _clip(text: str, room: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"


def _terms(pairs, width: int, indent: int = 2) -> list[str]:
    """'term  explanation' lines, the explanation wrapped under itself."""
    name_w = max(len(name) for name, _ in pairs)
    lines = []
    for name, text in pairs:
        head = " " * indent + name.ljust(name_w) + "  "
        lines += textwrap.wrap(text, width, initial_indent=head,
                               subsequent_indent=" " * len(head)) or [head.rstrip()]
    return lines


def trace_lines(trace, width: int) -> list[str]:
    """One row per step (#, who, step, detail), the spec at the row's right end, or
    right-aligned on the next line when both do not fit."""
    rows = [(str(i), f"{e.actor} → {e.target}" if e.target else e.actor, e.kind,
             e.detail, e.spec, e.finding is not None) for i, e in enumerate(trace.events, 1)]
    if not rows:
        return ["  (no steps)"]
    num_w = max(len(r[0]) for r in rows)
    who_w = max(len(r[1]) for r in rows)
    step_w = max(len(r[2]) for r in rows)
    lines = []
    for num, who, step, detail, spec, broken in rows:
        head = f"{'!' if broken else ' '}{num:>{num_w}}  {who:<{who_w}}  {step:<{step_w}}  "
        room = width - len(head)
        detail = " ".join(str(detail).split())
        if len(detail) + 2 + len(spec) <= room:
            lines.append(head + detail + " " * (room - len(detail) - len(spec)) + spec)
        else:
            lines.append((head + _clip(detail, room)).rstrip())
            if spec:
                lines.append(_clip(spec, width - 4).rjust(width))
    return lines


def _findings(findings, width: int) -> list[str]:
    if not findings:
        return ["No findings: every rule the lab checks was kept."]
    lines = [f"{len(findings)} finding(s):"]
    for f in findings:
        lines += textwrap.wrap(f"✗ {f.rule}: {f.message} (spec: {f.spec}; hint: {f.hint})",
                               width, initial_indent="  ", subsequent_indent="    ")
    return lines


def report(exchanges, width: int = 80) -> str:
    """The whole demo as text, no line longer than `width`."""
    width = max(width, 60)
    rule = "=" * width
    out = ["gateway-lab demo: one form POST, sent to the same guestbook written",
           "three ways (CGI, WSGI, ASGI), traced step by step.", "",
           "Who is who in the traces:", *_terms(ROLES, width), "",
           "The guestbook's files, in", f"  {HERE}{'/' if '/' in str(HERE) else chr(92)}",
           *_terms(FILES, width, indent=4), "",
           "The request, as bytes on the wire:"]
    out += ["  " + line for line in request().to_bytes().decode().splitlines()]
    for ex in exchanges:
        r = ex.response
        title = (f"== {ex.interface.upper()} ({SCRIPT_OF.get(ex.interface, '?')}): "
                 f"{r.status} {r.reason}, {len(ex.trace.events)} steps ")
        out += ["", (title + rule)[:width]]
        if ex.interface == "cgi":
            out += textwrap.wrap("(no gateway lane: in CGI the server is the gateway; it "
                                 "runs the script with the request in its environment)",
                                 width)
        out += trace_lines(ex.trace, width)
        out += [f"the client got: {r.status} {r.reason}, {len(r.body)} bytes:"]
        out += ["  " + _clip(line, width - 2)
                for line in r.body.decode("utf-8", "replace").splitlines()]
        out += _findings(ex.findings, width)
    out.append("")
    same = len({ex.response.body for ex in exchanges}) == 1
    out.append("The three bodies are identical." if same else "The bodies differ (see above).")
    out += ["", "What next:"]
    for command, what in NEXT:
        if len(command) <= 28:
            out += textwrap.wrap(what, width, initial_indent=f"  {command:<28}  ",
                                 subsequent_indent=" " * 32)
        else:
            out += [f"  {command}", *textwrap.wrap(what, width, initial_indent=" " * 32,
                                                   subsequent_indent=" " * 32)]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="gateway-lab demo",
        description="Send one form POST through the guestbook written as a CGI script, "
                    "a WSGI app and an ASGI app, and print each response and trace.")
    parser.add_argument("--json", action="store_true", help="print the exchanges as JSON")
    args = parser.parse_args(argv)
    exchanges = run_all()
    if args.json:
        print(json.dumps([ex.to_dict() for ex in exchanges], indent=2))
        return 0
    print(report(exchanges, min(shutil.get_terminal_size((80, 24)).columns, 100)))
    return 0
