"""The CGI gateway (RFC 3875): one request, one real child process.

A web server runs a CGI script in five steps, each recorded in the trace:

1. map the URL to the script and build the meta-variables (§4.1): the request
   line, the client and the server as CGI variables, each request header as an
   HTTP_* variable (§4.1.18);
2. start the script as a new process (§3.4) in the script's directory (§7.2),
   whose environment holds the meta-variables and nothing else;
3. write the request body to its stdin, exactly CONTENT_LENGTH bytes, then
   end-of-file (§4.2), while reading its stdout and stderr;
4. read stdout to end-of-file: that is where the response ends (§6.4); then
   the script exits;
5. parse what it printed (§6.2, §6.3): header lines up to an empty line, then
   the body.  The CGI fields Content-Type, Location and Status say which kind
   of response it is: a document (§6.2.1), a local redirect that the server
   follows itself (§6.2.2), or a redirect for the client (§6.2.3, §6.2.4).

In a browser (JupyterLite: no processes) a Python script runs in the lab's own
process instead, as a simulation the trace says it is: its meta-variables become
os.environ, the body its stdin, its stdout is captured, all under the sandbox's
deadline, and everything is put back afterwards (see _simulate).  Any other
script is refused with a finding that says why.

An NPH script (§5; by Apache's convention its file name starts with "nph-")
skips step 5: it prints a whole HTTP response, status line included, and the
server forwards it unmodified.

When the script misbehaves the server answers as a real one would (502 Bad
Gateway for output it cannot use, 504 when the script runs too long) and the
trace gets a finding.  Whatever happens, the script and every process it
started are gone when run_cgi() returns.
"""

from __future__ import annotations

import base64
import errno
import io
import os
import re
import select
import selectors
import signal
import subprocess
import sys
import time
from urllib.parse import unquote_to_bytes

from . import leftovers
from .browser import IN_BROWSER
from .exchange import Exchange, Response, accept, received, respond
from .request import HOP_BY_HOP as _HOP_BY_HOP
from .request import BadRequest, Request
from .trace import Trace
from .version import __version__

DEFAULT_TIMEOUT = 5.0
MAX_OUTPUT = 10 * 1024 * 1024   # bytes of stdout + stderr the server accepts
MAX_REDIRECTS = 5               # local redirects followed (Apache allows 10 internal ones)
MAX_STDERR_EVENTS = 30          # stderr lines shown one by one in the trace
# The header block (§6.3, up to and including its empty line) the server reads before
# it gives up: servers read it into a fixed buffer (nginx's fastcgi_buffer_size and
# proxy_buffer_size, 4 or 8 KiB by default, often raised to 32 or 64 KiB) and answer
# 502 when it does not fit ("upstream sent too big header").
MAX_HEADER_BLOCK = 64 * 1024
MAX_HEADER_EVENTS = 50          # header lines shown one by one in the trace
RFC = "RFC 3875"
SERVER_SOFTWARE = f"gateway-lab/{__version__}"
WINDOWS = sys.platform == "win32"
_CHUNK = 65536

# §6.3: the three fields the server interprets; all others go to the client.
CGI_FIELDS = {"content-type": "Content-Type", "location": "Location", "status": "Status"}
# §6.3.4: fields about the connection are the server's business, not the script's
# (the list PEP 3333 uses, and the Trailer field RFC 9110 §6.6.2 names).
HOP_BY_HOP = _HOP_BY_HOP | {"trailer"}
# §4.1.18, §9.2: credentials are not handed to the script; Proxy is httpoxy (below).
_NOT_HTTP_VARS = frozenset({"authorization", "proxy-authorization", "proxy"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")   # field-name = token (§6.3)
_STATUS = re.compile(r"^([2-5][0-9]{2}) (.*\S.*)$")       # "Status:" code SP reason (§6.3.3)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")       # an absoluteURI starts so (§6.3.2)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")        # CTLs but TAB


# -- step 1: from URL to meta-variables ------------------------------------------

def _env_str(raw: bytes) -> str:
    """Bytes as an environment string the child gets back byte for byte.

    POSIX environments hold bytes; subprocess encodes str with the filesystem
    encoding and surrogateescape, so decoding the same way round-trips exactly
    (§7.2: the values are bytes, ISO-8859-1 TEXT).  Windows holds Unicode.
    """
    return raw.decode("utf-8", "replace") if WINDOWS else os.fsdecode(raw)


def _wire(text: str) -> bytes:
    """A header value back to the bytes that were on the wire (Latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # a Request built in Python with non-Latin-1 text
        return text.encode("utf-8")


def _remove_dots(path: str) -> str:
    """Resolve '.' and '..' segments before splitting the path (§9.8, RFC 3986 §5.2.4)."""
    segments = path.split("/")[1:]
    if "." not in segments and ".." not in segments:
        return path
    out: list[str] = []
    for seg in segments:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." names the directory "/a/"
    return "/" + "/".join(out)


def _mount_point(path: str, script_file: str, script_name: str | None) -> str:
    """The SCRIPT_NAME the script is mounted at (§3.2, §4.1.13).

    Given explicitly, it is used as is.  Otherwise the URL names the script by
    its file name ("/cgi-bin/hello.py/extra" -> "/cgi-bin/hello.py"), as with
    Apache's ScriptAlias; if no path segment is the file name, the script
    serves the whole site and SCRIPT_NAME is "".
    """
    if script_name is not None:
        return "/" + script_name.strip("/") if script_name.strip("/") else ""
    segments = path.split("/")
    name = os.path.basename(script_file)
    if name in segments[1:]:
        return "/".join(segments[:segments.index(name, 1) + 1])
    return ""


def _split_path(path: str, mount: str) -> tuple[str, str] | None:
    """(SCRIPT_NAME, PATH_INFO) for `path`, or None if the script does not serve it."""
    if path == mount or path.startswith(mount + "/"):
        return mount, path[len(mount):]
    return None


def build_meta_variables(request: Request, trace: Trace, *, script_name: str = "",
                         path_info: str = "", document_root: str = "") -> dict[str, str]:
    """The meta-variables a server passes for `request` (RFC 3875 §4.1).

    `document_root` is where PATH_TRANSLATED points PATH_INFO into (§4.1.6).
    Headers the script must not see are left out, and noted in the trace.
    """
    host, port = request.host
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1",                         # §4.1.4
        "SERVER_SOFTWARE": SERVER_SOFTWARE,                     # §4.1.17
        "SERVER_NAME": host,                                    # §4.1.14, from Host
        "SERVER_PORT": str(port),                               # §4.1.15
        "SERVER_PROTOCOL": f"HTTP/{request.http_version}",      # §4.1.16
        "REQUEST_METHOD": request.method,                       # §4.1.12, case-sensitive
        "SCRIPT_NAME": script_name,                             # §4.1.13, always set
        "QUERY_STRING": request.query_string,                   # §4.1.7, "" if none
        # §4.1.8/§4.1.9: the lab does no DNS lookup, so REMOTE_HOST falls
        # back to the address, as the RFC allows.
        "REMOTE_ADDR": request.client[0] if request.client else "",
        "REMOTE_HOST": request.client[0] if request.client else "",
    }
    if path_info:
        # §4.1.5: decoded, not URL-encoded; §4.1.6: mapped into the document tree.
        env["PATH_INFO"] = path_info
        env["PATH_TRANSLATED"] = document_root + path_info.replace("/", os.sep)
    if request.body:
        # §4.1.2: set if and only if there is a body, with its length after
        # any chunked transfer-coding was removed (Request.body is de-chunked).
        env["CONTENT_LENGTH"] = str(len(request.body))
    content_type = request.header("content-type")
    if content_type is not None:
        env["CONTENT_TYPE"] = _env_str(_wire(content_type))    # §4.1.3, no default
    user = _user_of(request.header("authorization"))
    if user is not None:
        # §4.1.1 and §4.1.11 go together: AUTH_TYPE is the scheme, and then REMOTE_USER
        # MUST be the user-ID supplied; the credentials stay with the server (§9.2).
        env["AUTH_TYPE"], env["REMOTE_USER"] = user
    if request.scheme == "https":
        env["HTTPS"] = "on"  # §4.1.18 scheme variable; wsgiref's CGIHandler reads it
    proxy = request.header("proxy")
    if proxy is not None:
        # httpoxy (2016; CVE-2016-1000110 for Python's urllib): HTTP_PROXY
        # is what HTTP client libraries read as "my outgoing proxy".
        trace.note("cgi.request.proxy_header_dropped", value=proxy)
    variables, dropped = request.http_variables(skip=_NOT_HTTP_VARS)
    for name in dropped:
        trace.note("http.header.underscore_dropped", name=name)
    for key, value in variables.items():
        env[key] = _env_str(_wire(value))                     # §4.1.18
    return env


def _user_of(authorization: str | None) -> tuple[str, str] | None:
    """(scheme, user-ID) from an Authorization header, or None when it names no user.

    The lab accepts any credentials, as a server configured to let every user in
    would (CPython's old CGIHTTPRequestHandler did the same for Basic).  Schemes
    that carry no user-ID (Bearer tokens) set neither variable: RFC 3875 §4.1.11
    allows AUTH_TYPE only together with a REMOTE_USER.
    """
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":  # RFC 7617 §2: base64 of "user-id:password"
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, colon, _ = decoded.partition(":")
        return (scheme, user) if colon else None
    if scheme.lower() == "digest":  # RFC 7616 §3.4: username="..."
        match = re.search(r'(?:^|[\s,])username="([^"]*)"', credentials)
        return (scheme, match.group(1)) if match else None
    return None


def _system_variables() -> dict[str, str]:
    """The little the child needs from the system besides the meta-variables."""
    if WINDOWS:
        root = os.environ.get("SYSTEMROOT", r"C:\Windows")
        # Python on Windows cannot start without SYSTEMROOT.
        return {"SYSTEMROOT": root, "PATH": rf"{root}\system32;{root}"}
    return {"PATH": "/usr/local/bin:/usr/bin:/bin"}


def _search_words(request: Request) -> list[str]:
    """§4.4: an 'indexed' query (GET/HEAD, no '=') becomes command-line words.

    All or nothing: if one word cannot be an argument, none is passed.
    """
    query = request.query_string
    if request.method not in ("GET", "HEAD") or not query or "=" in query:
        return []
    words = []
    for word in query.split("+"):
        raw = unquote_to_bytes(word)
        if not raw or b"\x00" in raw:
            return []
        words.append(_env_str(raw))
    return words


# -- step 2: which program runs the script ----------------------------------------

def _command(path: str, interpreter) -> tuple[list[str] | None, str | None]:
    """(argv, None), or (None, why not) when the file cannot be run."""
    if os.path.isdir(path):
        return None, "it is a directory"
    if interpreter is not None:
        interp = [interpreter] if isinstance(interpreter, (str, os.PathLike)) else interpreter
        return [os.fspath(part) for part in interp] + [path], None
    if path.lower().endswith(".py"):
        # This very Python, never the `python3` on PATH (which may be another
        # version, or a slow shim).
        return [sys.executable, path], None
    if WINDOWS:
        if os.path.splitext(path)[1].lower() in (".exe", ".bat", ".cmd", ".com"):
            return [path], None
        return None, "Windows runs only .exe, .bat and .cmd files directly"
    if not os.access(path, os.X_OK):
        return None, "it is not executable (no x permission bit)"
    return [path], None  # the kernel reads its #! line (§7.2)


def _spawn_error(error: OSError, argv: list[str], path: str) -> str:
    if error.errno == errno.ENOEXEC:
        return f"{error.strerror} (the file needs a '#!' first line naming its interpreter)"
    if error.errno == errno.ENOENT:
        if argv[0] != path:  # an interpreter the lab was given
            return f"{error.strerror} (the interpreter {argv[0]!r} does not exist)"
        return f"{error.strerror} (the interpreter on its '#!' line does not exist)"
    return error.strerror or str(error)


def _show(argv: list[str], path: str) -> str:
    """argv for a trace line: 'python guestbook_cgi.py', not two long paths."""
    names = {sys.executable: "python", path: os.path.basename(path)}
    return " ".join(names.get(arg, arg) for arg in argv)


# -- steps 2-4: the child process -------------------------------------------------

class _Run:
    """What one execution of the script produced."""

    __slots__ = ("code", "escaped", "left_behind", "outcome", "pid", "stderr", "stdout",
                 "t_exit", "t_spawn", "t_stdin", "t_stdout", "written")

    def __init__(self):
        # perf_counter() times of the steps, so trace events sit where they happened
        self.t_spawn = self.t_stdin = self.t_stdout = self.t_exit = 0.0
        self.stdout = b""
        self.stderr = b""
        self.code: int | None = None
        self.outcome = "ok"          # "ok", "timeout" or "too_large"
        self.written = 0             # body bytes written to the script's stdin
        self.pid = 0
        self.left_behind = False     # processes still running after the script exited
        self.escaped: list[str] = []  # ... that had left its process group ("pid: command")

    simulated = False                # True: run in this process (a browser), see _simulate

    @property
    def elapsed(self) -> float:
        return self.t_exit - self.t_spawn


def _execute(argv: list[str], env: dict, cwd: str, body: bytes, deadline: float,
             max_output: int) -> _Run:
    """Run the script once; return what it did.  Raises OSError if it cannot be
    started.  Nothing it started outlives this call (see leftovers.py for the
    grandchildren that leave its process group)."""
    run = _Run()
    options = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if WINDOWS else {
        # A session (and process group) of its own: on timeout one killpg()
        # reaches the script and every process it started.
        "start_new_session": True}
    with leftovers.Subreaper() as reaper:  # Linux: orphans of the script come to us
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd, close_fds=True,
                                **options)
        run.t_spawn = run.t_stdin = time.perf_counter()
        run.pid = proc.pid
        try:
            if WINDOWS:
                _talk_windows(proc, body, deadline, max_output, run)
            else:
                _talk(proc, body, deadline, max_output, run)
            if run.outcome == "ok" and not _wait(proc, deadline):
                run.outcome = "timeout"  # it closed stdout but did not exit
        finally:
            if proc.returncode is None:  # timed out, too much output, or interrupted
                _kill_tree(proc)
                proc.wait()
            else:
                run.left_behind = _kill_tree(proc)
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    pipe.close()
                except OSError:
                    pass
            if reaper.active:
                _kill_escaped(proc, env, t0, run)
    run.code = proc.returncode
    run.t_exit = time.perf_counter()
    run.t_stdout = run.t_stdout or run.t_exit
    return run


def _wait(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait until the script exits or the deadline passes; True if it exited."""
    left = max(deadline - time.monotonic(), 0)
    if hasattr(os, "pidfd_open"):
        # Linux: a pidfd becomes readable when the process exits, so this
        # needs no polling (Popen.wait(timeout) checks in growing sleeps).
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            pass
        else:
            try:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                exited = bool(poller.poll(left * 1000))
            finally:
                os.close(fd)
            if exited:
                proc.wait()
            return exited
    try:
        proc.wait(timeout=left)
    except subprocess.TimeoutExpired:
        return False
    return True


def _talk(proc: subprocess.Popen, body: bytes, deadline: float, max_output: int,
          run: _Run) -> None:
    """Feed stdin and drain stdout and stderr at the same time (POSIX).

    Writing all of stdin first could deadlock: a script that prints more than
    a pipe holds (64 KiB on Linux) before reading its input blocks on stdout
    while the server blocks on stdin.  So one poll loop serves all three
    pipes, as subprocess.communicate() does; unlike communicate it can stop
    reading when the output passes max_output.
    """
    out: list[bytes] = []
    err: list[bytes] = []
    total = 0
    view = memoryview(body)
    selector_class = getattr(selectors, "PollSelector", selectors.SelectSelector)
    with selector_class() as selector:
        if body:
            os.set_blocking(proc.stdin.fileno(), False)
            selector.register(proc.stdin, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()  # no body: end-of-file at once (§4.2)
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                run.outcome = "timeout"
                break
            for key, _ in selector.select(left):
                if key.fileobj is proc.stdin:
                    try:
                        run.written += os.write(key.fd, view[run.written:run.written + _CHUNK])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        pass  # the script exited or closed stdin: it need not read it (§4.2)
                    else:
                        if run.written < len(body):
                            continue
                    selector.unregister(proc.stdin)
                    proc.stdin.close()  # all CONTENT_LENGTH bytes are in: end-of-file
                    run.t_stdin = time.perf_counter()
                    continue
                data = os.read(key.fd, _CHUNK)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                if key.data is out and not out:
                    run.t_stdout = time.perf_counter()
                key.data.append(data)
                total += len(data)
                if total > max_output:
                    run.outcome = "too_large"
                    break
            if run.outcome != "ok":
                break
    run.stdout, run.stderr = b"".join(out), b"".join(err)


def _talk_windows(proc: subprocess.Popen, body: bytes, deadline: float, max_output: int,
                  run: _Run) -> None:
    """Windows pipes cannot be polled, so communicate() (threads) does the I/O;
    the output limit is checked once it is in."""
    try:
        run.stdout, run.stderr = proc.communicate(body, timeout=max(deadline - time.monotonic(),
                                                                    0))
    except subprocess.TimeoutExpired:
        run.outcome = "timeout"
        _kill_tree(proc)
        run.stdout, run.stderr = proc.communicate()
        return
    run.written = len(body)
    if len(run.stdout) + len(run.stderr) > max_output:
        run.outcome = "too_large"


def _kill_escaped(proc: subprocess.Popen, env: dict, t0: float, run: _Run) -> None:
    """As a subreaper (Linux), reap the script's group, then find and kill what left it:
    processes handed to us as orphans that carry the run's own environment."""
    leftovers.reap_group(proc.pid)  # the group's members adopted after the script exited
    found = leftovers.escaped(proc.pid, env, t0)
    if found:
        leftovers.kill([p.pid for p in found])
        run.left_behind = True
        run.escaped = [f"pid {p.pid}: {p.command}" for p in found]


def _kill_tree(proc: subprocess.Popen) -> bool:
    """Kill the script and everything it started; True if anything was running.

    On POSIX the script leads its own process group, so one killpg() reaches
    its children too, even after the script itself has exited (the group
    lives on while any member does; its id is not reused until then).
    """
    if WINDOWS:
        if proc.returncode is not None:
            return False
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        try:
            proc.kill()
        except OSError:
            pass
        return True
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# -- step 5: what the script printed ---------------------------------------------

class _HeadTooLarge:
    """_split_head's answer when no empty line ends the headers within MAX_HEADER_BLOCK."""


HEAD_TOO_LARGE = _HeadTooLarge()


def _split_head(out: bytes):
    """(header lines, body); None when no empty line ends the headers; HEAD_TOO_LARGE
    when the output goes on past MAX_HEADER_BLOCK without one.

    §6.3 and §7.2: the newline is LF; servers also accept CR LF.  Only the first
    MAX_HEADER_BLOCK bytes are looked at, so 10 MB of header lines cost no more
    than 64 KiB of them.
    """
    lines = []
    pos = 0
    window = out[:MAX_HEADER_BLOCK]
    while True:
        end = window.find(b"\n", pos)
        if end < 0:
            return HEAD_TOO_LARGE if len(out) > MAX_HEADER_BLOCK else None
        line = window[pos:end]
        pos = end + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            return lines, out[pos:]
        lines.append(line)


def _bad_line(n: int, line: str) -> str | None:
    """Why `line` is not a CGI header field (§6.3), or None if it is one."""
    if line[0] in " \t":
        return "it starts with a space, and CGI/1.1 has no continuation lines"
    if line.startswith("HTTP/"):
        return ("it is an HTTP status line, which only NPH scripts print (§5); "
                "a CGI script says 'Status: 200 OK'")
    name, colon, _ = line.partition(":")
    if not colon:
        return "it has no colon" + (" (did the script print its body before the headers?)"
                                     if n == 1 else "")
    if name != name.rstrip(" \t"):
        return "there is a space before the colon"
    if not _TOKEN.match(name):
        return f"the name {name!r} is not a token (letters, digits and '-')"
    if _CONTROL.search(line):
        # A stray CR would split the line for the client: header injection.
        return "it contains a control character (a CR or NUL, say)"
    return None


class _LocalRedirect:
    def __init__(self, location: str):
        self.location = location


def _interpret(run: _Run, request: Request, trace: Trace, chain: _Chain, max_output: int,
               nph: bool, split, errors: list[str]) -> Response | _LocalRedirect:
    """The script's output as the client's response (§6), or a local redirect."""
    if run.outcome == "timeout":
        if chain.runs > 1:
            # The runs before this one ended; it is the chain that took the time.
            trace.find("cgi.response.redirect_timeout", actor="server", timeout=chain.timeout,
                       runs=chain.runs, chain=chain.shown(),
                       last=f" (run {chain.runs} had taken {round(run.elapsed * 1000):g} ms "
                            "of it when the server killed it)")
        else:
            trace.find("cgi.script.timeout", actor="server", timeout=chain.timeout)
        return Response.error(504)
    if run.outcome == "too_large":
        trace.find("cgi.response.too_large", actor="server", limit=max_output)
        return Response.error(502)
    if run.code != 0:
        # Apache ignores the exit status; the lab does not, because a non-zero
        # exit usually means the script died halfway, and Python flushes its
        # buffered stdout at exit, so a response that looks whole may be cut.
        errors = [line for line in errors if line.strip()]
        if run.code is not None and run.code < 0:
            try:
                how = f"was killed by signal {signal.Signals(-run.code).name}"
            except ValueError:
                how = f"was killed by signal {-run.code}"
        else:
            how = f"exited with status {run.code}"
        trace.find("cgi.script.exit_status", how=how,
                   last=f" after writing to stderr: {errors[-1].strip()}" if errors else "")
        return Response.error(502)
    lines = [line for line in errors if line.strip()]
    if lines:
        more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
        trace.find("cgi.script.stderr", line=repr(lines[0][:200]), more=more)
    if run.left_behind:
        trace.find("cgi.script.left_processes", which=(
            f" ({'; '.join(run.escaped)}, which had left the script's process group)"
            if run.escaped else ""))
    if not run.stdout:
        trace.find("cgi.response.empty")
        return Response.error(502)
    if nph:
        return _nph_response(run.stdout, request, trace)
    head = request.method == "HEAD"
    if split is HEAD_TOO_LARGE:
        trace.find("cgi.response.header_too_large", actor="server", limit=MAX_HEADER_BLOCK,
                   size=len(run.stdout))
        return Response.error(502)
    if split is None:
        trace.find("cgi.response.no_header_separator", size=len(run.stdout),
                   start=run.stdout[:40].decode("latin-1"))
        return Response.error(502)
    lines, body = split
    return _fields(lines, body, trace, head)


def is_nph(path: str) -> bool:
    """§5.1: the server must have a way to tell NPH scripts; Apache's is the name."""
    return os.path.basename(path).lower().startswith("nph-")


def _nph_response(out: bytes, request: Request, trace: Trace) -> Response:
    """§5.2: the script's output is the HTTP response, sent to the client as is.

    The lab still reads it the way the client will (with h11, as a client
    would) to show its status, headers and body.
    """
    import h11

    trace.add("server", "forward", f"{len(out)} bytes, unmodified (non-parsed headers)",
              f"{RFC} §5.2", target="client")
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=request.method, target=request.target,
                            headers=[("Host", request.header("host") or "localhost")]))
    client.send(h11.EndOfMessage())
    client.receive_data(out)
    client.receive_data(b"")  # the script's end-of-file closes the connection
    head, body = None, []
    try:
        while True:
            event = client.next_event()
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) or \
                    event is h11.NEED_DATA or event is h11.PAUSED:
                break
    except h11.RemoteProtocolError as error:
        why = str(error) if out.startswith(b"HTTP/") else "no 'HTTP/1.1 200 OK' status line"
        trace.find("cgi.nph.not_http", start=out[:40].decode("latin-1"), error=why)
        return Response.error(502)
    if head is None:
        trace.find("cgi.nph.not_http", start=out[:40].decode("latin-1"),
                   error="it ends before the end of the headers")
        return Response.error(502)
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers]
    tokens = {t.strip().lower() for n, v in headers if n.lower() == "connection"
              for t in v.split(",")}
    if head.http_version == b"1.1" and "close" not in tokens:
        # HTTP/1.1 connections persist unless one side says close (RFC 9112 §9.3).
        trace.find("cgi.nph.keep_alive", version="HTTP/1.1")
    return Response(head.status_code, headers, b"".join(body),
                    reason=head.reason.decode("latin-1"))


def _fields(lines: list[bytes], body: bytes, trace: Trace, head: bool
            ) -> Response | _LocalRedirect:
    """Check the header block (§6.3) and decide the kind of response (§6.2)."""
    fields: list[tuple[str, str]] = []
    for n, raw in enumerate(lines, 1):
        line = raw.decode("latin-1")  # §7.2: header TEXT is ISO-8859-1
        why = _bad_line(n, line)
        if why:
            trace.find("cgi.response.bad_header", n=n, line=line[:80], why=why)
            return Response.error(502)
        name, _, value = line.partition(":")
        fields.append((name, value.strip(" \t")))
    cgi: dict[str, list[str]] = {}
    others: list[tuple[str, str]] = []
    for name, value in fields:
        lower = name.lower()
        if lower in CGI_FIELDS:
            cgi.setdefault(lower, []).append(value)
        elif lower in HOP_BY_HOP:
            trace.find("cgi.response.hop_by_hop", name=name)
        else:
            others.append((name, value))
    for lower, values in cgi.items():
        if len(values) > 1:
            trace.find("cgi.response.duplicate_field", name=CGI_FIELDS[lower],
                       count=len(values))
            return Response.error(502)
    status, reason = None, ""
    if "status" in cgi:
        match = _STATUS.match(cgi["status"][0])
        if not match:
            trace.find("cgi.response.bad_status", value=cgi["status"][0])
            return Response.error(502)
        status, reason = int(match.group(1)), match.group(2)
    content_type = cgi.get("content-type", [None])[0]
    location = cgi.get("location", [None])[0]

    if location is not None:
        if location.startswith("/") and status in (None, 200):
            # §6.2.2.  Like Apache, any Status other than 200 makes it a
            # client redirect instead, and extra fields or a body are dropped.
            extra = [name for name, _ in fields if name.lower() != "location"]
            if body:
                extra.append(f"a {len(body)}-byte body")
            if extra:
                trace.find("cgi.response.local_redirect_extra", location=location,
                           extra=", ".join(extra))
            return _LocalRedirect(location)
        if not location.startswith("/") and not _SCHEME.match(location):
            trace.find("cgi.response.bad_location", value=location,
                       what="; the server passed it on to the client anyway")
        headers = [("Location", location)] + others
        if content_type is not None:
            headers.insert(1, ("Content-Type", content_type))
        if status in (None, 200):
            # §6.2.3: a client redirect is a 302 without a document (Apache
            # also turns an explicit 200 into 302); §6.2.4: a script that
            # sends a document with it gives the Status itself.
            if body:
                trace.add("server", "discard body", f"{len(body)} bytes: a client redirect "
                          "without Status has no document", f"{RFC} §6.2.3", target="client")
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            return Response(302, headers, b"", reason="Found")
        return Response(status, _check_length(headers, body, head, trace), body, reason=reason)

    # §6.2.1: a document.  Without a Content-Type Apache 2.4 (which has no
    # DefaultType any more) passes the body on with no Content-Type at all and
    # lets the browser guess; we do the same, and say it is wrong.
    if content_type is None and (body or status is None):
        trace.find("cgi.response.no_content_type", size=len(body))
    headers = ([("Content-Type", content_type)] if content_type is not None else []) + others
    if status is None:
        status, reason = 200, "OK"   # §6.2.1: 200 OK is assumed
    return Response(status, _check_length(headers, body, head, trace), body, reason=reason)


def _check_length(headers: list[tuple[str, str]], body: bytes, head: bool, trace: Trace
                  ) -> list[tuple[str, str]]:
    """The body is everything up to end-of-file (§6.4), so a Content-Length the
    script got wrong is corrected (Apache drops it and frames the body itself).

    For HEAD it describes the body a GET would get (RFC 9110 §9.3.2), so it
    is left alone."""
    if head:
        return headers
    out = []
    for name, value in headers:
        if name.lower() == "content-length" and value != str(len(body)):
            trace.find("cgi.response.content_length_mismatch", declared=value,
                       actual=len(body))
            value = str(len(body))
        out.append((name, value))
    return out


# -- the whole exchange ---------------------------------------------------------

def run_cgi(script: str | os.PathLike, request: Request | bytes | None = None, *,
            timeout: float = DEFAULT_TIMEOUT, max_output: int = MAX_OUTPUT,
            script_name: str | None = None,
            interpreter: str | os.PathLike | list[str] | None = None,
            isolate: bool = True) -> Exchange:
    """Run one request through the CGI script at `script` and return the Exchange.

    A `.py` script runs with this Python (sys.executable); any other file runs
    directly (POSIX: it needs the execute bit and a '#!' line), or with
    `interpreter` (a program path, or a list of argv words) when given.
    `request` is a Request or the raw bytes of one.  The script is mounted at
    `script_name` (default: the URL up to the segment naming the script file,
    else the site root).  After `timeout` seconds the script and everything it
    started are killed and the client gets 504; more than `max_output` bytes of
    output gets 502.  `isolate` is there for symmetry with run_wsgi and run_asgi:
    a CGI script always runs in a process of its own (False is refused).
    """
    if not isinstance(script, (str, os.PathLike)):
        raise TypeError(f"run_cgi() takes the script's path (a str or Path), not "
                        f"{type(script).__name__}")
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if isolate is False:
        raise ValueError("a CGI script always runs in a process of its own (RFC 3875 §3.4): "
                         "isolate=False is not an option for run_cgi")
    if not (isinstance(max_output, int) and max_output > 0):
        raise ValueError(f"max_output must be a positive number of bytes, not {max_output!r}")
    request, refused = accept("cgi", request)
    if refused is not None:
        return refused
    trace = Trace("cgi")
    received(trace, request)
    response = _serve(os.path.abspath(os.fspath(script)), request, trace, timeout, max_output,
                      script_name, interpreter)
    if request.method == "HEAD" and response.body:
        # §4.3.3: the script must not send a body for HEAD; if it does, the
        # server discards it.
        trace.add("server", "discard body", f"HEAD: {len(response.body)} bytes not sent",
                  f"{RFC} §4.3.3", target="client")
        response.body = b""
    return respond("cgi", request, trace, response)


def _serve(path: str, request: Request, trace: Trace, timeout: float, max_output: int,
           script_name: str | None, interpreter) -> Response:
    if request.is_websocket:
        trace.find("cgi.request.websocket", actor="server")
        return Response.error(501)
    if not os.path.exists(path):
        trace.find("cgi.script.not_found", actor="server", path=path, cwd=os.getcwd())
        return Response.error(404)
    argv, why = _command(path, interpreter)
    if argv is None:
        trace.find("cgi.script.not_executable", actor="server", path=path, error=why)
        return Response.error(500)
    deadline = time.monotonic() + timeout
    mount = _mount_point(_remove_dots(_decoded_path(request)), path, script_name)
    chain = _Chain(request.target, timeout)
    while True:
        result = _one_run(path, argv, request, mount, trace, deadline, chain, max_output)
        if not isinstance(result, _LocalRedirect):
            return result
        location = result.location
        if location in chain.targets:
            # The same request again gets the same answer again: a loop, however
            # much time is left (Apache only counts, LimitInternalRecursion).
            trace.find("cgi.response.redirect_loop", actor="server", location=location,
                       chain=chain.shown(location))
            return Response.error(500)
        if len(chain.targets) > MAX_REDIRECTS:
            trace.find("cgi.response.too_many_redirects", actor="server",
                       hops=len(chain.targets), chain=chain.shown(location))
            return Response.error(500)
        try:
            request = _redirected(request, location)
        except BadRequest as error:
            trace.find("cgi.response.bad_location", value=location, what=f": {error}")
            return Response.error(502)
        chain.targets.append(location)
        trace.add("server", "local redirect", f"{request.method} {request.target}, "
                  "handled inside the server", f"{RFC} §6.2.2", target="server")
        if time.monotonic() >= deadline:
            # Each run ended, but together they used up the request's time: no new run.
            trace.find("cgi.response.redirect_timeout", actor="server", timeout=timeout,
                       runs=chain.runs, chain=chain.shown(), last="")
            return Response.error(504)


class _Chain:
    """The targets one request has run the script for: the client's, then each local
    redirect's (§6.2.2).  They share the request's time limit."""

    def __init__(self, target: str, timeout: float):
        self.targets = [target]
        self.timeout = timeout

    @property
    def runs(self) -> int:
        return len(self.targets)

    def shown(self, then: str | None = None) -> str:
        return " -> ".join(self.targets + ([then] if then is not None else []))


def _decoded_path(request: Request) -> str:
    """The request's path, percent-decoded, as the script will see it."""
    return _env_str(request.path_bytes)


def _redirected(request: Request, location: str) -> Request:
    """The request the server makes for itself on a local redirect (§6.2.2).

    Like Apache, it is a GET without the original body (which the script
    already consumed); HEAD stays HEAD, since the client still wants no body.
    """
    skip = {"content-length", "content-type", "transfer-encoding"}
    return Request("HEAD" if request.method == "HEAD" else "GET", location,
                   [(k, v) for k, v in request.headers if k.lower() not in skip], b"",
                   http_version=request.http_version, scheme=request.scheme,
                   client=request.client, server=request.server)


def _one_run(path: str, argv: list[str], request: Request, mount: str, trace: Trace,
             deadline: float, chain: _Chain, max_output: int) -> Response | _LocalRedirect:
    decoded = _decoded_path(request)
    if "\x00" in decoded:
        trace.find("cgi.request.bad_path", actor="server", path=request.target,
                   why="a NUL byte")
        return Response.error(400)
    split = _split_path(_remove_dots(decoded), mount)
    if split is None:
        trace.find("cgi.request.not_mapped", actor="server", path=decoded, script_name=mount)
        return Response.error(404)
    script_name, path_info = split
    cwd = os.path.dirname(path)  # §7.2: the script runs in its own directory
    env = build_meta_variables(request, trace, script_name=script_name, path_info=path_info,
                               document_root=cwd)
    trace.add("server", "meta-variables", f"{len(env)} variables, SCRIPT_NAME="
              f"{script_name!r}, PATH_INFO={path_info!r}", f"{RFC} §4.1", target="app",
              data=dict(env))
    argv = argv + _search_words(request)
    env.update(_system_variables())
    try:
        run = _execute(argv, env, cwd, request.body, deadline, max_output)
    except _NoProcess:
        trace.find("cgi.browser.no_process", actor="server", path=path)
        return Response.error(500)
    except OSError as error:
        trace.find("cgi.script.not_executable", actor="server", path=path,
                   error=_spawn_error(error, argv, path))
        return Response.error(500)
    nph = is_nph(path)
    # The output's head and body, and stderr's lines: read once, shown and judged.
    split = _split_head(run.stdout) if run.outcome == "ok" and not nph else None
    errors = run.stderr.decode("utf-8", "replace").splitlines()
    _record(run, argv, path, request, trace, split, errors)
    return _interpret(run, request, trace, chain, max_output, nph, split, errors)


def _record(run: _Run, argv: list[str], path: str, request: Request, trace: Trace,
            split, errors: list[str]) -> None:
    """The run as trace events, in the order a server sees them."""
    steps: list = []

    def at(when: float, *args, **kw):
        steps.append((when, args, kw))

    if run.simulated:
        at(run.t_spawn, "server", "spawn", f"{_show(argv, path)}: SIMULATED in the lab's own "
           "process (a browser cannot start one); meta-variables as os.environ",
           f"{RFC} §3.4", target="app", data={"argv": argv, "pid": None, "simulated": True,
                                               "cwd": os.path.dirname(path)})
    else:
        at(run.t_spawn, "server", "spawn", f"{_show(argv, path)} (pid {run.pid})",
           f"{RFC} §3.4", target="app", data={"argv": argv, "pid": run.pid,
                                              "cwd": os.path.dirname(path)})
    body = len(request.body)
    if not body:
        detail = "no body: end-of-file at once"
    elif run.written >= body:
        detail = f"{body} bytes (CONTENT_LENGTH), then end-of-file"
    else:
        detail = f"{run.written} of {body} bytes: the script stopped reading (allowed)"
    at(run.t_stdin, "server", "stdin", detail, f"{RFC} §4.2", target="app")
    if split is HEAD_TOO_LARGE:
        at(run.t_stdout, "app", "stdout", f"{len(run.stdout)} bytes, no empty line in the "
           f"first {MAX_HEADER_BLOCK}", f"{RFC} §6.3", target="server")
    elif split is not None:
        lines, rest = split
        for line in lines[:MAX_HEADER_EVENTS]:
            at(run.t_stdout, "app", "stdout", line.decode("latin-1"), f"{RFC} §6.3",
               target="server")
        if len(lines) > MAX_HEADER_EVENTS:
            # One event per line of a 20,000-line header block would bury the trace.
            at(run.t_stdout, "app", "stdout", f"... {len(lines) - MAX_HEADER_EVENTS} more "
               "header lines", f"{RFC} §6.3", target="server")
        at(run.t_stdout, "app", "stdout", f"(empty line), then {len(rest)} body bytes",
           f"{RFC} §6.4", target="server")
    elif run.stdout:
        at(run.t_stdout, "app", "stdout", f"{len(run.stdout)} bytes", f"{RFC} §6.4",
           target="server")
    for line in errors[:MAX_STDERR_EVENTS]:
        at(run.t_exit, "app", "stderr", line, f"{RFC} §6.1 (servers log stderr)",
           target="server")
    if len(errors) > MAX_STDERR_EVENTS:
        at(run.t_exit, "app", "stderr", f"... {len(errors) - MAX_STDERR_EVENTS} more lines",
           f"{RFC} §6.1", target="server")
    ms = round(run.elapsed * 1000, 1)
    if run.outcome == "timeout":
        detail = f"killed after {ms:g} ms (time limit)"
    elif run.outcome == "too_large":
        detail = f"killed after {ms:g} ms (too much output)"
    else:
        detail = f"exit status {run.code} after {ms:g} ms"
    at(run.t_exit, "app", "exit", detail, f"{RFC} §3.4", target="server",
       data={"code": run.code, "elapsed_ms": ms, "outcome": run.outcome})
    # A script may print before it has read all its input: keep the times in order.
    for when, args, kw in sorted(steps, key=lambda step: step[0]):
        trace.add(*args, at=when, **kw)


# -- in a browser: the script in this process, as a labelled simulation ----------------

class _NoProcess(OSError):
    """A browser cannot start the script's process (and it is not Python to simulate)."""


class _SimulatedRun(_Run):
    __slots__ = ()
    simulated = True


def _simulate(argv: list[str], env: dict, cwd: str, body: bytes, deadline: float,
              max_output: int) -> _Run:
    """What _execute does, for a Python script, without a process: the script runs as
    __main__ in this interpreter with os.environ = the meta-variables (§4.1), stdin =
    the body then end-of-file (§4.2), stdout and stderr captured, its directory as the
    current one and argv as a child's (§7.2); sys.exit(n) is its exit status.  All of
    it is put back afterwards.  Unlike a process, it shares this interpreter: modules
    it imports stay imported, and a blocking call cannot be cut short."""
    import runpy

    from . import sandbox

    script = argv[1] if len(argv) > 1 and argv[0] == sys.executable else None
    if script is None or not script.lower().endswith(".py"):
        raise _NoProcess(errno.ENOSYS, "a web page cannot start processes")
    run = _SimulatedRun()
    stdout, stderr = io.BytesIO(), io.BytesIO()
    saved = (dict(os.environ), sys.stdin, sys.stdout, sys.stderr, sys.argv, list(sys.path),
             os.getcwd())
    streams = [io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", newline="\n"),
               io.TextIOWrapper(stdout, encoding="utf-8", newline="\n", write_through=True),
               io.TextIOWrapper(stderr, encoding="utf-8", errors="backslashreplace",
                                newline="\n", write_through=True)]

    def main() -> int:
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as done:  # sys.exit(n): the status a process would exit with
            if done.code is None or isinstance(done.code, int):
                return done.code or 0
            print(done.code, file=sys.stderr)
            return 1
        return 0

    run.t_spawn = run.t_stdin = time.perf_counter()
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.stdin, sys.stdout, sys.stderr = streams
        sys.argv = [script, *argv[2:]]
        sys.path.insert(0, cwd)
        os.chdir(cwd)
        # watch: what else the script changes of this interpreter (a process of its own
        # would end and take it along) is put back; in CGI it is the script's to change.
        outcome = sandbox.call(main, max(deadline - time.monotonic(), 0.001), watch=True)
    finally:
        environ, sys.stdin, sys.stdout, sys.stderr, sys.argv, sys.path[:], here = saved
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(here)
        for stream in streams:
            stream.flush()
            stream.detach()  # keep the BytesIO open to read it
    if outcome.timed_out:
        run.outcome, run.code = "timeout", -9
    elif outcome.error is not None:  # an uncaught exception: Python prints it, exits 1
        import traceback

        stderr.write("".join(traceback.format_exception(outcome.error)).encode())
        run.code = 1
    else:
        run.code = outcome.value
    run.stdout, run.stderr = stdout.getvalue(), stderr.getvalue()
    run.written = len(body)
    if len(run.stdout) + len(run.stderr) > max_output:
        run.outcome = "too_large"
    run.t_exit = run.t_stdout = time.perf_counter()
    return run


def _command_in_browser(path: str, interpreter) -> tuple[list[str] | None, str | None]:
    """_command without the desktop's questions (execute bits, #! lines): only a
    Python script can run, and _simulate says why anything else cannot."""
    if os.path.isdir(path):
        return None, "it is a directory"
    argv, _ = _command_on_desktop(path, interpreter) if interpreter is not None else (None, None)
    return argv or ([sys.executable, path] if path.lower().endswith(".py") else [path]), None


_command_on_desktop = _command
if IN_BROWSER:
    _execute = _simulate
    _command = _command_in_browser  # noqa: F811 - the browser's, chosen once at import
