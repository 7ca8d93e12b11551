"""Redirects (RFC 3875 §6.2): PATH_INFO picks the kind.

/old       -> local redirect to /redirect.py/new (the server fetches it itself)
/away      -> client redirect to an absolute URL (the server sends 302)
/moved     -> client redirect with a document and its own Status (§6.2.4)
otherwise  -> a document naming the method and path it was run for"""

import os
import sys

path = os.environ.get("PATH_INFO", "")
if path == "/old":
    print("Location: /redirect.py/new?from=old")
    print()
elif path == "/away":
    print("Location: https://example.org/elsewhere")
    print()
elif path == "/moved":
    print("Status: 301 Moved Permanently")
    print("Location: https://example.org/new-home")
    print("Content-Type: text/plain")
    print()
    print("moved to https://example.org/new-home")
else:
    sys.stdout.write("Content-Type: text/plain\n\n")
    sys.stdout.write(f"{os.environ['REQUEST_METHOD']} {path} {os.environ['QUERY_STRING']}")
