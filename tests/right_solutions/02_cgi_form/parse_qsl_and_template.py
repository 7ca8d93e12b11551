"""A right solution of exercise 02_cgi_form in another style.

Style: parse_qsl into a dict, one string.Template for the page, the method tested with
    `in`, and an empty POST read as zero bytes.
"""

import html
import os
import sys
from string import Template
from urllib.parse import parse_qsl

FORM = ('<!doctype html><form method="post"><input name="name">'
        '<input name="message"><button>Sign</button></form>')
THANKS = Template("<!doctype html><p>Thanks, $name!</p><p>You wrote: $message</p>")


def send(status, ctype, text):
    data = text.encode("utf-8")
    sys.stdout.buffer.write(b"Status: %s\r\nContent-Type: %s\r\n\r\n%s"
                            % (status.encode(), ctype.encode(), data))
    sys.stdout.buffer.flush()


if os.environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
    send("200 OK", "text/html; charset=utf-8", FORM)
else:
    size = os.environ.get("CONTENT_LENGTH", "")
    raw = sys.stdin.buffer.read(int(size)) if size.isdigit() else b""
    fields = dict(parse_qsl(raw.decode("utf-8")))
    if fields.get("name", "").strip():
        send("200 OK", "text/html; charset=utf-8",
             THANKS.substitute({k: html.escape(fields.get(k, "")) for k in ("name", "message")}))
    else:
        send("400 Bad Request", "text/plain; charset=utf-8", "a name is required\n")
