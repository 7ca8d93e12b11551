"""A wrong solution of exercise 18_thread_safe: one lock around the whole request.

Mistake: holds the lock for the whole request, rendering included: nothing is lost, but the 8
    threads take turns, and the server is no faster than one thread.
Fails: the threads still work at once
Says: the lock covers more than the update
"""

import threading
import time

RENDER = 0.02


class Store:
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
    with LOCK:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if path == "/hit" and method == "POST":
            count = STORE.get("hits") + 1
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
