"""A CGI script that answers with what it was given, as JSON: its environment,
its command line, its working directory and the request body from stdin."""

import json
import os
import sys

# RFC 3875 §4.2: read exactly CONTENT_LENGTH bytes, never "until end-of-file".
length = int(os.environ.get("CONTENT_LENGTH") or 0)
body = sys.stdin.buffer.read(length)
report = {
    "environ": dict(os.environ),
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "body": body.decode("latin-1"),
}
out = json.dumps(report).encode("utf-8")
sys.stdout.buffer.write(b"Content-Type: application/json\n\n" + out)
