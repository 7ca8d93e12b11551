"""A wrong solution of exercise 02_cgi_form: only the name is escaped.

Mistake: runs html.escape on the name but puts the message into the page as it came: any field
    the client sends is input, and a message with <script> in it runs in the browser of whoever
    reads the guestbook (XSS).
Fails: a message with HTML in it is escaped too
Says: the raw <script>alert(1)</script>
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
    out.write(f"Status: {status}\n".encode())  # RFC 3875 §6.3.3: code and reason
    out.write(f"Content-Type: {content_type}\n".encode())
    out.write(f"Content-Length: {len(body)}\n\n".encode())
    out.write(body)
    out.flush()


def main() -> None:
    method = os.environ.get("REQUEST_METHOD", "GET")
    if method != "POST":
        respond("200 OK", "text/html; charset=utf-8", FORM)
        return
    # RFC 3875 §4.2: read CONTENT_LENGTH bytes; the server may never send EOF.
    length = int(os.environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(sys.stdin.buffer.read(length).decode("utf-8"))
    name = form.get("name", [""])[0].strip()
    if not name:
        respond("400 Bad Request", "text/plain; charset=utf-8", "a name is required\n")
        return
    message = form.get("message", [""])[0]
    page = (f"<!doctype html><title>Thanks</title><p>Thanks, {html.escape(name)}!</p>"
            f"<p>You wrote: {message}</p>")
    respond("200 OK", "text/html; charset=utf-8", page)


main()
