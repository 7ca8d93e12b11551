"""The guestbook as a WSGI app (PEP 3333): environ in, start_response, bytes out."""

from .guestbook import parse_form, show, sign


def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        # PEP 3333: read exactly CONTENT_LENGTH bytes; never past it.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        page = sign(parse_form(environ["wsgi.input"].read(length)))
    else:
        page = show()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(page)))])
    return [page]
