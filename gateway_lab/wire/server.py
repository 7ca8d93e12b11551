"""A small app server for each wire protocol: a WSGI app behind SCGI, FastCGI or uwsgi.

This is the "back end" half that nginx's scgi_pass / fastcgi_pass /
uwsgi_pass talk to.  For each request it

1. reads the request's bytes off the connection until the protocol's
   `frame(data)` says they are complete,
2. decodes them into CGI variables and a body (`decode_request`),
3. rebuilds the HTTP request and runs it through the lab's own WSGI gateway
   (`gateway_lab.wsgi.run_wsgi`) in a worker process (`gateway_lab.workers`:
   one that overruns `timeout` is killed and replaced), so every served
   request leaves a trace with findings, like an in-process run,
4. writes the reply: a CGI-style response (SCGI, uwsgi: then close the
   connection, which is how the front end knows the response ended) or
   STDOUT/STDERR/END_REQUEST records (FastCGI: then keep the connection
   open if BEGIN_REQUEST asked for KEEP_CONN, §5.1).  A reply the gateway cut
   short (a body past max_body, an app that failed mid-body) must not pass
   for whole: SCGI and uwsgi then reset the connection, FastCGI sends no
   END_REQUEST; either way one line is logged.

How it holds up under load and against slow or hostile clients (issue 14):
one thread (the *poller*) watches every connection with a selector, reads
what arrives and writes replies without ever blocking on one client.  Only a
complete request goes to a worker process (queued in arrival order while all
are busy), and its reply comes back to the poller from the pool's reader
thread.  So an idle connection, or one trickling in a byte a second, costs a
buffer, not a thread, and the other clients are served meanwhile; gunicorn's
gthread worker keeps idle keep-alive connections in a poller the same way
(docs, Design §gthread).  The bounds, each a setting:

=================  ==========================================================
max_connections    open connections (512); past it the server stops
                   accepting, and new connections wait in the listen backlog
                   (BACKLOG, 1024; it was 5, and 200 connections took 30 s)
workers            worker processes, each running one request at a time
threads            with workers=0 only: the threads that run the app here
read_timeout       seconds one whole request may take to arrive, from its
                   first byte (30): past it the client gets 408 (when the
                   protocol lets us answer) and the connection is cut; a
                   slowloris holds nothing for longer
max_body           request body bytes (10 MiB): 413 before the rest is read
keep_traces/body   what `traces` keeps (see gateway_lab.listening)
=================  ==========================================================

A request that cannot be read is answered whenever the protocol allows (a
400 CGI response; FastCGI: STDOUT and END_REQUEST on its requestId, or
END_REQUEST with CANT_MPX_CONN / UNKNOWN_ROLE, §5.5) and always logged: one
line on stderr and in `errors`.  A WireServer is a `gateway_lab.listening.Server`
(the kind `gl.serve` returns): the same `traces`, `running`, `stop()` and
`with` block, with `start()` because it is made before it serves.
"""

from __future__ import annotations

import queue
import selectors
import socket
import struct
import sys
import threading
import time
from functools import partial

from ..browser import IN_BROWSER, NO_SOCKETS, refuse
from ..exchange import Exchange, Response, reason_phrase
from ..listening import (
    KEEP_BODY,
    KEEP_TRACES,
    MAX_BODY,
    Server,
    bind,
    keep,
    warn_if_exposed,
)
from ..trace import Trace, now
from ..workers import InProcess, start_workers
from . import fastcgi, scgi, uwsgi
from ._common import WireError, encode_cgi_response, read_fields, request_from_vars

__all__ = ["PROTOCOLS", "WireServer", "serve_fastcgi", "serve_scgi", "serve_uwsgi",
           "serve_wire"]

PROTOCOLS = {"scgi": scgi, "fastcgi": fastcgi, "uwsgi": uwsgi}
BACKLOG = 1024           # connections the kernel queues before accept() (gunicorn: 2048)
MAX_CONNECTIONS = 512    # open connections at once (FCGI_MAX_CONNS)
THREADS = 8              # with workers=0: threads that run the app in this process
READ_TIMEOUT = 30.0      # s for one whole request to arrive, from its first byte
IDLE_TIMEOUT = 120.0     # s a connection may wait for its next request (nginx's keepalive: 60)
LINGER = 2.0             # s to drain what a refused client still sends, before closing
CHUNK = 65536
_clock = time.monotonic


class _Connection:
    """One client connection, as the poller sees it."""

    __slots__ = ("sock", "peer", "buffer", "started", "last", "out", "close_after",
                 "linger_until", "busy", "abort")

    def __init__(self, sock: socket.socket, peer):
        self.sock = sock
        self.peer = peer
        self.buffer = bytearray()    # bytes read, not yet a whole request
        self.started: float | None = None  # when the first byte of this request came
        self.last = _clock()         # the last time anything happened
        self.out = b""               # a reply still being written
        self.close_after = False     # close once `out` is written (SCGI, uwsgi, errors)
        self.linger_until = 0.0      # draining a refused client's bytes until then
        self.busy = False            # a request of it is running
        self.abort = False           # reset, not close, once `out` is written (a cut reply)

    @property
    def name(self) -> str:
        peer = self.peer
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"


class WireServer(Server):
    """Serve a WSGI `app` over `protocol` ("scgi", "fastcgi" or "uwsgi") on host:port.

        srv = WireServer("scgi", app, port=0).start()   # port 0: a free port
        srv.port, srv.traces, srv.errors, srv.stop()

    `timeout` bounds each run of the app (seconds); `workers` is the number of
    worker processes (0: this process's threads); `trace=False` skips the
    per-field wire events (the engine's trace is still kept).  The bounds are
    described in the module docstring.  `errors` lists, newest last, every
    request that was refused or cut, in the words of the log line.
    """

    def __init__(self, protocol: str, app, host: str = "127.0.0.1", port: int = 0, *,
                 timeout: float = 5.0, trace: bool = True, workers: int = 1,
                 max_body: int = MAX_BODY, read_timeout: float = READ_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, threads: int = THREADS,
                 keep_traces: int = KEEP_TRACES, keep_body: int = KEEP_BODY,
                 quiet: bool = False):
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; use one of "
                             f"{', '.join(PROTOCOLS)}")
        if not callable(app):
            raise TypeError(f"a WSGI app must be callable, got {type(app).__name__}")
        warn_if_exposed(host)
        sock = bind(host, port)
        sock.listen(BACKLOG)
        sock.setblocking(False)
        thread = threading.Thread(target=self._serve, name=f"gateway-lab-{protocol}-server",
                                  daemon=True)
        # The app runs through the lab's WSGI gateway, whatever the wire protocol.
        super().__init__("wsgi", *sock.getsockname()[:2], thread, self._shutdown,
                         keep_traces=keep_traces, keep_body=keep_body)
        self.protocol = protocol
        self.app = app
        self.timeout = timeout
        self.trace = trace
        self.workers = workers
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.threads = threads
        self.quiet = quiet
        self.errors: list[str] = []
        self.connections = 0          # connections accepted so far
        self.pool = None              # a workers.Pool (or an InProcess runner) once started
        self._sock = sock
        self._open: dict[socket.socket, _Connection] = {}
        self._back: queue.SimpleQueue = queue.SimpleQueue()  # replies from the threads
        self._wake_r, self._wake_w = socket.socketpair()
        self._closing = False
        self._accept_after = 0.0      # accept() failed (no file descriptors): wait until then

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"

    def start(self) -> WireServer:
        """Start the workers and serve in a background thread (once; later calls do
        nothing).  ServeError if the workers cannot load the app."""
        if IN_BROWSER:
            raise refuse(f"a {self.protocol.upper()} server", NO_SOCKETS, "the lab's "
                         "parsers and encoders (gateway_lab.wire) run without a socket")
        if self._thread.ident is None and not self._stopped:
            self.pool = start_workers(self.app, "wsgi", workers=self.workers,
                                      timeout=self.timeout, keep_body=self.keep_body,
                                      threads=self.threads)
            self._thread.start()
        return self

    def __enter__(self) -> WireServer:  # noqa: PYI034 (typing.Self is 3.11+)
        return self.start()

    def _shutdown(self) -> None:
        """Stop the poller, close every connection, stop the threads and the workers."""
        self._closing = True
        self._wake()
        if self._thread.ident is not None:
            self._thread.join()
        if self.pool is not None:
            self.pool.stop()  # a request still running is answered (and dropped)
        for conn in list(self._open.values()):
            self._close(None, conn)
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the poller ------------------------------------------------------------------
    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            accepting, checked = True, _clock()
            while not self._closing:
                for key, events in selector.select(0.1):
                    if key.fileobj is self._sock:
                        self._accept(selector)
                    elif key.fileobj is self._wake_r:
                        self._drain_wake()
                    else:
                        self._event(selector, key.data, events)
                self._replies(selector)
                if _clock() - checked >= 0.1:  # the deadlines: a look at every connection,
                    checked = _clock()          # so not at every wake-up
                    self._expire(selector)
                # Past max_connections (or out of file descriptors), stop accepting for
                # now: the next connections wait in the listen backlog.
                want = (len(self._open) < self.max_connections
                        and _clock() >= self._accept_after)
                if accepting != want:
                    accepting = want
                    if accepting:
                        selector.register(self._sock, selectors.EVENT_READ)
                    else:
                        selector.unregister(self._sock)

    def _event(self, selector, conn: _Connection, events: int) -> None:
        try:
            if events & selectors.EVENT_WRITE:
                self._writable(selector, conn)
            else:
                self._readable(selector, conn)
        except Exception as error:  # noqa: BLE001 - a bug of ours costs one connection
            self._log(f"{conn.name}: the server failed: {type(error).__name__}: {error}; "
                      "connection closed")
            self._close(selector, conn)

    def _accept(self, selector) -> None:
        while len(self._open) < self.max_connections:
            try:
                sock, peer = self._sock.accept()
            except BlockingIOError:
                return
            except OSError as error:  # out of file descriptors: try again in a moment
                self._log(f"cannot accept a connection: {error}; trying again in 0.5 s")
                self._accept_after = _clock() + 0.5
                return
            sock.setblocking(False)
            conn = _Connection(sock, peer)
            self._open[sock] = conn
            self.connections += 1
            selector.register(sock, selectors.EVENT_READ, conn)

    def _readable(self, selector, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        conn.last = _clock()
        if conn.linger_until:  # a refused client: its bytes are read and dropped
            if not data:
                self._close(selector, conn)
            return
        if not data:
            if conn.buffer:  # the client stopped sending mid-request: it may still read
                error = WireError(f"the client stopped sending after {len(conn.buffer)} "
                                  "bytes, in the middle of a request (cut short?)")
                error.request_id = _request_id(conn) if self.protocol == "fastcgi" else None
                self._refuse(selector, conn, error)
            else:
                self._close(selector, conn)
            return
        if conn.started is None:
            conn.started = conn.last
        conn.buffer += data
        self._next(selector, conn)

    def _next(self, selector, conn: _Connection) -> None:
        """Hand the next whole request in conn's buffer to a thread, or answer it."""
        module = PROTOCOLS[self.protocol]
        while conn.buffer and not conn.busy and not conn.out:
            try:
                found = module.frame(conn.buffer)
            except WireError as error:
                self._refuse(selector, conn, error)
                return
            if found.body is not None and found.body > self.max_body:
                self._too_large(selector, conn, found.body)
                return
            if not found.complete or len(conn.buffer) < found.size:
                return
            data = bytes(conn.buffer[:found.size])
            del conn.buffer[:found.size]
            if self.protocol == "fastcgi" and found.body is None:
                self._management(selector, conn, data)  # requestId 0 (§4)
                continue
            conn.started = _clock() if conn.buffer else None
            conn.busy = True
            # Not watched while it runs: the reply comes back through _replies.
            selector.unregister(conn.sock)
            self._start(conn, data)

    # -- replies -------------------------------------------------------------------
    def _send(self, selector, conn: _Connection, data: bytes, *, close: bool) -> None:
        """Write `data` without blocking: the rest when the socket is writable."""
        conn.close_after = conn.close_after or close
        conn.out += data
        self._writable(selector, conn)

    def _writable(self, selector, conn: _Connection) -> None:
        if conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(selector, conn)
                return
            conn.out = conn.out[sent:]
            conn.last = _clock()
        if conn.out:
            selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
            return
        if conn.abort:
            self._reset(selector, conn)
            return
        if conn.close_after:
            self._linger(selector, conn)
            return
        selector.modify(conn.sock, selectors.EVENT_READ, conn)
        self._next(selector, conn)  # FastCGI KEEP_CONN: the next request may be here

    def _linger(self, selector, conn: _Connection) -> None:
        """Close after a reply: the write side now, the read side once the client has
        stopped sending (closing with unread bytes would reset the connection, and the
        client might lose the reply: nginx's lingering_close does the same)."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(selector, conn)
            return
        conn.buffer.clear()
        conn.linger_until = _clock() + LINGER
        selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _reset(self, selector, conn: _Connection) -> None:
        """Close with a TCP reset (SO_LINGER 0): over SCGI and uwsgi the end of a reply is
        the end of the connection, so an orderly close would tell the front end a cut
        reply was whole; a reset is an error it sees and logs (nginx: "recv() failed
        (104: Connection reset by peer) while reading upstream")."""
        try:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self._close(selector, conn)

    def _close(self, selector, conn: _Connection) -> None:
        if self._open.pop(conn.sock, None) is None:
            return
        if selector is not None:
            try:
                selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        try:
            conn.sock.close()
        except OSError:
            pass

    def _replies(self, selector) -> None:
        """Replies the threads finished: write them from here, the only writer."""
        while True:
            try:
                conn, data, close = self._back.get_nowait()
            except queue.Empty:
                return
            conn.busy = False
            if close == "abort":
                conn.abort, close = True, True
            if conn.sock in self._open:
                selector.register(conn.sock, selectors.EVENT_READ, conn)
                self._send(selector, conn, data, close=close)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _drain_wake(self) -> None:
        try:
            self._wake_r.recv(4096)
        except OSError:
            pass

    def _expire(self, selector) -> None:
        """The deadlines: a request that takes too long to arrive, a reply the client
        will not read, an idle connection, a refused client that goes on sending."""
        now_ = _clock()
        for conn in list(self._open.values()):
            if conn.linger_until:
                if now_ > conn.linger_until:
                    self._close(selector, conn)
            elif conn.busy:
                continue
            elif conn.out:
                if now_ - conn.last > self.read_timeout:
                    self._log(f"{conn.name}: the client read nothing of its reply for "
                              f"{self.read_timeout:g} s; connection closed")
                    self._close(selector, conn)
            elif conn.started is not None and now_ - conn.started > self.read_timeout:
                self._too_slow(selector, conn)
            elif conn.started is None and now_ - conn.last > IDLE_TIMEOUT:
                self._close(selector, conn)

    # -- what cannot be served ------------------------------------------------------
    def _log(self, line: str) -> None:
        keep(self.errors, self._lock, line, self.keep_traces)
        if not self.quiet:
            print(f"gateway-lab {self.protocol}: {line}", file=sys.stderr, flush=True)

    def _refused(self, error: WireError) -> None:
        self._log(f"refused: {error}")

    def _answer(self, status: int, message: str, request_id: int | None) -> bytes | None:
        """A reply with `status` in this protocol (None: FastCGI without a requestId)."""
        reason = reason_phrase(status)
        response = Response(status, [("Content-Type", "text/plain; charset=utf-8")],
                            f"{status} {reason}: {message}\n".encode(), reason=reason)
        if self.protocol != "fastcgi":
            return PROTOCOLS[self.protocol].encode_response(response)
        if request_id is None:
            return None
        return fastcgi.encode_response(response, request_id=request_id, app_status=1)

    def _refuse(self, selector, conn: _Connection, error: WireError) -> None:
        """Bytes that are not a request of the protocol: 400 (or END_REQUEST), logged."""
        rid = getattr(error, "request_id", None)
        status = getattr(error, "protocol_status", fastcgi.REQUEST_COMPLETE)
        if self.protocol == "fastcgi" and status != fastcgi.REQUEST_COMPLETE:
            reply = fastcgi.end_request(rid, 0, status)
        else:
            reply = self._answer(400, f"bad {self.protocol} request: {error}", rid)
        said = "answered 400" if reply is not None else "no request to answer: connection closed"
        if self.protocol == "fastcgi" and status != fastcgi.REQUEST_COMPLETE:
            said = f"answered END_REQUEST {fastcgi.PROTOCOL_STATUS.get(status, status)}"
        self._log(f"{conn.name}: bad {self.protocol} request: {error}; {said}")
        if reply is None:
            self._close(selector, conn)
        else:
            self._send(selector, conn, reply, close=True)

    def _too_large(self, selector, conn: _Connection, size: int) -> None:
        request_id = _request_id(conn) if self.protocol == "fastcgi" else None
        self._record_refusal(f"{size} bytes of body", "http.body.too_large", 413,
                             size=size, limit=self.max_body)
        self._log(f"{conn.name}: a body of {size} bytes is more than max_body "
                  f"({self.max_body}); answered 413")
        reply = self._answer(413, f"the body is {size} bytes, more than the {self.max_body} "
                                  "this server accepts", request_id)
        if reply is None:
            self._close(selector, conn)
        else:
            self._send(selector, conn, reply, close=True)

    def _too_slow(self, selector, conn: _Connection) -> None:
        got = len(conn.buffer)
        request_id = _request_id(conn) if self.protocol == "fastcgi" else None
        self._record_refusal(f"{got} bytes of an unfinished request", "http.request.too_slow",
                             408, limit=self.read_timeout, got=got)
        self._log(f"{conn.name}: the request was not complete after {self.read_timeout:g} s "
                  f"({got} bytes); answered 408 and cut the connection")
        reply = self._answer(408, f"the request did not arrive within {self.read_timeout:g} s",
                             request_id)
        if reply is None:
            self._close(selector, conn)
        else:
            self._send(selector, conn, reply, close=True)

    def _record_refusal(self, what: str, rule: str, status: int, **facts) -> None:
        """A trace for a request the app never saw: what came, the finding, the answer."""
        trace = Trace("wsgi")
        trace.add("client", "request", f"({what})", "RFC 9112 §2", target="server")
        trace.find(rule, actor="server", **facts)
        trace.add("server", "response", f"{status} {reason_phrase(status)}", "RFC 9110 §15",
                  target="client")
        self.record(trace)

    def _management(self, selector, conn: _Connection, data: bytes) -> None:
        """Management records (requestId 0, §4)."""
        (record,) = fastcgi.parse_records(data)
        if record.type == fastcgi.GET_VALUES:
            asked, _ = fastcgi.decode_pairs(record.content)
            known = {"FCGI_MAX_CONNS": str(self.max_connections),
                     "FCGI_MAX_REQS": str(self.max_connections), "FCGI_MPXS_CONNS": "0"}
            answer = {name: known[name] for name in asked if name in known}
            reply = fastcgi.record(fastcgi.GET_VALUES_RESULT, 0, fastcgi.encode_pairs(answer))
        else:  # §4.2: name the type we do not know
            reply = fastcgi.record(fastcgi.UNKNOWN_TYPE, 0, bytes([record.type]) + b"\0" * 7)
        self._send(selector, conn, reply, close=False)

    # -- one request through the app ----------------------------------------------
    def _start(self, conn: _Connection, data: bytes) -> None:
        """Decode a whole request and hand it to a worker; the reply comes back through
        _replies.  What cannot be run is answered at once."""
        try:
            self._begin(conn, data)
        except Exception as error:  # noqa: BLE001 - a bug of ours must still get an answer
            self._log(f"{conn.name}: the server failed: {type(error).__name__}: {error}")
            self._done(conn, self._answer(500, "the server failed", _request_id_of(data))
                       or b"", True)

    def _done(self, conn: _Connection, reply: bytes, close: bool) -> None:
        """A reply is ready (on any thread): the poller writes it."""
        self._back.put((conn, reply, close))
        self._wake()

    def _begin(self, conn: _Connection, data: bytes) -> None:
        parsed = None
        if self.protocol == "fastcgi":
            try:
                parsed = fastcgi.parse(data)
            except WireError as error:
                self._log(f"{conn.name}: bad fastcgi request: {error}; answered 400")
                self._done(conn, self._answer(400, f"bad fastcgi request: {error}",
                                              _request_id_of(data)) or b"", True)
                return
            if parsed.role != fastcgi.RESPONDER:  # §6: this server only plays RESPONDER
                self._log(f"{conn.name}: requestId {parsed.request_id} asks for the role "
                          f"{fastcgi.ROLES.get(parsed.role, parsed.role)}; answered "
                          "END_REQUEST UNKNOWN_ROLE")
                self._done(conn, fastcgi.end_request(parsed.request_id, 0,
                                                     fastcgi.UNKNOWN_ROLE), not parsed.keep_conn)
                return
        try:
            request, script_name, wire = self._decode(data, parsed)
        except WireError as error:  # not the protocol, or the variables make no request
            self._log(f"{conn.name}: bad {self.protocol} request: {error}; answered 400")
            bad = _bad_request(self.protocol, error)  # a 400 the front end relays
            self._done(conn, self._encode(bad, parsed), True)
            return
        sent = now()

        def finished(ex: Exchange) -> None:  # on one of the pool's threads
            ex.trace = _merge(wire, ex.trace, sent)
            self.record(ex.trace)
            if not ex.response.complete:
                self._cut(conn, ex, parsed)
                return
            self._done(conn, self._encode(ex.response, parsed, ex.trace),
                       parsed is None or not parsed.keep_conn)

        self.pool.submit(request, finished, script_name=script_name)

    def _cut(self, conn: _Connection, ex: Exchange, parsed: fastcgi.Parsed | None) -> None:
        """A reply the gateway cut short (a body past max_body, an app that failed after
        start_response): what came is sent, then the front end must see it unfinished
        (PEP 3333 §Error Handling: the server closes the connection).  FastCGI: STDOUT
        and STDERR, and no END_REQUEST (§5.5), so nginx logs "upstream prematurely
        closed"; SCGI and uwsgi: a reset, as their replies end with the connection."""
        why = ", ".join(f.rule for f in ex.trace.findings) or "see its trace"
        request = ex.request
        if parsed is None:
            how = "connection reset, so that the front end does not take it for whole"
            reply, close = PROTOCOLS[self.protocol].encode_response(ex.response), "abort"
        else:
            how = "no END_REQUEST sent, connection closed"
            said = f"the response was cut short ({why})\n".encode()
            reply = (fastcgi.stream(fastcgi.STDOUT, parsed.request_id,
                                    encode_cgi_response(ex.response))
                     + fastcgi.stream(fastcgi.STDERR, parsed.request_id, said))
            close = True
        self._log(f"{conn.name}: {request.method} {request.target}: the response was cut "
                  f"short after {len(ex.response.body)} body bytes ({why}); {how}")
        self._done(conn, reply, close)

    def _decode(self, data: bytes, parsed: fastcgi.Parsed | None):
        """(Request, script_name, the trace of the wire fields) for one request's bytes.
        `parsed` is a FastCGI request parsed from `data` already."""
        wire = Trace("wsgi")
        events = wire if self.trace else None
        if parsed is None:
            variables, body = PROTOCOLS[self.protocol].decode_request(data, trace=events)
        else:
            read_fields(events, parsed.fields, fastcgi.SPEC)
            variables, body = parsed.vars, parsed.body
        request, script_name = request_from_vars(variables, body)
        return request, script_name, wire

    def _encode(self, response: Response, parsed: fastcgi.Parsed | None,
                trace: Trace | None = None) -> bytes:
        if parsed is None:
            return PROTOCOLS[self.protocol].encode_response(response)
        # What the app wrote to wsgi.errors goes to the front end's error log (STDERR, §5.3).
        stderr = "" if trace is None else "".join(
            e.detail + "\n" for e in trace.events if e.kind == "wsgi.errors")
        return fastcgi.encode_response(response, request_id=parsed.request_id,
                                       stderr=stderr.encode("utf-8", "replace"),
                                       app_status=0 if response.status < 500 else 1)

    def run(self, data: bytes, parsed: fastcgi.Parsed | None = None) -> Exchange:
        """Decode one request's bytes and run it through the WSGI gateway, and wait
        (in a worker once the server is started; in this thread before).  WireError
        for bytes that are not a request."""
        request, script_name, wire = self._decode(data, parsed)
        if self.pool is None:
            self.pool = InProcess(self.app, self.timeout)
        sent = now()
        ex = self.pool.run(request, script_name=script_name)
        ex.trace = _merge(wire, ex.trace, sent)
        self.record(ex.trace)
        return ex


def _request_id(conn: _Connection) -> int | None:
    """The FastCGI requestId of the request in conn's buffer, if its first record says."""
    return _request_id_of(bytes(conn.buffer[:fastcgi.HEADER.size]))


def _request_id_of(data: bytes) -> int | None:
    if len(data) >= fastcgi.HEADER.size:
        version, _, request_id, _, _ = fastcgi.HEADER.unpack_from(data)
        if version == fastcgi.VERSION and request_id:
            return request_id
    return None


def _bad_request(protocol: str, error: WireError) -> Response:
    return Response(400, [("Content-Type", "text/plain; charset=utf-8")],
                    f"bad {protocol} request: {error}\n".encode(), reason="Bad Request")


def _merge(wire: Trace, engine: Trace, sent: float) -> Trace:
    """The wire events first, then the engine's, on one clock.  The engine's trace comes
    from a worker process: its t0 is on the same clock (time.perf_counter is
    system-wide on Linux, macOS and Windows) when it falls between the hand-over and
    now; otherwise the hand-over time stands in for it."""
    shift = engine.t0 - wire.t0
    if not sent - wire.t0 <= shift <= now() - wire.t0:
        shift = sent - wire.t0
    for event in engine.events:
        event.t += shift
        wire.events.append(event)
    wire.findings.extend(engine.findings)
    return wire


def serve_wire(protocol: str, app, host: str = "127.0.0.1", port: int = 0,
               **kw) -> WireServer:
    """Start a WireServer in a background thread and return it."""
    return WireServer(protocol, app, host, port, **kw).start()


serve_scgi = partial(serve_wire, "scgi")
serve_fastcgi = partial(serve_wire, "fastcgi")
serve_uwsgi = partial(serve_wire, "uwsgi")

