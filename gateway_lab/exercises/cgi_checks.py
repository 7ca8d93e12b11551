"""Checks for the CGI exercises (RFC 3875): 01 hello with a query string, 02 a form POST.

The learner's file is a CGI script: each check runs it in a real child process
through `run_cgi`, with the meta-variables in its environment and the body on
its stdin, exactly as a web server would.
"""

from __future__ import annotations

from pathlib import Path

from ..request import Request
from . import core as _core
from .core import LearnerError, exercise, expect

LESSON_CGI = "01 CGI (notebooks/01_*.ipynb)"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _runner():
    try:
        from ..cgi import run_cgi
    except ImportError as error:
        raise LearnerError("the lab's CGI gateway (gateway_lab.cgi) is not available in this "
                           f"install: {error}") from None
    return run_cgi


# -- 01 -----------------------------------------------------------------------------

@exercise("01_cgi_hello", "CGI hello, world with a query string", LESSON_CGI, kind="script",
          hints=[
    "A CGI script prints its response: header lines, one empty line, then the body. "
    "The minimum is 'Content-Type: text/plain; charset=utf-8', a blank line and the text "
    "(RFC 3875 §6.2.1).",
    "The query is the environment variable QUERY_STRING (os.environ['QUERY_STRING'], always "
    "set, maybe ''); urllib.parse.parse_qs decodes it, %C3%BC included.",
    "Write bytes to sys.stdout.buffer (and flush) so the body is UTF-8 whatever the "
    "child's locale is: sys.stdout.buffer.write(body.encode('utf-8')).",
])
def check_01(path: Path):
    run_cgi = _runner()

    def run(request):
        return run_cgi(str(path), request, timeout=_core.RUN_TIMEOUT)

    ex = run(Request("GET", "/hello.py"))
    yield expect("GET without a query says hello to the world", ex, status=200,
                 body="Hello, world!", headers={"Content-Type": None})
    ex = run(Request("GET", "/hello.py?name=Ada"))
    yield expect("GET ?name=Ada greets Ada", ex, status=200, body="Hello, Ada!")
    ex = run(Request("GET", "/hello.py?name=J%C3%BCrgen&x=1"))
    yield expect("a percent-encoded UTF-8 name is decoded", ex, status=200,
                 body="Hello, Jürgen!".encode())


# -- 02 -----------------------------------------------------------------------------

@exercise("02_cgi_form", "a CGI form POST read from stdin", LESSON_CGI, kind="script", hints=[
    "On POST the body is on stdin and its length in CONTENT_LENGTH: "
    "sys.stdin.buffer.read(int(os.environ.get('CONTENT_LENGTH') or 0)) (RFC 3875 §4.2).",
    "The body is urlencoded like a query string: urllib.parse.parse_qs(body.decode()) "
    "turns 'name=Ada&message=hi+there' into {'name': ['Ada'], 'message': ['hi there']}.",
    "A status other than 200 is a CGI header: print 'Status: 400 Bad Request' before "
    "Content-Type (RFC 3875 §6.3.3); the reason phrase is required.",
])
def check_02(path: Path):
    run_cgi = _runner()

    def run(request):
        return run_cgi(str(path), request, timeout=_core.RUN_TIMEOUT)

    ex = run(Request("GET", "/sign.py"))
    yield expect("GET shows the form", ex, status=200, body_has="<form",
                 headers={"Content-Type": lambda v: "" if v.startswith("text/html")
                          else "should be text/html"})
    ex = run(Request("POST", "/sign.py", FORM, "name=Ada&message=hi+there"))
    yield expect("POST name=Ada&message=hi+there is thanked", ex, status=200,
                 body_has=["Thanks, Ada!", "You wrote: hi there"])
    body = "name=Gr%C3%A4ce&message=caf%C3%A9+cr%C3%A8me%3F"
    ex = run(Request("POST", "/sign.py", FORM, body))
    yield expect("percent-encoded UTF-8 in the form is decoded", ex,
                 status=200, body_has=["Thanks, Gräce!", "You wrote: café crème?"])
    ex = run(Request("POST", "/sign.py", FORM, "name=%3Cb%3EAda%3C%2Fb%3E&message=x"))
    yield expect("a name with HTML in it is escaped, not run by the browser", ex, status=200,
                 body_has="&lt;b&gt;Ada",
                 problems=["the page contains the raw <b>Ada</b>: escape input with "
                           "html.escape before putting it in HTML"
                           if b"<b>Ada" in ex.response.body else None])
    ex = run(Request("POST", "/sign.py", FORM, "message=anonymous"))
    yield expect("POST without a name is 400 Bad Request (a Status: header)", ex, status=400)
