"""A wrong solution of exercise 09_asgi_lifespan: startup answered, then the lifespan call returns.

Mistake: handles lifespan.startup and returns: the lifespan scope lasts as long as the server, so
    lifespan.shutdown is never answered and the pool never closed.
Fails: a server's life: startup, 3 requests
Says: after lifespan.shutdown expected lifespan.shutdown.complete
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
    for _ in range(1):
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["pool"] = Pool()
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
    pool = scope["state"]["pool"]
    pool.visits += 1
    body = f"visit {pool.visits}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
