"""A wrong solution of exercise 04_wsgi_router: int(environ.get('CONTENT_LENGTH', 0)).

Mistake: defaults CONTENT_LENGTH to 0 only when it is absent: PEP 3333 also lets it be empty, and
    int('') raises ValueError, so a bodyless POST gets a 500 instead of a 400.
Fails: POST /items with no body is 400
Says: ValueError: invalid literal for int() with base 10: ''
"""

ITEMS = ["apple", "pear"]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def home(environ):
    return "200 OK", "Welcome to the shop.\n"


def list_items(environ):
    return "200 OK", "".join(f"{item}\n" for item in ITEMS)


def add_item(environ):
    length = int(environ.get("CONTENT_LENGTH", 0))
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
    methods = ROUTES.get(environ.get("PATH_INFO") or "/")
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
