"""The guestbook as a CGI script (RFC 3875): a fresh process per request.

The request arrives as environment variables (meta-variables) and the body
on stdin; the response is written to stdout as CGI header lines, a blank
line, then the body.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guestbook import parse_form, show, sign  # noqa: E402

if os.environ["REQUEST_METHOD"] == "POST":
    # RFC 3875 §4.2: read exactly CONTENT_LENGTH bytes from stdin.
    length = int(os.environ.get("CONTENT_LENGTH") or 0)
    page = sign(parse_form(sys.stdin.buffer.read(length)))
else:
    page = show()
out = sys.stdout.buffer
out.write(b"Content-Type: text/html; charset=utf-8\r\n")
out.write(b"Content-Length: %d\r\n\r\n" % len(page))
out.write(page)
