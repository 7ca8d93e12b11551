"""A wrong solution of exercise 02_cgi_form: CONTENT_LENGTH indexed on POST.

Mistake: looks at the method first, then reads int(os.environ['CONTENT_LENGTH']): a POST with no
    body may come without CONTENT_LENGTH (RFC 3875 §4.1.2: 'NULL or not defined'), and the
    script dies with a KeyError.
Fails: POST with an empty body is 400 too
Says: expected status 400, got 502
"""

import html
import os
import sys
from urllib.parse import parse_qs

FORM = """<!doctype html>
<title>Guestbook</title>
<form method="post"><input name="name"><input name="message"><button>Sign</button></form>
"""


def respond(status, content_type, text):
    body = text.encode("utf-8")
    out = sys.stdout.buffer
    out.write(f"Status: {status}\nContent-Type: {content_type}\n"
              f"Content-Length: {len(body)}\n\n".encode())
    out.write(body)
    out.flush()


if os.environ["REQUEST_METHOD"] != "POST":
    respond("200 OK", "text/html; charset=utf-8", FORM)
else:
    length = int(os.environ["CONTENT_LENGTH"])  # a POST always has a body?
    form = parse_qs(sys.stdin.buffer.read(length).decode("utf-8"))
    name = form.get("name", [""])[0].strip()
    if not name:
        respond("400 Bad Request", "text/plain; charset=utf-8", "a name is required\n")
    else:
        message = form.get("message", [""])[0]
        respond("200 OK", "text/html; charset=utf-8",
                f"<p>Thanks, {html.escape(name)}!</p><p>You wrote: {html.escape(message)}</p>")
