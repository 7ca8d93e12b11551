"""A wrong solution of exercise 18_thread_safe: a counter per thread.

Mistake: keeps the count in a threading.local(), which has no races because every thread gets its
    own copy: 8 threads then count 8 different totals, and the answers repeat.
Fails: none lost, none counted twice
Says: given twice
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
LOCAL = threading.local()


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
    if path == "/hit" and method == "POST":
        count = getattr(LOCAL, "hits", 0) + 1
        LOCAL.hits = count
        STORE.set("hits", count)
        status, text = "200 OK", f"hit {count}\n"
    elif path == "/count" and method == "GET":
        status, text = "200 OK", f"{STORE.get('hits')} hits\n"
    else:
        status, text = "404 Not Found", "not found\n"
    time.sleep(RENDER)
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]
