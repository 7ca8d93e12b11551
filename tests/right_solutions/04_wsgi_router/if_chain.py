"""A right solution of exercise 04_wsgi_router in another style.

Style: an if/elif chain, a trailing slash ignored, the body read with readline(size).
"""

ITEMS = ["apple", "pear"]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "").rstrip("/") or "/"
    method = environ["REQUEST_METHOD"]
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if path == "/" and method == "GET":
        status, text = "200 OK", "Welcome!\n"
    elif path == "/items" and method == "GET":
        status, text = "200 OK", "\n".join(ITEMS) + "\n"
    elif path == "/items" and method == "POST":
        size = environ.get("CONTENT_LENGTH") or "0"
        item = environ["wsgi.input"].readline(int(size)).decode("utf-8").strip()
        if item:
            ITEMS.append(item)
            status, text = "201 Created", item + "\n"
        else:
            status, text = "400 Bad Request", "empty\n"
    elif path in ("/", "/items"):
        allowed = "GET" if path == "/" else "GET, POST"
        status, text = "405 Method Not Allowed", "no\n"
        headers.append(("Allow", allowed))
    else:
        status, text = "404 Not Found", "no such page\n"
    body = text.encode("utf-8")
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]
