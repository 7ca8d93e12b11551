"""HTTP/1.1 rules (RFC 9110, RFC 9112) that a server enforces on requests."""

from ..findings import Rule

RFC9112 = "https://www.rfc-editor.org/rfc/rfc9112"
RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110"

RULES = [
    Rule("http.request.malformed", "RFC 9112 §2-5", RFC9112 + "#section-2",
         "the request is not valid HTTP/1.1: {detail}",
         "send 'METHOD /path HTTP/1.1', then 'Name: value' lines, then an empty line."),
    Rule("http.request.incomplete", "RFC 9112 §6", RFC9112 + "#section-6",
         "the request ended before its head or body was complete: {detail}",
         "end the head with an empty line and send as many body bytes as Content-Length says."),
    Rule("http.request.bad_target", "RFC 9112 §3.2", RFC9112 + "#section-3.2",
         "the request-target is not usable: {detail}", "start the target with '/'."),
    Rule("http.header.bad_name", "RFC 9110 §5.1", RFC9110 + "#section-5.1",
         "a header name is not a token: {detail}",
         "header names are letters, digits and !#$%&'*+-.^_`|~, with no spaces."),
    Rule("http.header.bad_value", "RFC 9110 §5.5", RFC9110 + "#section-5.5",
         "a header value contains CR, LF or NUL: {detail}",
         "never put line breaks in a header value; that is how response splitting works."),
    Rule("http.header.obs_fold", "RFC 9112 §5.2", RFC9112 + "#section-5.2",
         "a header continues on a line that starts with a space (obsolete line folding): {detail}",
         "put each header on one line."),
    Rule("http.smuggling.cl_te", "RFC 9112 §6.1", RFC9112 + "#section-6.1",
         "the request has both Content-Length and Transfer-Encoding: {detail}",
         "send one of them, never both: front and back servers may disagree about the body."),
    Rule("http.smuggling.trailing_bytes", "RFC 9112 §6.3", RFC9112 + "#section-6.3",
         "bytes follow the end of the request: {detail}",
         "make Content-Length match the body exactly."),
    Rule("http.content_length.conflict", "RFC 9112 §6.3", RFC9112 + "#section-6.3",
         "Content-Length headers disagree: {detail}", "send one Content-Length."),
    Rule("http.content_length.invalid", "RFC 9112 §6.3", RFC9112 + "#section-6.3",
         "Content-Length is not a plain number: {detail}",
         "send only digits: no sign, no spaces, no underscores."),
    Rule("http.transfer_encoding.unsupported", "RFC 9112 §6.1", RFC9112 + "#section-6.1",
         "the Transfer-Encoding is not supported: {detail}", "use 'chunked' or Content-Length."),
    Rule("http.chunked.malformed", "RFC 9112 §7.1", RFC9112 + "#section-7.1",
         "the chunked body is malformed: {detail}",
         "each chunk is 'hex-size CRLF data CRLF', and '0 CRLF CRLF' ends the body."),
    Rule("http.host.missing", "RFC 9112 §3.2", RFC9112 + "#section-3.2",
         "the HTTP/1.1 request has no Host header: {detail}", "add 'Host: example.org'."),
    Rule("http.host.invalid", "RFC 9112 §3.2", RFC9112 + "#section-3.2",
         "the Host header is invalid or repeated: {detail}", "send exactly one Host header."),
    Rule("http.head.too_large", "RFC 6585 §5", "https://www.rfc-editor.org/rfc/rfc6585#section-5",
         "the request head is too large: {detail}", "keep headers (and cookies) small."),
    Rule("http.request.bare_lf", "RFC 9112 §2.2", RFC9112 + "#section-2.2",
         "a line of the request ends in a bare LF: {detail}",
         "end every line of the head with CRLF (\\r\\n), the blank line too."),
    Rule("http.version.unsupported", "RFC 9110 §15.6.6", RFC9110 + "#section-15.6.6",
         "the request's HTTP version is not one this server speaks: {detail}",
         "send HTTP/1.1 (or HTTP/1.0) in the request line."),
    Rule("http.content_length.body_mismatch", "RFC 9112 §6.3", RFC9112 + "#section-6.3",
         "the request says Content-Length: {declared} but its body has {actual} bytes; a "
         "server reads exactly Content-Length bytes, so the app gets a cut body or the "
         "server waits for bytes that never come",
         "leave Content-Length out and the lab sets it from the body (and keeps it right when "
         "you change req.body); set it by hand only to show this mistake."),
    # Rules the server keeps on the app's behalf: recorded as notes, not findings.
    Rule("http.header.underscore_dropped", "RFC 3875 §4.1.18",
         "https://www.rfc-editor.org/rfc/rfc3875#section-4.1.18",
         "the header {name!s} has an underscore, so as an HTTP_ variable it would be "
         "indistinguishable from the same name with '-'; the server dropped it",
         "use '-' in header names (X-User-Id, not X_User_Id); nginx drops such headers too."),
    # -- bounds a server sets (gl.serve, the wire servers) -------------------------------
    Rule("http.body.too_large", "RFC 9110 §15.5.14", RFC9110 + "#section-15.5.14",
         "the request body is {size} bytes; this server accepts at most {limit} "
         "(max_body), so it answered 413 Content Too Large",
         "send a smaller body, or start the server with a larger max_body (--max-body)."),
    Rule("http.request.too_slow", "RFC 9110 §15.5.9", RFC9110 + "#section-15.5.9",
         "the client took more than {limit:g} s to send one request ({got} bytes by then); "
         "the server cut the connection so that it could not hold it for longer",
         "a slow client (or a slowloris attack) holds a server's connection; start the "
         "server with a larger read_timeout (--read-timeout) if uploads are slow."),
]
