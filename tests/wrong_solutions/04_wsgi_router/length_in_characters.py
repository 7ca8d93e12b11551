"""A wrong solution of exercise 04_wsgi_router: Content-Length counted in characters.

Mistake: measures Content-Length on the text before encoding it: an item like 'crème' is 5
    characters but 6 bytes, so the header is short by one and the client stops reading before
    the end (RFC 9110 §8.6).
Fails: POST /items with a non-ASCII item
Says: wsgi.content_length.mismatch
"""

ITEMS = ["apple", "pear"]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def home(environ):
    return "200 OK", "Welcome to the shop.\n"


def list_items(environ):
    return "200 OK", "".join(f"{item}\n" for item in ITEMS)


def add_item(environ):
    # Read exactly CONTENT_LENGTH bytes (PEP 3333 §Input and Error Streams): a server
    # need not end wsgi.input there. CONTENT_LENGTH "may be empty or absent": `or 0`.
    length = int(environ.get("CONTENT_LENGTH") or 0)
    item = environ["wsgi.input"].read(length).decode("utf-8").strip()
    if not item:
        return "400 Bad Request", "an item needs a name\n"
    ITEMS.append(item)
    return "201 Created", f"added {item}\n"


# path -> {method: handler}: the path decides 404, the method 405.
ROUTES = {
    "/": {"GET": home},
    "/items": {"GET": list_items, "POST": add_item},
}


def app(environ, start_response):
    # PATH_INFO: the path inside this app (after SCRIPT_NAME), without the query.
    methods = ROUTES.get(environ.get("PATH_INFO") or "/")
    if methods is None:
        status, text, extra = "404 Not Found", "not found\n", []
    elif environ["REQUEST_METHOD"] not in methods:
        # RFC 9110 §15.5.6: a 405 MUST say which methods would have worked.
        status, text = "405 Method Not Allowed", "method not allowed\n"
        extra = [("Allow", ", ".join(sorted(methods)))]
    else:
        status, text = methods[environ["REQUEST_METHOD"]](environ)
        extra = []
    start_response(status, TEXT + extra + [("Content-Length", str(len(text)))])
    return [text.encode("utf-8")]
