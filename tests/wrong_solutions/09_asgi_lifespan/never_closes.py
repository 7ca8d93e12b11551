"""A wrong solution of exercise 09_asgi_lifespan: the pool never closed.

Mistake: answers lifespan.shutdown.complete without pool.close(): at shutdown the connections are
    left open.
Fails: one pool for the server's life, closed at shutdown
Says: expected the pool to be closed after lifespan.shutdown
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
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["pool"] = Pool()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    pool = scope["state"]["pool"]
    pool.visits += 1
    body = f"visit {pool.visits}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
