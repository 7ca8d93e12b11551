"""Echo the request body back, with the request's Content-Type.

With ?first=N it prints N bytes *before* reading stdin: a server that wrote the
whole body before reading the script's output would deadlock on a big body."""

import os
import sys
from urllib.parse import parse_qs

query = parse_qs(os.environ["QUERY_STRING"])
out = sys.stdout.buffer
first = int(query.get("first", ["0"])[0])
out.write(b"Content-Type: " + os.environ.get("CONTENT_TYPE", "text/plain").encode() + b"\n")
out.write(b"X-Method: " + os.environ["REQUEST_METHOD"].encode() + b"\n\n")
out.write(b"." * first)
out.flush()
out.write(sys.stdin.buffer.read(int(os.environ.get("CONTENT_LENGTH") or 0)))
