"""Exercise 01: a CGI script that says hello, with a query string.

Lesson: 01 CGI (notebooks/01_*.ipynb).  Check: `gateway-lab check 01_cgi_hello`.

This file is a CGI script: the web server runs it as a new process for every
request, passes the request in environment variables (and the body on stdin)
and sends what it prints back to the browser.

Task: answer

    GET /hello.py                         -> 200, body "Hello, world!"
    GET /hello.py?name=Ada                -> 200, body "Hello, Ada!"
    GET /hello.py?x=1&name=J%C3%BCrgen    -> 200, body "Hello, Jürgen!" (UTF-8)
    GET /hello.py?name=Ada+Lovelace       -> 200, body "Hello, Ada Lovelace!"

with a Content-Type header.  The name may come anywhere in the query; it is
percent-encoded, and a '+' in it is a space (that is how HTML forms send it).

Rules it practises (RFC 3875):
* §4.1.7: QUERY_STRING is always set, "" when there is no query (a CGI server
  MUST set it; WSGI, in exercise 03, is less strict);
* §6.2.1 / §6.3.1: a document response needs Content-Type; Status is optional
  (default 200);
* §6.3: header lines, then one empty line, then the body (LF is fine, the server
  turns it into CRLF).
"""

import sys

# Replace this with your code.
sys.stdout.write("Status: 501 Not Implemented\n")
sys.stdout.write("Content-Type: text/plain; charset=utf-8\n")
sys.stdout.write("\n")
sys.stdout.write("not implemented yet\n")
