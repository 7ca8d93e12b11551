"""A wrong solution of exercise 01_cgi_hello: Content-Length counted in characters.

Mistake: writes Content-Length: len(text), the number of characters: 'Hello, Jürgen!' is 14
    characters but 15 bytes in UTF-8, so the header says one byte less than the body has (RFC
    3875 §6.4; RFC 9110 §8.6 counts octets).
Fails: ?x=1&name=J%C3%BCrgen
Says: cgi.response.content_length_mismatch
"""

import os
import sys
from urllib.parse import parse_qs

query = parse_qs(os.environ.get("QUERY_STRING", ""))
name = query.get("name", ["world"])[0]
text = f"Hello, {name}!"
out = sys.stdout.buffer
out.write(b"Content-Type: text/plain; charset=utf-8\n")
out.write(f"Content-Length: {len(text)}\n".encode())
out.write(b"\n")
out.write(text.encode("utf-8"))
out.flush()
