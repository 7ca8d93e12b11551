"""The guestbook demo: one piece of logic served three ways (CGI, WSGI, ASGI).

`gateway-lab demo` sends the same form POST through all three and prints
each response and trace, so the interfaces can be compared step by step.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
CGI_SCRIPT = HERE / "guestbook_cgi.py"
FORM = b"name=Ada&message=Hello+from+1843%21"


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
    print(f"Request sent to each gateway:\n\n{request().to_bytes().decode()}\n")
    for ex in exchanges:
        print(ex)
        print()
    same = len({ex.response.body for ex in exchanges}) == 1
    print("The three bodies are identical." if same else "The bodies differ (see above).")
    return 0
