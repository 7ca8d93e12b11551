"""Exercise 16: an ASGI middleware that wraps send(): a header and a timing log.

Lesson: 04 ASGI (notebooks/04_*.ipynb, middleware).
Check: `gateway-lab check 16_asgi_middleware`.

In ASGI a middleware sees the response as the messages the app sends.  To change
it, it hands the app a `send` of its own, which looks at each message and passes
it on.

Task: write `TimingMiddleware(app, log=print)`, an ASGI app that

* for an "http" scope: passes every message through, and adds a header
  `x-response-time: <ms>ms` (e.g. b"51.2ms") to http.response.start, the time
  from the call until the app started its response;
* after the response's *last* byte has been sent (the http.response.body whose
  more_body is False, and a message without more_body is the last one too: the
  key is optional), calls `log(line)` once, with the line
  "METHOD PATH STATUS <ms>ms", e.g. "GET /report 200 151.2ms", the time to the
  last byte;
* passes every other scope ("lifespan", "websocket") to the app untouched.

Headers go out before the body, so a header can hold only the time to the start
of the response; the time to the last byte is known only at the end, so it goes
to the log.

Rules it practises (ASGI HTTP spec):
* §Response Start: headers are a list of (bytes, bytes) pairs with lower-case
  names; the message is the app's: change a copy (an app may send the same
  headers list every time);
* §Response Body: more_body is optional, default False;
* the lifespan and websocket scopes have no method and no http.response.*.
"""

import time  # noqa: F401  (you will need it)


class TimingMiddleware:
    def __init__(self, app, log=print):
        self.app = app
        self.log = log

    async def __call__(self, scope, receive, send):
        # Replace this with your code.
        await self.app(scope, receive, send)
