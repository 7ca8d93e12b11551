"""A wrong solution of exercise 09_asgi_lifespan: a new Pool for every request.

Mistake: makes a Pool() in the http branch: every request gets its own pool, so nothing is shared
    (visit 1 every time) and a real app would open a connection pool per request.
Fails: 3 requests share the pool made at startup
Says: got [b'visit 1', b'visit 1', b'visit 1']
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
            scope["state"]["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    pool = Pool()
    pool.visits += 1
    body = f"visit {pool.visits}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
