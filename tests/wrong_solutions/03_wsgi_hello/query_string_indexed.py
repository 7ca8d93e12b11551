"""A wrong solution of exercise 03_wsgi_hello: QUERY_STRING assumed present.

Mistake: indexes environ['QUERY_STRING']: PEP 3333 says it 'may be empty or absent', and a server
    that leaves it out when the URL has no query gets a KeyError and answers 500.
Fails: a server that leaves QUERY_STRING out
Says: KeyError: 'QUERY_STRING'
"""

from urllib.parse import parse_qs


def app(environ, start_response):
    query = parse_qs(environ["QUERY_STRING"])
    name = query.get("name", ["world"])[0]
    body = f"Hello, {name}!".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
