"""A wrong solution of exercise 18_thread_safe: the method taken for the route.

Mistake: decides by the method alone (every POST is a hit, every GET the count): GET /nowhere
    answers '3 hits' instead of 404.
Fails: an unknown path is 404
Says: expected status 404, got 200
"""

import threading
import time

RENDER = 0.02


class Store:
    """A key-value store as slow as a round trip to a database; do not change."""

    def __init__(self):
        self._data = {}

    def get(self, key, default=0):
        time.sleep(0.001)
        return self._data.get(key, default)

    def set(self, key, value):
        time.sleep(0.001)
        self._data[key] = value


STORE = Store()
LOCK = threading.Lock()


def app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    if method == "POST":
        with LOCK:
            count = STORE.get("hits") + 1
            STORE.set("hits", count)
        status, text = "200 OK", f"hit {count}\n"
    elif method == "GET":
        status, text = "200 OK", f"{STORE.get('hits')} hits\n"
    else:
        status, text = "404 Not Found", "not found\n"
    time.sleep(RENDER)
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]
