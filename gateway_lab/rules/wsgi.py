"""WSGI rules (PEP 3333), each with the section that states it.

The ids group by the part of the interface they concern: the status line and
headers given to start_response, the body iterable, write(), close(),
wsgi.input / wsgi.errors, and the app as a whole.
"""

from ..findings import Rule

PEP = "https://peps.python.org/pep-3333/"
SR = "PEP 3333 §The start_response() Callable"
SR_URL = PEP + "#the-start-response-callable"
APP = "PEP 3333 §The Application/Framework Side"
APP_URL = PEP + "#the-application-framework-side"
SERVER = "PEP 3333 §The Server/Gateway Side"
SERVER_URL = PEP + "#the-server-gateway-side"
ENV = "PEP 3333 §environ Variables"
ENV_URL = PEP + "#environ-variables"
INPUT = "PEP 3333 §Input and Error Streams"
INPUT_URL = PEP + "#input-and-error-streams"
TYPES = "PEP 3333 §Unicode Issues"
TYPES_URL = PEP + "#unicode-issues"
BUFFER = "PEP 3333 §Buffering and Streaming"
BUFFER_URL = PEP + "#buffering-and-streaming"
HOP = "PEP 3333 §Other HTTP Features"
HOP_URL = PEP + "#other-http-features"
LENGTH = "PEP 3333 §Handling the Content-Length Header"
LENGTH_URL = PEP + "#handling-the-content-length-header"
WRITE = "PEP 3333 §The write() Callable"
WRITE_URL = PEP + "#the-write-callable"
ERR = "PEP 3333 §Error Handling"
ERR_URL = PEP + "#error-handling"

# RFC 9110 §8.3: a message with content SHOULD have a Content-Type; wsgiref.validate
# asserts one on every response but 204 and 304, and none on those two (§15.4.5: a
# 304 SHOULD NOT carry representation metadata such as Content-Type).
CT = "RFC 9110 §8.3; wsgiref.validate"
CT_URL = "https://www.rfc-editor.org/rfc/rfc9110#section-8.3"
NOT_MODIFIED = "RFC 9110 §15.4.5; wsgiref.validate"
NOT_MODIFIED_URL = "https://www.rfc-editor.org/rfc/rfc9110#section-15.4.5"

# RFC 9112 §6.3 (1): a 1xx, 204 or 304 response ends with its header section.
NO_CONTENT = "RFC 9112 §6.3"
NO_CONTENT_URL = "https://www.rfc-editor.org/rfc/rfc9112#section-6.3"

RULES = [
    # -- the app as a whole ------------------------------------------------
    Rule("wsgi.app.raised", ERR, ERR_URL,
         "your app raised {error} before the response started; the server answered 500",
         "read the traceback in the trace; catch expected errors and answer them with a status."),
    Rule("wsgi.app.raised_after_start", ERR, ERR_URL,
         "your app raised {error} after the status line was sent; the server could only cut "
         "the connection, so the client got a truncated response",
         "do the work that can fail before the first body chunk is yielded."),
    Rule("wsgi.app.timeout", SERVER, SERVER_URL,
         "your app did not finish within {timeout:g} s{how}; the server gave up and answered 504",
         "look for a loop that never ends or a call that waits forever (e.g. reading "
         "wsgi.input past CONTENT_LENGTH)."),
    Rule("wsgi.app.out_of_memory", SERVER, SERVER_URL,
         "the server ran out of memory putting your app's response together; it answered 500",
         "look for a body built in memory without bound (a list that only grows, a "
         "generator that never ends)."),
    Rule("wsgi.app.not_callable", APP, APP_URL,
         "the app is a {type}, not a callable taking (environ, start_response)",
         "pass the function (or object with __call__) itself, e.g. `app`, not `app()`."),
    Rule("wsgi.app.is_async", APP, APP_URL,
         "your app {name} is an `async def` function: that makes it an ASGI app, and a WSGI "
         "server only gets a coroutine back, which it has no event loop to run",
         "run it with gl.run_asgi (or a %%asgi cell); for WSGI, write a plain "
         "`def app(environ, start_response):` that returns a list of bytes."),
    Rule("wsgi.app.signature", APP, APP_URL,
         "calling your app as app(environ, start_response) failed: {error}",
         "define it as `def app(environ, start_response):` with exactly two parameters."),
    # -- start_response ---------------------------------------------------
    Rule("wsgi.start_response.missing", SR, SR_URL,
         "your app returned its body without ever calling start_response()",
         "call start_response('200 OK', [('Content-Type', 'text/plain')]) before returning."),
    Rule("wsgi.start_response.called_twice", SR, SR_URL,
         "your app called start_response() a second time without exc_info",
         "call it once; a second call is only allowed from an error handler, passing "
         "sys.exc_info() as the third argument."),
    Rule("wsgi.start_response.exc_info_after_headers", SR, SR_URL,
         "your app called start_response() with exc_info after the headers were sent; the "
         "server re-raised {error} into it, as PEP 3333 requires",
         "let that exception propagate: once headers are sent the server can only abort."),
    Rule("wsgi.status.not_str", SR, SR_URL,
         "the status is {type}, not str: {status!s}", "pass a str such as '200 OK'."),
    Rule("wsgi.status.malformed", SR, SR_URL,
         "the status {status!s} is not 'NNN Reason phrase' (a code from 100 to 599, a "
         "space, a reason of Latin-1 text without control characters)",
         "three digits, one space, then the reason phrase: '404 Not Found'."),
    Rule("wsgi.status.informational", SR, SR_URL,
         "the status {status!s} is an interim (1xx) response; RFC 9110 §15.2 has a final "
         "response always follow one, and a WSGI app gives only the final one, so the "
         "server refused it and answered 500",
         "send the final status ('200 OK', '204 No Content'...); the server sends "
         "'100 Continue' itself when a client asks for it, and a protocol switch (101) "
         "needs the server's support, not a WSGI status."),
    Rule("wsgi.headers.not_list", SR, SR_URL,
         "the headers are a {type}, not a list of (name, value) tuples",
         "pass a list: [('Content-Type', 'text/plain')]."),
    Rule("wsgi.headers.list_subclass", SR, SR_URL,
         "the headers are a {type}, a subclass of list; PEP 3333 asks for a list itself "
         "(type(response_headers) is list): wsgiref refuses anything else, other servers "
         "may read only the list's items",
         "pass a plain list, e.g. list(headers)."),
    Rule("wsgi.headers.not_tuple", SR, SR_URL,
         "header {header!s} is not a (name, value) tuple of two str",
         "each header is a 2-tuple of str: ('Content-Type', 'text/html')."),
    Rule("wsgi.headers.bad_name", SR, SR_URL,
         "the header name {name!s} is not a valid HTTP field name (a token: RFC 9110 "
         "§5.1), so no server may send it",
         "use letters, digits and '-' only, e.g. 'X-Request-Id'."),
    Rule("wsgi.headers.name_validate_only", SR, SR_URL,
         "the header name {name!s} is a valid HTTP field name and servers send it, but "
         "wsgiref.validate refuses it (it wants a letter, then letters, digits, '-' or "
         "'_', not ending in '-' or '_')",
         "use letters, digits and '-' only, e.g. 'X-Request-Id', and every server and "
         "checker takes it."),
    Rule("wsgi.headers.control_chars", SR, SR_URL,
         "header {name!s} contains a control character (CR, LF, TAB...); it was not sent, "
         "because CR/LF in a header lets a client inject headers (response splitting)",
         "strip control characters from anything user-supplied that goes into a header."),
    Rule("wsgi.headers.not_latin1", TYPES, TYPES_URL,
         "header {name!s} contains {char!s}, which is not Latin-1; WSGI status and headers "
         "must be Latin-1 str", "percent-encode or RFC 8187-encode non-Latin-1 text."),
    Rule("wsgi.headers.status_header", SR, SR_URL,
         "your app sent a 'Status' header; in WSGI the status goes in start_response's first "
         "argument (a Status header is CGI's way)", "remove the header and pass the status."),
    Rule("wsgi.headers.hop_by_hop", HOP, HOP_URL,
         "your app sent the hop-by-hop header {name!s}; connection management is the "
         "server's job", "drop {name!s}: the server decides about keep-alive and chunking."),
    # Not PEP 3333's rules (it says nothing of Content-Type): wsgiref.validate's
    # check_content_type, which the lab's coach agrees with (VALIDATE_MAP below), and
    # what HTTP says of the header.
    Rule("wsgi.headers.content_type_missing", CT, CT_URL,
         "the {status!s} response has no Content-Type header: a client must then guess "
         "what the body is, and wsgiref.validate refuses every response without one "
         "(but 204 and 304)",
         "add ('Content-Type', 'text/plain; charset=utf-8') or the right type."),
    Rule("wsgi.headers.content_type_forbidden", NOT_MODIFIED, NOT_MODIFIED_URL,
         "the {status!s} response has a Content-Type, which describes a body it cannot "
         "have; wsgiref.validate refuses it, and for a 304 HTTP says a server should not "
         "send it",
         "drop Content-Type from 204 and 304 responses."),
    Rule("wsgi.body.not_allowed", NO_CONTENT, NO_CONTENT_URL,
         "a {status!s} response cannot carry a body, but your app sent {size} bytes; the "
         "server dropped them (a client reads no body after this status, so they would "
         "be taken for the start of the next response)",
         "send no body with 1xx, 204 and 304 responses."),
    Rule("wsgi.content_length.mismatch", LENGTH, LENGTH_URL,
         "Content-Length says {declared} bytes but your app produced {actual}",
         "compute Content-Length from the bytes you send, or leave it out."),
    Rule("wsgi.content_length.invalid", LENGTH, LENGTH_URL,
         "the Content-Length your app sent states no one length: {problem}; a client could "
         "not tell where the body ends (RFC 9110 §8.6 allows only digits; RFC 9112 §6.3 "
         "makes an invalid one an unrecoverable error), so the server refused the headers "
         "and answered 500",
         "send one Content-Length of digits, str(len(body)) of the encoded bytes, or leave "
         "it out and let the server frame the body."),
    # -- the body ---------------------------------------------------------
    Rule("wsgi.body.not_iterable", APP, APP_URL,
         "your app returned {type}, which is not an iterable of bytes",
         "return a list of bytes, e.g. [b'Hello'], or yield bytes from a generator."),
    Rule("wsgi.body.str_or_bytes", APP, APP_URL,
         "your app returned a {type} itself; the server iterates it one {unit} at a time",
         "wrap it in a list: return [body]."),
    Rule("wsgi.body.not_bytes", TYPES, TYPES_URL,
         "your app's iterable yielded a {type} ({value!s}); WSGI bodies are bytes",
         "encode text first: yield text.encode('utf-8')."),
    Rule("wsgi.body.before_start_response", BUFFER, BUFFER_URL,
         "your app yielded a body chunk before calling start_response()",
         "call start_response() before the first non-empty chunk."),
    Rule("wsgi.len.wrong", BUFFER, BUFFER_URL,
         "len() of your iterable is {declared} but it yielded {actual} items",
         "only implement __len__ when it is exact."),
    Rule("wsgi.body.too_large", BUFFER, BUFFER_URL,
         "your app's response body passed {limit} bytes ({size} so far), the most this "
         "server takes (its max_body setting); it stopped taking chunks, closed your "
         "iterable, and the client got {sent}",
         "stream a big file with wsgi.file_wrapper from disk, or raise max_body= if the "
         "body really is that big; a generator that never ends is never a response."),
    # -- write() ----------------------------------------------------------
    Rule("wsgi.write.not_bytes", WRITE, WRITE_URL,
         "your app passed a {type} to write(); it takes bytes", "write(text.encode('utf-8'))."),
    Rule("wsgi.write.before_start_response", WRITE, WRITE_URL,
         "your app called write() before start_response()",
         "call start_response() first; it returns write()."),
    Rule("wsgi.write.inside_iterable", WRITE, WRITE_URL,
         "your app called write() while the server was iterating its result",
         "either write() everything and return [], or yield; don't mix inside the iterable."),
    # -- close() ----------------------------------------------------------
    Rule("wsgi.close.raised", APP, APP_URL,
         "the iterable's close() raised {error}", "close() must release resources, not fail."),
    # -- input and errors ---------------------------------------------------
    Rule("wsgi.input.past_content_length", INPUT, INPUT_URL,
         "your app asked wsgi.input for {asked} bytes but only {left} remained of "
         "CONTENT_LENGTH={length}; on a real socket that read would wait for bytes that "
         "never come", "read at most int(environ.get('CONTENT_LENGTH') or 0) bytes."),
    Rule("wsgi.input.closed", INPUT, INPUT_URL,
         "your app called close() on {stream!s}; the server owns it",
         "never close wsgi.input or wsgi.errors."),
    Rule("wsgi.input.bad_argument", INPUT, INPUT_URL,
         "wsgi.input.{method!s}() got {value!s}; it takes one int size",
         "call read(n) with an int, or read() for everything."),
    Rule("wsgi.errors.not_str", INPUT, INPUT_URL,
         "your app wrote a {type} to wsgi.errors; it is a text stream",
         "write str: environ['wsgi.errors'].write('message\\n')."),
]

RULES += [
    Rule("wsgi.start_response.arguments", SR, SR_URL,
         "your app called start_response with {given}; it takes (status, headers) or "
         "(status, headers, exc_info), positionally",
         "call start_response('200 OK', headers), with exc_info only from an error handler."),
    Rule("wsgi.start_response.exc_info_no_error", ERR, ERR_URL,
         "exc_info is {value!s}, which holds no exception (sys.exc_info() outside an "
         "except block returns (None, None, None)); once the headers are sent the server "
         "has nothing to re-raise",
         "call start_response(status, headers, sys.exc_info()) only inside `except ...:`, "
         "where sys.exc_info() holds the error being handled."),
    Rule("wsgi.start_response.exc_info_not_tuple", SR, SR_URL,
         "exc_info is a {type}; it must be None or the tuple sys.exc_info() returns",
         "pass sys.exc_info(), not the exception object itself."),
]

# Every check wsgiref.validate makes, keyed "function: condition" as it appears
# in CPython's Lib/wsgiref/validate.py, and what the lab does about it:
#   a rule id (or ids joined by "|")  - the app broke it; the lab reports that rule;
#   "server: ..."                     - the server's own duty; this gateway keeps it
#                                       (tests run wsgiref.validate around apps on it);
#   "allowed: ..."                    - validate is stricter than PEP 3333 here.
# tests/test_coach_wsgi.py proves no check of validate is missing from this table.
VALIDATE_MAP = {
    "lint_app: len(args) == 2": "server: the gateway calls app(environ, start_response)",
    "lint_app: not kw": "server: the gateway passes no keyword arguments",
    "start_response_wrapper: len(args) == 2 or len(args) == 3": "wsgi.start_response.arguments",
    "start_response_wrapper: not kw": "wsgi.start_response.arguments",
    "lint_app: iterator is not None and iterator != False": "wsgi.body.not_iterable",
    "read: len(args) == 1": "allowed: PEP 3333 lets read() be called without a size",
    "read: type(v) is bytes": "server: wsgi.input returns bytes",
    "readline: len(args) <= 1": "wsgi.input.bad_argument",
    "readline: type(v) is bytes": "server: wsgi.input returns bytes",
    "readlines: len(args) <= 1": "wsgi.input.bad_argument",
    "readlines: type(lines) is list": "server: wsgi.input.readlines returns a list",
    "readlines: type(line) is bytes": "server: wsgi.input returns bytes",
    "close: 0": "wsgi.input.closed",
    "write: type(s) is str": "wsgi.errors.not_str",
    "__call__: type(s) is bytes": "wsgi.write.not_bytes",
    "__next__: not self.closed": "server: the gateway never iterates after close()",
    "__next__: False": "wsgi.body.not_bytes",
    "__next__: self.check_start_response": "wsgi.body.before_start_response",
    "__del__: self.closed": "server: the gateway always calls close()",
    "check_environ: type(environ) is dict": "server: environ is a dict",
    "check_environ: key in environ": "server: every required key is set",
    "check_environ: key not in environ": "server: no HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH",
    "check_environ: warn": "server: QUERY_STRING is always set; any method token is passed on",
    "check_environ: type(environ[key]) is str": "server: CGI-style values are str",
    "check_environ: type(environ['wsgi.version']) is tuple": "server: wsgi.version is (1, 0)",
    "check_environ: environ['wsgi.url_scheme'] in ('http', 'https')": "server: http or https",
    "check_environ: not environ.get('SCRIPT_NAME') or environ['SCRIPT_NAME'].startswith('/')":
        "server: SCRIPT_NAME is '' or starts with '/'",
    "check_environ: not environ.get('PATH_INFO') or environ['PATH_INFO'].startswith('/')":
        "server: PATH_INFO is '' or starts with '/'",
    "check_environ: int(environ['CONTENT_LENGTH']) >= 0": "server: CONTENT_LENGTH is >= 0",
    "check_environ: 'PATH_INFO' in environ": "server: PATH_INFO is always set",
    "check_environ: environ.get('SCRIPT_NAME') != '/'": "server: a trailing '/' is stripped",
    "check_input: hasattr(wsgi_input, attr)": "server: wsgi.input has read/readline/...",
    "check_errors: hasattr(wsgi_errors, attr)": "server: wsgi.errors has write/flush/...",
    "check_status: 'Status' is str": "wsgi.status.not_str",
    "check_status: len(status_code) == 3": "wsgi.status.malformed",
    "check_status: status_int >= 100": "wsgi.status.malformed",
    "check_status: warn": "wsgi.status.malformed",
    "check_headers: type(headers) is list": "wsgi.headers.not_list|wsgi.headers.list_subclass",
    "check_headers: type(item) is tuple": "wsgi.headers.not_tuple",
    "check_headers: len(item) == 2": "wsgi.headers.not_tuple",
    "check_headers: 'Header name' is str": "wsgi.headers.not_tuple",
    "check_headers: 'Header value' is str": "wsgi.headers.not_tuple",
    "check_headers: name.lower() != 'status'": "wsgi.headers.status_header",
    "check_headers: '\\n' not in name and ':' not in name": "wsgi.headers.bad_name",
    "check_headers: header_re.search(name)":
        "wsgi.headers.bad_name|wsgi.headers.name_validate_only",
    "check_headers: not name.endswith('-') and (not name.endswith('_'))":
        "wsgi.headers.name_validate_only",
    "check_headers: 0": "wsgi.headers.control_chars",
    "check_content_type: 'Status' is str": "wsgi.status.not_str",
    "check_content_type: 'Header name' is str": "wsgi.headers.not_tuple",
    "check_content_type: 0":
        "wsgi.headers.content_type_forbidden|wsgi.headers.content_type_missing",
    "check_exc_info: exc_info is None or type(exc_info) is tuple":
        "wsgi.start_response.exc_info_not_tuple",
    "check_iterator: not isinstance(iterator, (str, bytes))": "wsgi.body.str_or_bytes",
}
