"""A right solution of exercise 03_wsgi_hello in another style.

Style: lower-case header names, parse_qsl, and HEAD answered with no body of its own but
    the Content-Length a GET would have (RFC 9110 §9.3.2).
"""

from urllib.parse import parse_qsl


def app(environ, start_response):
    query = dict(parse_qsl(environ.get("QUERY_STRING") or ""))
    body = "Hello, {}!".format(query.get("name", "world")).encode("utf-8")
    start_response("200 OK", [("content-type", "text/plain; charset=utf-8"),
                              ("content-length", f"{len(body)}")])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
