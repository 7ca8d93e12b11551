"""The guestbook's logic, shared by the CGI, WSGI and ASGI versions.

It knows nothing about gateways: it takes a method, a path and the decoded form
fields, and returns a status, header fields and the page.  Only the code around
it changes between interfaces (guestbook_cgi.py, guestbook_wsgi.py,
guestbook_asgi.py).

Like a real app it answers what it does not serve: a path it does not have gets
404, a method the page does not take gets 405 with an `Allow` header naming the
ones it does (RFC 9110 §15.5.5, §15.5.6).
"""

from html import escape
from urllib.parse import parse_qs

PATHS = ("/", "/guestbook")            # where the guestbook lives
METHODS = ("GET", "HEAD", "POST")      # what it answers there


def parse_form(body: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded bytes -> {field: first value}."""
    fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def sign(form: dict[str, str]) -> bytes:
    """The page thanking the visitor for signing, as UTF-8 bytes."""
    name = escape(form.get("name", "").strip() or "stranger")
    message = escape(form.get("message", "").strip())
    page = (f"<h1>Thank you, {name}!</h1>\n"
            f"<p>Your entry: <q>{message}</q></p>\n")
    return page.encode("utf-8")


def show() -> bytes:
    return b"<h1>Guestbook</h1>\n<form method='post'><input name='name'>" \
           b"<input name='message'><button>Sign</button></form>\n"


def page(body: bytes, status: str = "200 OK", extra=()) -> tuple[str, list, bytes]:
    """(status, header fields, body) of an HTML page."""
    headers = [("Content-Type", "text/html; charset=utf-8"),
               ("Content-Length", str(len(body))), *extra]
    return status, headers, body


def refuse(method: str, path: str):
    """The answer to a request the guestbook does not serve (404 or 405), else None."""
    if path not in PATHS:
        # RFC 9110 §15.5.5: nothing here at this path.
        return page(f"<h1>Not Found</h1>\n<p>No page at {escape(path)}.</p>\n".encode(),
                    "404 Not Found")
    if method not in METHODS:
        # RFC 9110 §15.5.6: a 405 must say, in Allow, which methods the page takes.
        return page(f"<h1>Method Not Allowed</h1>\n<p>{escape(method)} is not allowed "
                    f"here.</p>\n".encode(), "405 Method Not Allowed",
                    [("Allow", ", ".join(METHODS))])
    return None
