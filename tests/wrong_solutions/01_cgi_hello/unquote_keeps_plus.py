"""A wrong solution of exercise 01_cgi_hello: urllib.parse.unquote instead of parse_qs.

Mistake: decodes the name with urllib.parse.unquote, which turns %XX into characters but leaves
    '+' alone: HTML forms send a space as '+'.
Fails: ?name=Ada+Lovelace
Says: got 'Hello, Ada+Lovelace!'
"""

import os
import sys
from urllib.parse import unquote

name = "world"
for pair in os.environ.get("QUERY_STRING", "").split("&"):
    key, _, value = pair.partition("=")
    if key == "name":
        name = unquote(value)
out = sys.stdout.buffer
out.write(b"Content-Type: text/plain; charset=utf-8\n\n")
out.write(f"Hello, {name}!".encode())
out.flush()
