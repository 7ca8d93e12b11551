"""A wrong solution of exercise 01_cgi_hello: the query split by hand.

Mistake: takes everything after the first '=' of QUERY_STRING as the name: with another parameter
    first, or a percent-encoded name, the greeting is wrong.
Fails: ?x=1&name=J%C3%BCrgen
Says: expected the body 'Hello, Jürgen!'
"""

import os
import sys

query = os.environ.get("QUERY_STRING", "")
name = query.split("=", 1)[1] if "=" in query else "world"
body = f"Hello, {name}!".encode()
out = sys.stdout.buffer
out.write(b"Content-Type: text/plain; charset=utf-8\n\n")
out.write(body)
out.flush()
