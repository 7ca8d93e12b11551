"""CGI/1.1 rules (RFC 3875), each with the section that states it.

The ids group by who broke the rule: the request (`cgi.request.*`, noticed by
the server before the script runs), the script as a process (`cgi.script.*`:
it could not start, ran too long, crashed, wrote to stderr) and what the
script printed (`cgi.response.*`: the header block of RFC 3875 §6).
Messages are templates filled by gateway_lab.cgi with what *this* script did.
"""

from ..findings import Rule

RFC = "https://www.rfc-editor.org/rfc/rfc3875"


def _at(section: str) -> tuple[str, str]:
    return f"RFC 3875 §{section}", f"{RFC}#section-{section}"


RULES = [
    # -- the request, before the script runs ---------------------------------------
    # (a rule the server keeps for the script: recorded as a note, not a finding)
    Rule("cgi.request.proxy_header_dropped", *_at("4.1.18"),
         "the request carried 'Proxy: {value!s}'; as a meta-variable it would become "
         "HTTP_PROXY, which HTTP libraries in the script take as their outgoing proxy "
         "(httpoxy), so the server dropped it",
         "a CGI script must never trust HTTP_PROXY; servers strip the Proxy header "
         "(nginx: fastcgi_param HTTP_PROXY \"\"; Apache: RequestHeader unset Proxy early)."),
    Rule("cgi.request.websocket", *_at("3.1"),
         "this is a WebSocket handshake (Upgrade: websocket); a CGI script reads one request "
         "and writes one response to end-of-file, so it cannot hold a two-way connection: "
         "the server answered 501",
         "serve WebSockets from an ASGI app (gl.run_asgi) instead."),
    Rule("cgi.request.bad_path", *_at("4.1.5"),
         "the path {path!s} decodes to bytes that cannot go into an environment variable "
         "({why}); the server refused the request with 400",
         "percent-encoded NUL (%00) cannot be passed to a CGI script; remove it from the URL."),
    Rule("cgi.request.not_mapped", *_at("3.2"),
         "no script serves {path!s}: the script is mounted at SCRIPT_NAME {script_name!r}, "
         "so the server answered 404",
         "request a path at or below {script_name!r}, or pass script_name= to run_cgi."),
    # -- the script as a process -------------------------------------------------
    Rule("cgi.script.not_found", *_at("3.2"),
         "there is no script at {path!s}; the server answered 404",
         "check the path (relative paths are taken from the current directory: {cwd!s})."),
    Rule("cgi.script.not_executable", *_at("3.4"),
         "the server could not run {path!s}: {error!s}; it answered 500",
         "name a Python script *.py (it runs with this Python), or give any other file a "
         "'#!' first line and the execute bit (chmod +x), or pass interpreter=[...]."),
    Rule("cgi.browser.no_process", *_at("3.4"),
         "a web page cannot start a process, so the server could not run {path!s} as CGI "
         "does; it answered 500",
         "in the browser (JupyterLite) the lab runs only Python scripts (*.py), in its own "
         "process as a labelled simulation; run other scripts on your computer "
         "(gateway-lab lab)."),
    Rule("cgi.script.timeout", *_at("6.1"),
         "your script did not finish within {timeout:g} s; the server killed it and every "
         "process it started, and answered 504",
         "look for a loop that never ends or a long sleep; on a real server a read of stdin "
         "past CONTENT_LENGTH can hang too, since it need not send end-of-file (§4.2)."),
    Rule("cgi.script.exit_status", *_at("3.4"),
         "your script {how}{last!s}; the server answered 502 because its output may be "
         "cut short",
         "read the stderr lines in the trace (a Python traceback ends with the error); "
         "a script that answers with an error status still exits with 0."),
    Rule("cgi.script.stderr", *_at("6.1"),
         "your script wrote to stderr: {line!s}{more!s}; a server only logs this (Apache's "
         "error_log), the client never sees it",
         "fine while debugging; the response itself must go to stdout."),
    Rule("cgi.script.left_processes", *_at("3.4"),
         "your script exited but a process it started was still running (or was never waited "
         "for){which!s}; the server killed it",
         "wait for the processes you start (subprocess.run waits); a CGI request ends when "
         "the script's process does."),
    # -- what the script printed (§6) ----------------------------------------------
    Rule("cgi.response.empty", *_at("6.1"),
         "your script printed nothing at all; the server answered 502",
         "a CGI script must always answer: at least 'Content-Type: text/plain', an empty "
         "line, then the body."),
    Rule("cgi.response.no_header_separator", *_at("6.2"),
         "your script's output ({size} bytes, starting {start!r}) has no empty line ending "
         "the headers, so the server cannot tell headers from body; it answered 502",
         "print an empty line after the last header: print('Content-Type: text/plain'); "
         "print(); print('hello')."),
    Rule("cgi.response.header_too_large", *_at("6.3"),
         "your script printed {size} bytes without the empty line that ends the headers "
         "within the first {limit} bytes; the server reads the header block into a buffer "
         "of that size (nginx: fastcgi_buffer_size) and, when it does not fit, answers 502",
         "print a few headers, then an empty line, then the body; a header in a loop, or a "
         "body printed before the empty line, fills the buffer."),
    Rule("cgi.response.bad_header", *_at("6.3"),
         "line {n} of your script's headers, {line!r}, is not 'Name: value': {why}; "
         "the server answered 502",
         "one header per line, the name, a colon, then the value: 'Content-Type: text/html'."),
    Rule("cgi.response.bad_status", *_at("6.3.3"),
         "your script sent 'Status: {value!s}', which is not a 3-digit code, a space and a "
         "reason phrase; the server answered 502",
         "write the code and the reason: 'Status: 404 Not Found'."),
    Rule("cgi.response.duplicate_field", *_at("6.3"),
         "your script sent the CGI header {name!s} {count} times; Content-Type, Location and "
         "Status may each appear once, so the server answered 502",
         "print each of them once; decide the status before printing headers."),
    Rule("cgi.response.no_content_type", *_at("6.3.1"),
         "your script's response ({size} body bytes) has no Content-Type; the server passed "
         "it on as Apache does, and the browser has to guess what it is",
         "print 'Content-Type: text/html; charset=utf-8' (or text/plain...) before the empty "
         "line."),
    Rule("cgi.response.local_redirect_extra", *_at("6.2.2"),
         "your script asked for a local redirect (Location: {location!s}) but also sent "
         "{extra!s}; the server fetched {location!s} itself and threw those away",
         "a local redirect is only 'Location: /path' and an empty line; to set a cookie while "
         "redirecting, send an absolute URL with 'Status: 302 Found'."),
    Rule("cgi.response.redirect_loop", *_at("6.2.2"),
         "your script's local redirect to {location!s} asks for a target it was already run "
         "for in this request ({chain!s}): the same request gets the same answer, a loop "
         "that never ends; the server stopped following it and answered 500",
         "make sure the redirect target answers with a document, not another Location "
         "(check PATH_INFO before redirecting)."),
    Rule("cgi.response.too_many_redirects", *_at("6.2.2"),
         "your script's local redirects went {hops} deep ({chain!s}); the server follows "
         "at most that many (Apache: LimitInternalRecursion) and answered 500",
         "redirect once, to the page that answers; a chain of local redirects is usually a "
         "mistake in the script's routing."),
    Rule("cgi.response.redirect_timeout", *_at("6.2.2"),
         "your script ran {runs} times for this request, first for the client and then "
         "once per local redirect ({chain!s}); together the runs used up the {timeout:g} s "
         "time limit{last!s}, so the server answered 504",
         "each local redirect runs the script again within the same time limit: redirect "
         "once, to a page that answers, or make each run quicker."),
    Rule("cgi.response.bad_location", *_at("6.3.2"),
         "your script sent 'Location: {value!s}', which is neither an absolute URI "
         "(https://host/path) nor a local path starting with '/'{what!s}",
         "redirect the client with an absolute URL, or the server internally with '/path'."),
    Rule("cgi.response.hop_by_hop", *_at("6.3.4"),
         "your script sent '{name!s}:', a header about the connection, which is the "
         "server's business; the server dropped it",
         "leave Connection, Transfer-Encoding, Keep-Alive... to the server; it frames the "
         "response itself."),
    Rule("cgi.response.content_length_mismatch", *_at("6.4"),
         "your script declared Content-Length: {declared!s} but printed {actual} body bytes; "
         "the server reads the body up to end-of-file and sent the real length",
         "compute Content-Length from the encoded bytes (len(body.encode())), or leave it out."),
    Rule("cgi.nph.not_http", *_at("5.2"),
         "your NPH script (its name starts with 'nph-') must print a whole HTTP response, "
         "but its output, starting {start!r}, is not one ({error!s}); the server answered 502",
         "start with the status line, 'HTTP/1.1 200 OK', then the headers; or drop the "
         "'nph-' prefix and print CGI headers ('Status: 200 OK')."),
    Rule("cgi.nph.keep_alive", *_at("5.2"),
         "your NPH script answered {version!s} without 'Connection: close', which offers the "
         "client another request on the same connection; an NPH script must not",
         "add 'Connection: close' to the headers, as the server cannot take the connection "
         "back after your script."),
    Rule("cgi.response.too_large", *_at("9.6"),
         "your script printed more than {limit} bytes; the server stopped reading, killed it "
         "and answered 502",
         "look for a print inside a loop that never ends, or raise max_output= for a big file."),
]
