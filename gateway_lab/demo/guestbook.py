"""The guestbook's logic, shared by the CGI, WSGI and ASGI versions.

It knows nothing about gateways: it takes the decoded form fields and
returns the page.  Only the code around it changes between interfaces.
"""

from html import escape
from urllib.parse import parse_qs


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
