"""A wrong solution of exercise 18_thread_safe: the lock around the read only.

Mistake: reads and adds one under the lock, then writes after releasing it: another thread can
    read the old count before this write lands, and both write the same number.
Fails: 160 hits from 8 threads at once
Says: hits were lost
"""

import threading
import time

RENDER = 0.02  # seconds to render a page; do not change


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
LOCK = threading.Lock()  # one for the module: every thread must use the same lock


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
    if path == "/hit" and method == "POST":
        with LOCK:
            count = STORE.get("hits") + 1
        STORE.set("hits", count)
        status, text = "200 OK", f"hit {count}\n"
    elif path == "/count" and method == "GET":
        status, text = "200 OK", f"{STORE.get('hits')} hits\n"
    else:
        status, text = "404 Not Found", "not found\n"
    time.sleep(RENDER)  # outside the lock: the threads render at the same time
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]
