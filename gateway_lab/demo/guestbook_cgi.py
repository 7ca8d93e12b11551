"""The guestbook as a CGI script (RFC 3875): a fresh process per request.

The request arrives as environment variables (meta-variables) and the body
on stdin; the response is written to stdout as CGI header lines, a blank
line, then the body.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guestbook import page, parse_form, refuse, show, sign  # noqa: E402

method = os.environ["REQUEST_METHOD"]
answer = refuse(method, os.environ.get("PATH_INFO") or "/")
if answer is None and method == "POST":
    # RFC 3875 §4.2: read exactly CONTENT_LENGTH bytes from stdin.
    length = int(os.environ.get("CONTENT_LENGTH") or 0)
    answer = page(sign(parse_form(sys.stdin.buffer.read(length))))
elif answer is None:
    answer = page(show())
status, headers, body = answer
out = sys.stdout.buffer
# RFC 3875 §6.3.3: a script that answers other than 200 says so in a Status field.
lines = [f"Status: {status}"] if not status.startswith("200") else []
lines += [f"{name}: {value}" for name, value in headers]
out.write("".join(line + "\r\n" for line in lines).encode("latin-1") + b"\r\n")
# RFC 3875 §4.3.3 and RFC 9110 §9.3.2: HEAD gets the header fields and no content.
if method != "HEAD":
    out.write(body)
