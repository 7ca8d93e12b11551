"""A wrong solution of exercise 02_cgi_form: stdin read to end-of-file.

Mistake: reads the body with sys.stdin.read(), to end-of-file: a server need not close stdin
    after CONTENT_LENGTH bytes, and then the script waits until it is killed.
Fails: a server that sends the body and no end-of-file after it
Says: read past the 23 bytes of CONTENT_LENGTH
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
    method = os.environ.get("REQUEST_METHOD", "GET")
    if method != "POST":
        respond("200 OK", "text/html; charset=utf-8", FORM)
        return
    form = parse_qs(sys.stdin.read())
    name = form.get("name", [""])[0].strip()
    if not name:
        respond("400 Bad Request", "text/plain; charset=utf-8", "a name is required\n")
        return
    message = form.get("message", [""])[0]
    page = (f"<!doctype html><title>Thanks</title><p>Thanks, {html.escape(name)}!</p>"
            f"<p>You wrote: {html.escape(message)}</p>")
    respond("200 OK", "text/html; charset=utf-8", page)


main()
