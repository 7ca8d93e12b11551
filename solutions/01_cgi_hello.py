"""Exercise 01, a reference solution: a CGI hello with a query string."""

import os
import sys
from urllib.parse import parse_qs

# RFC 3875 §4.1.7: always set; "" when the URL has no query.
query = parse_qs(os.environ.get("QUERY_STRING", ""))
name = query.get("name", ["world"])[0]
body = f"Hello, {name}!".encode()

out = sys.stdout.buffer  # bytes, so the encoding never depends on the locale
out.write(b"Content-Type: text/plain; charset=utf-8\n")
out.write(f"Content-Length: {len(body)}\n".encode())
out.write(b"\n")  # the empty line ends the headers (RFC 3875 §6.2)
out.write(body)
out.flush()
