"""A wrong solution of exercise 09_asgi_lifespan: startup.failed with no reason.

Mistake: replies lifespan.startup.failed without a "message": the server stops, and its
    log cannot say why (the task asks for the error's text).
Fails: when Pool() fails at startup
Says: got {'type': 'lifespan.startup.failed'}
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


async def lifespan(scope, receive, send):
    # One call for the server's whole life: loop until shutdown.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                pool = Pool()
            except Exception:
                # Raising would not stop the server: the spec has it carry on as if the
                # app had no lifespan.  This message stops it, with a reason in its log.
                await send({"type": "lifespan.startup.failed"})
                return
            scope["state"]["pool"] = pool  # requests get a shallow copy of this dict
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            scope["state"]["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    pool = scope["state"]["pool"]  # the same object for every request
    pool.visits += 1
    body = f"visit {pool.visits}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
