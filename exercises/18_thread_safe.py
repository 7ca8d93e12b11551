"""Exercise 18: a hit counter that survives 8 threads.

Lesson: 03 WSGI servers (notebooks/03_*.ipynb, threads).
Check: `gateway-lab check 18_thread_safe`.

The app below counts hits.  It works when requests come one at a time.  A
threaded server (werkzeug's, gunicorn's gthread worker, `gl.Threads(8)`) runs
several requests at once, on threads that share this module's globals, and then
hits get lost: two threads read 41, both write 42.

Task: make `app` correct under `gl.run_many(app, requests, model=gl.Threads(8))`:

    POST /hit     -> 200 "hit N\n", N the count after this hit: 160 POSTs at
                     once give the answers 1 to 160, each exactly once
    GET  /count   -> 200 "N hits\n"
    anything else -> 404

Keep the count in STORE (a slow store: every get and set takes a moment, like a
database), and keep the rendering (time.sleep(RENDER)) outside any lock: the 8
threads must still work at the same time, or the server is no faster than one
thread.

Rules it practises:
* PEP 3333 §environ Variables: wsgi.multithread is True when "the application
  object may be simultaneously invoked by another thread in the same process";
* a read-modify-write of shared data is done by one thread at a time (a
  threading.Lock held for as short a time as possible).
"""

import threading  # noqa: F401  (you will need it)
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


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
    if path == "/hit" and method == "POST":
        count = STORE.get("hits") + 1  # read, add one ...
        STORE.set("hits", count)       # ... write: another thread may have written meanwhile
        status, text = "200 OK", f"hit {count}\n"
    elif path == "/count" and method == "GET":
        status, text = "200 OK", f"{STORE.get('hits')} hits\n"
    else:
        status, text = "404 Not Found", "not found\n"
    time.sleep(RENDER)  # rendering the page
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]
