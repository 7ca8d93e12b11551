"""Exercise 09: ASGI lifespan, with state shared by every request.

Lesson: 04 ASGI (notebooks/04_*.ipynb, lifespan).
Check: `gateway-lab check 09_asgi_lifespan`.

A real app opens its database pool once, when the server starts, and closes
it when the server stops, not once per request.  ASGI's lifespan protocol is
how the server tells the app.

Task: write `async def app(scope, receive, send)` that

* for a "lifespan" scope: on lifespan.startup makes one `Pool()`, puts it in
  scope["state"]["pool"] and replies lifespan.startup.complete; on
  lifespan.shutdown closes the pool (pool.close()) and replies
  lifespan.shutdown.complete, then returns; if Pool() raises at startup,
  replies lifespan.startup.failed with the error's text as its "message";
* for an "http" scope: takes the pool from scope["state"]["pool"], counts the
  visit (pool.visits += 1) and answers 200 "visit N".

Rules it practises (ASGI lifespan spec 2.x and its "state" extension):
* the lifespan scope lives as long as the server: one coroutine call that
  loops on receive() until lifespan.shutdown;
* the server gives each request a *shallow copy* of the lifespan state: put
  shared objects in it at startup (never reassign a key per request);
* reply *.complete (or *.failed with a message) to every startup/shutdown:
  an app that raises instead is taken for one without lifespan, and the
  server starts anyway (the spec's compatibility rule).
"""


class Pool:
    """A pretend connection pool: made once at startup, closed at shutdown."""

    made = 0

    def __init__(self):
        Pool.made += 1
        self.visits = 0
        self.closed = False

    def close(self):
        self.closed = True


async def app(scope, receive, send):
    # Replace this with your code.
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 501,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        await send({"type": "http.response.body", "body": b"not implemented yet\n"})
