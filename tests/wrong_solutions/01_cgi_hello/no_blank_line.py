"""A wrong solution of exercise 01_cgi_hello: no empty line after the headers.

Mistake: prints the Content-Type line and then the body straight away: without the empty line the
    server cannot tell where the headers end (RFC 3875 §6.3).
Fails: GET without a query says hello to the world
Says: expected status 200, got 502
"""

import os
import sys
from urllib.parse import parse_qs

name = parse_qs(os.environ.get("QUERY_STRING", "")).get("name", ["world"])[0]
out = sys.stdout.buffer
out.write(b"Content-Type: text/plain; charset=utf-8\n")
out.write(f"Hello, {name}!".encode())
out.flush()
