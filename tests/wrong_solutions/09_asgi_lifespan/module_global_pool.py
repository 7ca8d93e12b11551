"""A wrong solution of exercise 09_asgi_lifespan: the pool kept in a module global.

Mistake: keeps the pool in a global instead of scope['state']: it works with one app in one
    server, but the lifespan state is where ASGI servers and frameworks expect it (and
    two apps in one process would share it).
Fails: startup puts a pool in the state
Says: expected scope['state']['pool'] to be set at startup
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
            global POOL
            POOL = Pool()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            POOL.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    pool = POOL
    pool.visits += 1
    body = f"visit {pool.visits}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
