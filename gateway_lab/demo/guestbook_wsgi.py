"""The guestbook as a WSGI app (PEP 3333): environ in, start_response, bytes out."""

from .guestbook import page, parse_form, refuse, show, sign


def app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    answer = refuse(method, environ.get("PATH_INFO") or "/")
    if answer is None and method == "POST":
        # PEP 3333: read exactly CONTENT_LENGTH bytes; never past it.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        answer = page(sign(parse_form(environ["wsgi.input"].read(length))))
    elif answer is None:
        answer = page(show())
    status, headers, body = answer
    start_response(status, headers)
    # RFC 9110 §9.3.2: HEAD gets GET's header fields and no content.
    return [b"" if method == "HEAD" else body]
