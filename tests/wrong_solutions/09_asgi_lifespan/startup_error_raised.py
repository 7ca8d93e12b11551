"""A wrong solution of exercise 09_asgi_lifespan: a failing startup lets its error out.

Mistake: Pool() raising at startup is left to propagate, as if that stopped the server;
    the lifespan spec has the server carry on without lifespan events instead (it takes
    the app for one that does not speak lifespan), so requests then find no pool.
Fails: when Pool() fails at startup
Says: expected {'type': 'lifespan.startup.failed', 'message': '...'}, got an error
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
            scope["state"]["pool"] = Pool()  # if this raises, the error goes to the server
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
