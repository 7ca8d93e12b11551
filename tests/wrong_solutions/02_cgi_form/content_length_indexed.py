"""A wrong solution of exercise 02_cgi_form: CONTENT_LENGTH assumed present.

Mistake: reads int(os.environ['CONTENT_LENGTH']) before looking at the method: a GET has no body
    and no CONTENT_LENGTH (RFC 3875 §4.1.2), so showing the form crashes.
Fails: GET shows the form
Says: KeyError: 'CONTENT_LENGTH'
"""

import html
import os
import sys
from urllib.parse import parse_qs

FORM = """<!doctype html>
<title>Guestbook</title>
<form method="post" action="sign.py">
  <label>Name <input name="name"></label>
  <label>Message <input name="message"></label>
  <button>Sign</button>
</form>
"""


def respond(status: str, content_type: str, text: str) -> None:
    body = text.encode("utf-8")
    out = sys.stdout.buffer
    out.write(f"Status: {status}\n".encode())
    out.write(f"Content-Type: {content_type}\n".encode())
    out.write(f"Content-Length: {len(body)}\n\n".encode())
    out.write(body)
    out.flush()


def main() -> None:
    length = int(os.environ["CONTENT_LENGTH"])
    method = os.environ.get("REQUEST_METHOD", "GET")
    if method != "POST":
        respond("200 OK", "text/html; charset=utf-8", FORM)
        return
    form = parse_qs(sys.stdin.buffer.read(length).decode("utf-8"))
    name = form.get("name", [""])[0].strip()
    if not name:
        respond("400 Bad Request", "text/plain; charset=utf-8", "a name is required\n")
        return
    message = form.get("message", [""])[0]
    page = (f"<!doctype html><title>Thanks</title><p>Thanks, {html.escape(name)}!</p>"
            f"<p>You wrote: {html.escape(message)}</p>")
    respond("200 OK", "text/html; charset=utf-8", page)


main()
