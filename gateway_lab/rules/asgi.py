"""ASGI rules (ASGI 3.0, spec 2.x), each with the page and section that states it.

The ids group by the part of the interface they concern: the app as a whole,
the HTTP, WebSocket and lifespan message sequences, and the event loop the
app shares with every other request.  Where uvicorn has an error message for
the same mistake, the message here says at least as much, in the learner's
terms.
"""

from ..findings import Rule

SPEC = "https://asgi.readthedocs.io/en/latest/specs/"
MAIN = "ASGI spec §Applications"
MAIN_URL = SPEC + "main.html#applications"
ERRORS = "ASGI spec §Error Handling"
ERRORS_URL = SPEC + "main.html#error-handling"
EVENTS = "ASGI spec §Events"
EVENTS_URL = SPEC + "main.html#events"
SCOPE = "ASGI HTTP spec §HTTP Connection Scope"
SCOPE_URL = SPEC + "www.html#http-connection-scope"
START = "ASGI HTTP spec §Response Start - send event"
START_URL = SPEC + "www.html#response-start-send-event"
BODY = "ASGI HTTP spec §Response Body - send event"
BODY_URL = SPEC + "www.html#response-body-send-event"
TRAILERS = "ASGI HTTP spec §Response Trailers - send event"
TRAILERS_URL = SPEC + "www.html#response-trailers-send-event"
DISCONNECT = "ASGI HTTP spec §Disconnect - receive event"
DISCONNECT_URL = SPEC + "www.html#disconnect-receive-event-http"
WS_ACCEPT = "ASGI WebSocket spec §Accept - send event"
WS_ACCEPT_URL = SPEC + "www.html#accept-send-event"
WS_SEND = "ASGI WebSocket spec §Send - send event"
WS_SEND_URL = SPEC + "www.html#send-send-event"
WS_CLOSE = "ASGI WebSocket spec §Close - send event"
WS_CLOSE_URL = SPEC + "www.html#close-send-event"
WS_DISCONNECT = "ASGI WebSocket spec §Disconnect - receive event"
WS_DISCONNECT_URL = SPEC + "www.html#disconnect-receive-event-ws"
WS_CONNECT = "ASGI WebSocket spec §Connect - receive event"
WS_CONNECT_URL = SPEC + "www.html#connect-receive-event"
LIFE = "ASGI Lifespan spec"
LIFE_URL = SPEC + "lifespan.html"
LOOP = "Python docs §Developing with asyncio: Running Blocking Code"
LOOP_URL = "https://docs.python.org/3/library/asyncio-dev.html#running-blocking-code"

# RFC 9112 §6.3 (1): a 1xx, 204 or 304 response ends with its header section.
NO_CONTENT = "RFC 9112 §6.3"
NO_CONTENT_URL = "https://www.rfc-editor.org/rfc/rfc9112#section-6.3"

RULES = [
    # -- the app as a whole ------------------------------------------------
    Rule("asgi.app.not_callable", MAIN, MAIN_URL,
         "the app is a {type}, not a callable taking (scope, receive, send)",
         "pass the `async def app(scope, receive, send)` function itself, not `app()`."),
    Rule("asgi.app.not_async", MAIN, MAIN_URL,
         "calling your app returned {type}, not an awaitable: it is a plain `def`, so its "
         "`await`s never ran",
         "declare it `async def app(scope, receive, send):` and `await` receive() and send()."),
    Rule("asgi.app.is_wsgi", MAIN, MAIN_URL,
         "your app {name} takes two arguments, like a WSGI app(environ, start_response); an "
         "ASGI server calls app(scope, receive, send) and awaits it",
         "run it with gl.run_wsgi (or a %%wsgi cell); for ASGI, write "
         "`async def app(scope, receive, send):`; to serve a WSGI app from an ASGI server, "
         "wrap it (asgiref.wsgi.WsgiToAsgi, exercise 12)."),
    Rule("asgi.app.signature", MAIN, MAIN_URL,
         "calling your app as app(scope, receive, send) failed: {error}",
         "ASGI 3 apps take exactly three arguments; an ASGI 2 class taking only `scope` must "
         "be wrapped (asgiref.compatibility.guarantee_single_callable)."),
    Rule("asgi.app.returned_value", MAIN, MAIN_URL,
         "your app returned {value}; an ASGI app returns None and answers through send()",
         "replace `return ...` with `await send({{...}})` calls."),
    Rule("asgi.app.raised", ERRORS, ERRORS_URL,
         "your app raised {error} before the response started; the server answered 500",
         "read the traceback in the trace; catch expected errors and send a status for them."),
    Rule("asgi.app.raised_after_start", ERRORS, ERRORS_URL,
         "your app raised {error} after http.response.start was sent; the server could only "
         "close the connection, so the client got a truncated response",
         "do the work that can fail before sending http.response.start."),
    Rule("asgi.app.raised_after_response", ERRORS, ERRORS_URL,
         "your app raised {error} after its response was complete; the client got the whole "
         "response and the server logged the error",
         "frameworks re-raise on purpose so the server logs it (Starlette does after its 500 "
         "page); in your own app, handle the error before responding."),
    Rule("asgi.app.cancelled", ERRORS, ERRORS_URL,
         "your app's task was cancelled by the app itself (asyncio.CancelledError), not by "
         "the server; the server answered 500",
         "cancel the tasks you started, never the one the server runs your app in; "
         "asyncio.current_task().cancel() ends your own request."),
    Rule("asgi.app.timeout", ERRORS, ERRORS_URL,
         "your app did not finish within {timeout:g} s ({where}); the server gave up and "
         "answered {status}",
         "look for an await that never returns, or a receive() that waits for a message "
         "that will not come."),
    Rule("asgi.app.out_of_memory", ERRORS, ERRORS_URL,
         "the server ran out of memory putting your app's response together; it answered 500",
         "look for a body built in memory without bound (a list that only grows, a loop of "
         "more_body=True that never ends)."),
    Rule("asgi.message.not_dict", EVENTS, EVENTS_URL,
         "your app sent {value}; every ASGI message is a dict with a 'type' key",
         "send dicts such as {{'type': 'http.response.start', 'status': 200, 'headers': []}}."),
    Rule("asgi.message.bad_value", EVENTS, EVENTS_URL,
         "the {type!s} message carries {key!r} = {value}, a {vtype}; messages may only hold "
         "bytes, str, int, float, list, dict, bool and None",
         "convert it first (e.g. str(x).encode() for a body, int(x) for a status)."),
    Rule("asgi.loop.blocked", LOOP, LOOP_URL,
         "your app held the event loop for {seconds:.3f} s without awaiting{how}: for that "
         "long no other request on this loop could run",
         "inside `async def`, use `await asyncio.sleep()` instead of time.sleep(), an async "
         "client instead of a blocking one, and `await asyncio.to_thread(f)` (or starlette's "
         "run_in_threadpool) for CPU-heavy or blocking calls."),
    # -- HTTP ---------------------------------------------------------------
    Rule("asgi.http.no_response", START, START_URL,
         "your app returned without sending http.response.start; the server answered 500",
         "send {{'type': 'http.response.start', ...}} and then an http.response.body."),
    Rule("asgi.http.incomplete_response", BODY, BODY_URL,
         "your app returned after an http.response.body with more_body=True and never sent "
         "the last part; the client got a truncated response",
         "end the response with a body message whose more_body is False (the default)."),
    Rule("asgi.http.body_before_start", START, START_URL,
         "your app sent {type!s} before http.response.start; the status and headers must "
         "come first",
         "send {{'type': 'http.response.start', 'status': 200, 'headers': [...]}} first."),
    Rule("asgi.http.start_twice", START, START_URL,
         "your app sent http.response.start a second time; a response has one status line",
         "send http.response.start once, then only http.response.body messages."),
    Rule("asgi.http.body_too_large", BODY, BODY_URL,
         "your app's response body passed {limit} bytes ({size} so far), the most this "
         "server takes (its max_body setting); send() raised, and the client, which had "
         "the status line already, got a cut connection",
         "stream a big file in chunks from disk, or raise max_body= if the body really is "
         "that big; a loop of more_body=True that never ends is never a response."),
    Rule("asgi.http.after_complete", BODY, BODY_URL,
         "your app sent {type!s} after the response was complete (more_body was False); the "
         "server ignores it",
         "send more_body=True on every body part except the last."),
    Rule("asgi.http.unknown_message", START, START_URL,
         "your app sent a message of type {type!r} on an HTTP connection",
         "HTTP apps send 'http.response.start', then 'http.response.body' (spelled exactly)."),
    Rule("asgi.http.bad_status", START, START_URL,
         "http.response.start has status {value}; it must be an int from 100 to 599",
         "use an int such as 200 or 404, not a str like '200 OK'."),
    Rule("asgi.http.informational_status", START, START_URL,
         "http.response.start has status {status}, an interim (1xx) response; RFC 9110 "
         "§15.2 has a final response always follow one, so a server cannot send it as the "
         "response (h11, under uvicorn, refuses it) and answered 500",
         "send the final status (200, 204...); a server sends 100 Continue itself, and "
         "WebSockets are upgraded through the websocket scope, not a 101 of your own."),
    Rule("asgi.http.bad_header_name", "RFC 9110 §5.1",
         "https://www.rfc-editor.org/rfc/rfc9110#section-5.1",
         "{type} has the header name {name}, which is not a token (RFC 9110 §5.6.2: "
         "letters, digits and !#$%&'*+-.^_`|~, no spaces or separators, not empty); the "
         "server refused it (h11: 'Illegal header name') and answered 500",
         "spell header names like b'x-request-id': letters, digits and '-'."),
    Rule("asgi.http.content_length_invalid", "RFC 9110 §8.6",
         "https://www.rfc-editor.org/rfc/rfc9110#section-8.6",
         "the Content-Length your app sent states no one length: {problem}; a client could "
         "not tell where the body ends (RFC 9112 §6.3 makes an invalid one an unrecoverable "
         "error; h11 raises 'bad Content-Length'), so the server answered 500",
         "send one content-length of digits, str(len(body)).encode(), or leave it out and "
         "let the server frame the body."),
    Rule("asgi.http.bad_headers", START, START_URL,
         "{type} has headers {value}: {problem}",
         "headers are a list of [name, value] pairs of bytes, e.g. "
         "[(b'content-type', b'text/plain')]."),
    Rule("asgi.http.header_not_bytes", START, START_URL,
         "the response header {name} is given as {vtype}; ASGI header names and values are "
         "bytes",
         "encode them: (b'content-type', b'text/plain') or ('x', v.encode('latin-1'))."),
    Rule("asgi.http.header_control_chars", START, START_URL,
         "the response header {name} contains CR, LF or NUL; it was not sent (that is how "
         "response splitting works)",
         "never put line breaks in a header value; clean user input before echoing it."),
    Rule("asgi.http.body_not_bytes", BODY, BODY_URL,
         "http.response.body carries a body of type {vtype}; ASGI bodies are bytes",
         "encode it: {{'type': 'http.response.body', 'body': text.encode('utf-8')}}."),
    Rule("asgi.http.body_not_allowed", NO_CONTENT, NO_CONTENT_URL,
         "a {status!s} response cannot carry a body, but your app sent {size} bytes; the "
         "server dropped them (a client reads no body after this status, so they would "
         "be taken for the start of the next response)",
         "send no body with 1xx, 204 and 304 responses."),
    Rule("asgi.http.content_length_mismatch", BODY, BODY_URL,
         "your app declared Content-Length: {declared} but sent {actual} bytes of body",
         "drop the header and let the server frame the body, or compute it from the bytes."),
    Rule("asgi.http.trailers_not_announced", TRAILERS, TRAILERS_URL,
         "your app sent http.response.trailers without 'trailers': True in "
         "http.response.start",
         "set 'trailers': True in http.response.start (and only when the request had "
         "'TE: trailers')."),
    Rule("asgi.http.receive_after_disconnect", DISCONNECT, DISCONNECT_URL,
         "your app called receive() again after it was told http.disconnect; the server "
         "answers http.disconnect again, at once, every time",
         "stop reading once you get {{'type': 'http.disconnect'}}: the client is gone."),
    # -- WebSocket ------------------------------------------------------------
    Rule("asgi.ws.no_handshake", WS_CONNECT, WS_CONNECT_URL,
         "your app returned without accepting or closing the WebSocket; the server answered "
         "500 to the handshake",
         "send {{'type': 'websocket.accept'}} (or websocket.close to refuse) after "
         "websocket.connect."),
    Rule("asgi.ws.send_before_accept", WS_ACCEPT, WS_ACCEPT_URL,
         "your app sent {type!s} before websocket.accept; the handshake is not done yet",
         "await receive() for websocket.connect, send websocket.accept, then send data."),
    Rule("asgi.ws.accept_twice", WS_ACCEPT, WS_ACCEPT_URL,
         "your app sent websocket.accept a second time",
         "accept once, right after websocket.connect."),
    Rule("asgi.ws.after_close", WS_CLOSE, WS_CLOSE_URL,
         "your app sent {type!s} after the WebSocket was closed",
         "stop sending once you have sent websocket.close or received websocket.disconnect."),
    Rule("asgi.ws.bad_close_code", WS_CLOSE, WS_CLOSE_URL,
         "your app sent websocket.close with code {value}: {why}; a server cannot put it in "
         "a close frame (websockets, under uvicorn, raises 'invalid status code'), so send() "
         "raised",
         "leave 'code' out (1000, a normal close) or send an int: 1000, 1001 (going away), "
         "1008 (policy), 1011 (server error), or your own from 4000-4999."),
    Rule("asgi.ws.receive_after_disconnect", WS_DISCONNECT, WS_DISCONNECT_URL,
         "your app called receive() again after it was told websocket.disconnect (code "
         "{code}); the connection is closed and no message will come, so the server answers "
         "websocket.disconnect again, at once, every time: a loop around receive() never ends",
         "leave the loop when receive() returns {{'type': 'websocket.disconnect'}} (Starlette "
         "raises WebSocketDisconnect there)."),
    Rule("asgi.ws.unknown_message", WS_SEND, WS_SEND_URL,
         "your app sent a message of type {type!r} on a WebSocket",
         "WebSocket apps send 'websocket.accept', 'websocket.send' and 'websocket.close'."),
    Rule("asgi.ws.bad_payload", WS_SEND, WS_SEND_URL,
         "websocket.send must carry exactly one of 'text' (a str) or 'bytes' (bytes); yours "
         "had {what}",
         "send {{'type': 'websocket.send', 'text': 'hi'}} or {{..., 'bytes': b'hi'}}."),
    Rule("asgi.ws.subprotocol_not_offered", WS_ACCEPT, WS_ACCEPT_URL,
         "your app accepted with subprotocol {value!r}, which the client did not offer "
         "(it offered {offered})",
         "pick one of scope['subprotocols'], or leave 'subprotocol' out."),
    Rule("asgi.ws.protocol_header", WS_ACCEPT, WS_ACCEPT_URL,
         "websocket.accept lists sec-websocket-protocol in its headers; the server sets it "
         "from 'subprotocol'",
         "pass the chosen subprotocol as {{'subprotocol': name}}."),
    Rule("asgi.ws.receive_before_accept", WS_ACCEPT, WS_ACCEPT_URL,
         "your app called receive() again before accepting; the client waits for the "
         "handshake, so no message can arrive and the connection failed (1006)",
         "after websocket.connect, send websocket.accept before receiving."),
    Rule("asgi.ws.raised", ERRORS, ERRORS_URL,
         "your app raised {error} {when}; the server {did}",
         "catch the error, or close the socket yourself with a code (e.g. 1011)."),
    # -- lifespan -------------------------------------------------------------
    Rule("asgi.lifespan.startup_failed", LIFE, LIFE_URL,
         "your app reported lifespan.startup.failed: {message!r}; a server would exit now",
         "fix what startup needs (a database, a file) or catch the error and report it."),
    Rule("asgi.lifespan.shutdown_failed", LIFE, LIFE_URL,
         "your app reported lifespan.shutdown.failed: {message!r}",
         "release resources in an order that cannot fail, or log and carry on."),
    Rule("asgi.lifespan.bad_transition", LIFE, LIFE_URL,
         "your app sent {type!r} in answer to {to!r}",
         "answer lifespan.startup with lifespan.startup.complete (or .failed) and "
         "lifespan.shutdown with lifespan.shutdown.complete."),
    Rule("asgi.lifespan.answered_twice", LIFE, LIFE_URL,
         "your app sent {type!r}, but it had answered lifespan.{event} already; each event "
         "is answered once, so the server raised an error in send() and went on without "
         "lifespan",
         "send lifespan.{event}.complete (or .failed) once, after receive() returned "
         "lifespan.{event}."),
    Rule("asgi.lifespan.raised", LIFE, LIFE_URL,
         "your app raised {error} during lifespan {phase}",
         "catch errors in startup/shutdown and send lifespan.*.failed with a message."),
    Rule("asgi.lifespan.timeout", LIFE, LIFE_URL,
         "your app did not answer lifespan.{phase} within {timeout:g} s",
         "reply to lifespan.startup with lifespan.startup.complete once ready."),
]
