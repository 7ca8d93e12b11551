"""Exercise 19: server-sent events that stop when the client leaves.

Lesson: 05 Long-lived connections (notebooks/05_*.ipynb, streaming).
Check: `gateway-lab check 19_sse`.

Server-sent events (EventSource in a browser) are one long HTTP response: the
server writes an event whenever it has one, and the client keeps reading.  Such a
response never ends by itself, so the app must notice when the client has gone.

Task: write `async def app(scope, receive, send)` that answers GET /events:

* 200, content-type text/event-stream, cache-control no-cache;
* every INTERVAL seconds an event, b"data: tick 1\n\n", b"data: tick 2\n\n", ...,
  each in its own http.response.body message (more_body True);
* with ?n=N it sends N events, then ends the response (a last body message with
  more_body False); without n it goes on for as long as the client is there;
* when the client leaves (receive() returns {"type": "http.disconnect"}), it
  stops at once and returns, leaving no task of its own running.

Do not wait for send() to fail: ASGI 2.4 servers make send() raise an OSError once
the client has gone, but uvicorn's HTTP send() just returns.  The disconnect is
announced by receive(): the first receive() is the request (an empty
http.request), a later one is http.disconnect.

Rules it practises:
* ASGI HTTP spec §Disconnect - receive event: "Sent to the application if receive
  is called after a response has been sent or after the HTTP connection has been
  closed. This is mainly useful for long-polling"; that send() then raises "is not
  guaranteed";
* HTML Living Standard, server-sent events: text/event-stream, each event
  "data: ..." lines ended by an empty line;
* asyncio: wait for two things at once (the next tick, the disconnect) and cancel
  what you started.
"""

import asyncio  # noqa: F401  (you will need it)

INTERVAL = 0.05  # seconds between events; do not change


async def app(scope, receive, send):
    # Replace this with your code.
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 501,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        await send({"type": "http.response.body", "body": b"not implemented yet\n"})
