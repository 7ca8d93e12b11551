"""A wrong solution of exercise 01_cgi_hello: the name parameter assumed present.

Mistake: indexes parse_qs(...)['name']: a request without ?name= makes the script crash with a
    KeyError, and the server can only answer with an error.
Fails: GET without a query says hello to the world
Says: KeyError: 'name'
"""

import os
import sys
from urllib.parse import parse_qs

name = parse_qs(os.environ.get("QUERY_STRING", ""))["name"][0]
out = sys.stdout.buffer
out.write(b"Content-Type: text/plain; charset=utf-8\n\n")
out.write(f"Hello, {name}!".encode())
out.flush()
