"""A wrong solution of exercise 04_wsgi_router: routing on REQUEST_URI.

Mistake: looks the route up by REQUEST_URI, the URL as sent (uWSGI and the lab set it; PEP 3333
    does not): it holds the query string and the mount point too.
Fails: GET /items?sort=asc still lists the items
Says: expected status 200, got 404
"""

ITEMS = ["apple", "pear"]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def home(environ):
    return "200 OK", "Welcome to the shop.\n"


def list_items(environ):
    return "200 OK", "".join(f"{item}\n" for item in ITEMS)


def add_item(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    item = environ["wsgi.input"].read(length).decode("utf-8").strip()
    if not item:
        return "400 Bad Request", "an item needs a name\n"
    ITEMS.append(item)
    return "201 Created", f"added {item}\n"


ROUTES = {
    "/": {"GET": home},
    "/items": {"GET": list_items, "POST": add_item},
}


def app(environ, start_response):
    methods = ROUTES.get(environ.get("REQUEST_URI", "/"))
    if methods is None:
        status, text, extra = "404 Not Found", "not found\n", []
    elif environ["REQUEST_METHOD"] not in methods:
        status, text = "405 Method Not Allowed", "method not allowed\n"
        extra = [("Allow", ", ".join(sorted(methods)))]
    else:
        status, text = methods[environ["REQUEST_METHOD"]](environ)
        extra = []
    body = text.encode("utf-8")
    start_response(status, TEXT + extra + [("Content-Length", str(len(body)))])
    return [body]
