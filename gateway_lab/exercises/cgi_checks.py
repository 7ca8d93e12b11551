"""Checks for the CGI exercises (RFC 3875): 01 hello with a query string, 02 a form POST.

The learner's file is a CGI script: each check runs it in a real child process
through `run_cgi`, with the meta-variables in its environment and the body on
its stdin, exactly as a web server would.  One check plays a server that sends
no end-of-file after the body (freedoms.no_eof_interpreter).
"""

from __future__ import annotations

from pathlib import Path

from ..request import Request
from . import freedoms
from .core import cgi, exercise, expect

LESSON_CGI = "01 CGI (notebooks/01_*.ipynb)"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
QUERY_RULE = ("RFC 3875 §4.1.7: QUERY_STRING is the query as sent, still URL-encoded; "
              "the script decodes it")
XSS_RULE = ("never put input into HTML unescaped: that is how XSS starts (every field the "
            "client sends is input)")
XSS_HINT = "html.escape(name) and html.escape(message) before building the page"
PARSE_HINT = ("urllib.parse.parse_qs(os.environ.get('QUERY_STRING', '')) decodes %XX and '+' "
              "and finds `name` wherever it is in the query")


# -- 01 -----------------------------------------------------------------------------

@exercise("01_cgi_hello", "CGI hello, world with a query string", LESSON_CGI, kind="script",
          hints=[
    "A CGI script prints its response: header lines, one empty line, then the body. "
    "The minimum is 'Content-Type: text/plain; charset=utf-8', a blank line and the text "
    "(RFC 3875 §6.2.1).",
    "The query is the environment variable QUERY_STRING (RFC 3875 §4.1.7: the server always "
    "sets it, '' when there is none); urllib.parse.parse_qs decodes it, %C3%BC and '+' "
    "included.",
    "Write bytes to sys.stdout.buffer (and flush) so the body is UTF-8 whatever the "
    "child's locale is: sys.stdout.buffer.write(body.encode('utf-8')).",
])
def check_01(path: Path):
    ex = cgi(path, Request("GET", "/hello.py"))
    yield expect("GET without a query says hello to the world", ex, status=200,
                 body="Hello, world!", headers={"Content-Type": None},
                 rule="RFC 3875 §6.2.1: a document response is a Content-Type line, an empty "
                      "line, then the body",
                 hint="print the Content-Type header, then an empty line, then the text")
    ex = cgi(path, Request("GET", "/hello.py?name=Ada"))
    yield expect("GET ?name=Ada greets Ada", ex, status=200, body="Hello, Ada!",
                 rule=QUERY_RULE, hint=PARSE_HINT)
    ex = cgi(path, Request("GET", "/hello.py?x=1&name=J%C3%BCrgen"))
    yield expect("?x=1&name=J%C3%BCrgen: the name comes second and is percent-encoded UTF-8",
                 ex, status=200, body="Hello, Jürgen!".encode(), rule=QUERY_RULE,
                 hint=PARSE_HINT)
    ex = cgi(path, Request("GET", "/hello.py?name=Ada+Lovelace"))
    yield expect("?name=Ada+Lovelace: a '+' in a query is a space (HTML forms send it so)", ex,
                 status=200, body="Hello, Ada Lovelace!",
                 rule="HTML's application/x-www-form-urlencoded: a space is sent as '+'; "
                      "urllib.parse.unquote leaves '+' alone, parse_qs turns it into a space",
                 hint=PARSE_HINT)


# -- 02 -----------------------------------------------------------------------------

@exercise("02_cgi_form", "a CGI form POST read from stdin", LESSON_CGI, kind="script", hints=[
    "On POST the body is on stdin and its length in CONTENT_LENGTH: "
    "sys.stdin.buffer.read(int(os.environ.get('CONTENT_LENGTH') or 0)) (RFC 3875 §4.2). "
    "A GET has no CONTENT_LENGTH at all.",
    "The body is urlencoded like a query string: urllib.parse.parse_qs(body.decode()) "
    "turns 'name=Ada&message=hi+there' into {'name': ['Ada'], 'message': ['hi there']}.",
    "A status other than 200 is a CGI header: print 'Status: 400 Bad Request' before "
    "Content-Type (RFC 3875 §6.3.3); the reason phrase is required.",
])
def check_02(path: Path):
    ex = cgi(path, Request("GET", "/sign.py"))
    yield expect("GET shows the form", ex, status=200, body_has="<form",
                 headers={"Content-Type": lambda v: "" if v.startswith("text/html")
                          else "should be text/html"},
                 rule="RFC 3875 §4.1.2: CONTENT_LENGTH is set only when there is a body; "
                      "a GET has none",
                 hint="os.environ.get('CONTENT_LENGTH'), never os.environ['CONTENT_LENGTH']")
    ex = cgi(path, Request("POST", "/sign.py", FORM, "name=Ada&message=hi+there"))
    yield expect("POST name=Ada&message=hi+there is thanked", ex, status=200,
                 body_has=["Thanks, Ada!", "You wrote: hi there"],
                 rule="RFC 3875 §4.2: the body is on stdin, CONTENT_LENGTH bytes of it",
                 hint="parse_qs(sys.stdin.buffer.read(length).decode('utf-8'))")
    body = "name=Gr%C3%A4ce&message=caf%C3%A9+cr%C3%A8me%3F"
    ex = cgi(path, Request("POST", "/sign.py", FORM, body))
    yield expect("percent-encoded UTF-8 in the form is decoded", ex,
                 status=200, body_has=["Thanks, Gräce!", "You wrote: café crème?"],
                 rule="HTML forms send UTF-8, percent-encoded, spaces as '+'",
                 hint="parse_qs decodes %XX as UTF-8 by default; write the page as UTF-8 bytes")
    ex = cgi(path, Request("POST", "/sign.py", FORM, "name=%3Cb%3EAda%3C%2Fb%3E&message=x"))
    yield expect("a name with HTML in it is escaped, not run by the browser", ex, status=200,
                 body_has="&lt;b&gt;Ada",
                 problems=["the page contains the raw <b>Ada</b>"
                           if b"<b>Ada" in ex.response.body else None],
                 rule=XSS_RULE, hint=XSS_HINT)
    # The message is input too: escaping only the name leaves the same hole one field over.
    ex = cgi(path, Request("POST", "/sign.py", FORM,
                           "name=Ada&message=%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    yield expect("a message with HTML in it is escaped too", ex, status=200,
                 body_has="&lt;script&gt;alert(1)",
                 problems=["the page contains the raw <script>alert(1)</script> from the "
                           "message" if b"<script>alert(1)" in ex.response.body else None],
                 rule=XSS_RULE, hint=XSS_HINT)
    # RFC 3875 §4.1.2: a POST with no body may come with CONTENT_LENGTH "0" or none at
    # all; it is still a POST without a name, not a GET.
    ex = cgi(path, Request("POST", "/sign.py", FORM, b""))
    yield expect("POST with an empty body is 400 too, not the form", ex, status=400,
                 note="(a POST whose body is empty: no name in it)",
                 rule="RFC 3875 §4.1.12: REQUEST_METHOD says what the request is; an empty "
                      "body does not make a POST a GET",
                 hint="decide on os.environ['REQUEST_METHOD'], then parse the (empty) body")
    ex = cgi(path, Request("POST", "/sign.py", FORM, "message=anonymous"))
    yield expect("POST without a name is 400 Bad Request (a Status: header)", ex, status=400,
                 rule="RFC 3875 §6.3.3: Status: code, a space and the reason phrase",
                 hint="print('Status: 400 Bad Request') before the Content-Type line")
    request = Request("POST", "/sign.py", FORM, "name=Ada&message=no+EOF")
    ex = cgi(path, request, interpreter=freedoms.no_eof_interpreter())
    stalled = freedoms.cgi_stalled(ex)
    yield expect("a server that sends the body and no end-of-file after it", ex, status=200,
                 body_has=["Thanks, Ada!"] if not stalled else (), problems=[stalled],
                 coach=not stalled,
                 note="(the server keeps stdin open after CONTENT_LENGTH bytes)",
                 rule="RFC 3875 §4.2: the server may or may not signal end-of-file after the "
                      "body; “the script MUST NOT attempt to read more than CONTENT_LENGTH "
                      "bytes”",
                 hint="sys.stdin.buffer.read(int(os.environ.get('CONTENT_LENGTH') or 0)), "
                      "never sys.stdin.read() with no size")
