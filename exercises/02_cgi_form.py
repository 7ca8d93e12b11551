"""Exercise 02: a CGI guestbook form, POST read from stdin.

Lesson: 01 CGI (notebooks/01_*.ipynb).  Check: `gateway-lab check 02_cgi_form`.

Task: one script, two methods:

    GET  /sign.py  -> 200 text/html, a page with a <form method="post"> that has
                      the fields name and message
    POST /sign.py  (Content-Type: application/x-www-form-urlencoded,
                    body e.g. "name=Ada&message=hi+there")
                   -> 200, a page containing "Thanks, Ada!" and "You wrote: hi there"
    POST without a name -> "Status: 400 Bad Request"

Rules it practises (RFC 3875):
* §4.1.12: REQUEST_METHOD ("GET", "POST": case-sensitive);
* §4.2 / §4.1.2: the body is on stdin; read exactly CONTENT_LENGTH bytes, no more
  (the server need not send end-of-file: the check plays one that does not);
  a GET has no body and no CONTENT_LENGTH;
* §6.3.3: the Status header field "NNN reason" for a status other than 200.
Do not echo the input unescaped into HTML (html.escape): that is how XSS starts.
"""

import sys

# Replace this with your code.
sys.stdout.write("Status: 501 Not Implemented\n")
sys.stdout.write("Content-Type: text/plain; charset=utf-8\n")
sys.stdout.write("\n")
sys.stdout.write("not implemented yet\n")
