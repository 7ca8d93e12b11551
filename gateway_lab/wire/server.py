"""A small app server for each wire protocol: a WSGI app behind SCGI, FastCGI or uwsgi.

This is the "back end" half that nginx's scgi_pass / fastcgi_pass /
uwsgi_pass talk to.  Per connection it

1. reads one request's bytes off the socket (`read_request` of the protocol),
2. decodes them into CGI variables and a body (`decode_request`),
3. rebuilds the HTTP request and runs it through the lab's own WSGI gateway
   (`gateway_lab.wsgi.run_wsgi`), so every served request leaves a trace
   with findings, like an in-process run,
4. writes the reply: a CGI-style response (SCGI, uwsgi: then close the
   connection, which is how the front end knows the response ended) or
   STDOUT/STDERR/END_REQUEST records (FastCGI: then keep the connection
   open if BEGIN_REQUEST asked for KEEP_CONN, §5.1).

The WSGI gateway collects the whole response before it is written, so a
streamed body arrives in one piece (what the app sent, not how it was timed).
Each connection gets a thread (socketserver.ThreadingTCPServer); `stop()`
closes open connections and joins every thread it started.  A WireServer is a
`gateway_lab.serving.Server` (the one `gl.serve` returns): the same `traces`,
`running`, `stop()` and `with` block, with `start()` because it is made
before it serves.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from functools import partial

from ..exchange import Exchange, Response
from ..serving import REUSE_ADDRESS, Server, _keep, bind_error
from ..trace import Trace
from . import fastcgi, scgi, uwsgi
from ._common import WireError, read_fields, request_from_vars

PROTOCOLS = {"scgi": scgi, "fastcgi": fastcgi, "uwsgi": uwsgi}
IDLE_TIMEOUT = 60.0   # seconds a connection may sit idle before the server closes it


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = REUSE_ADDRESS
    daemon_threads = False
    block_on_close = True   # server_close() joins the connection threads

    def handle_error(self, request, client_address):  # a learner-facing message, no traceback
        error = sys.exc_info()[1]
        print(f"gateway-lab {self.lab.protocol}: {type(error).__name__}: {error}",
              file=sys.stderr)


class _Handler(socketserver.StreamRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        lab: WireServer = self.server.lab
        self.connection.settimeout(IDLE_TIMEOUT)
        lab._opened(self.connection)
        try:
            # FastCGI may carry many requests on a connection; SCGI and uwsgi carry one.
            if lab.protocol == "fastcgi":
                self._fastcgi(lab)
            else:
                self._one(lab)
        except OSError:
            pass  # the front end went away, or stop() closed the connection
        finally:
            lab._closed(self.connection)

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            pass

    def _one(self, lab: WireServer) -> None:
        """SCGI and uwsgi: one request per connection, reply, close."""
        module = PROTOCOLS[lab.protocol]
        try:
            response = lab.run(module.read_request(self.rfile)).response
        except WireError as error:
            lab._refused(error)
            response = _bad_request(lab.protocol, error)  # a 400 the front end can relay
        self._write(module.encode_response(response))

    def _fastcgi(self, lab: WireServer) -> None:
        """FastCGI: requests one after another until the front end closes (KEEP_CONN)."""
        while True:
            try:
                data = fastcgi.read_request(self.rfile, on_management=self._management)
                if data is None:
                    return
                parsed = fastcgi.parse(data)  # once: its ids and role, then its variables
            except WireError as error:
                lab._refused(error)
                return  # no request id to answer to: close the connection
            if parsed.role != fastcgi.RESPONDER:  # §6: this server only plays RESPONDER
                self._write(fastcgi.end_request(parsed.request_id, 0, fastcgi.UNKNOWN_ROLE))
            elif not self._respond(lab, data, parsed):
                return
            if not parsed.keep_conn:
                return

    def _respond(self, lab: WireServer, data: bytes, parsed: fastcgi.Parsed) -> bool:
        """Run one FastCGI request and write its reply; False after a 400."""
        try:
            ex = lab.run(data, parsed)
        except WireError as error:  # the variables do not make an HTTP request
            lab._refused(error)
            self._write(fastcgi.encode_response(
                _bad_request(lab.protocol, error), request_id=parsed.request_id))
            return False
        # What the app wrote to wsgi.errors goes to the front end's error log (STDERR, §5.3).
        stderr = "".join(e.detail + "\n" for e in ex.trace.events if e.kind == "wsgi.errors")
        self._write(fastcgi.encode_response(
            ex.response, request_id=parsed.request_id,
            stderr=stderr.encode("utf-8", "replace"),
            app_status=0 if ex.response.status < 500 else 1))
        return True

    def _management(self, record: fastcgi.Record) -> None:
        """Management records (requestId 0, §4)."""
        if record.type == fastcgi.GET_VALUES:
            asked, _ = fastcgi.decode_pairs(record.content)
            known = {"FCGI_MAX_CONNS": "100", "FCGI_MAX_REQS": "100", "FCGI_MPXS_CONNS": "0"}
            answer = {name: known[name] for name in asked if name in known}
            self._write(fastcgi.record(fastcgi.GET_VALUES_RESULT, 0,
                                       fastcgi.encode_pairs(answer)))
        else:  # §4.2: name the type we do not know
            self._write(fastcgi.record(fastcgi.UNKNOWN_TYPE, 0,
                                       bytes([record.type]) + b"\0" * 7))


def _bad_request(protocol: str, error: WireError) -> Response:
    return Response(400, [("Content-Type", "text/plain; charset=utf-8")],
                    f"bad {protocol} request: {error}\n".encode(), reason="Bad Request")


class WireServer(Server):
    """Serve a WSGI `app` over `protocol` ("scgi", "fastcgi" or "uwsgi") on host:port.

        srv = WireServer("scgi", app, port=0).start()   # port 0: a free port
        srv.port, srv.traces, srv.stop()

    `timeout` bounds each run of the app (seconds); `trace=False` skips the
    per-field wire events (the engine's trace is still kept).  `errors` lists
    the requests that were not valid messages of the protocol.
    """

    def __init__(self, protocol: str, app, host: str = "127.0.0.1", port: int = 0, *,
                 timeout: float = 5.0, trace: bool = True):
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; use one of "
                             f"{', '.join(PROTOCOLS)}")
        if not callable(app):
            raise TypeError(f"a WSGI app must be callable, got {type(app).__name__}")
        try:
            tcp = _TCPServer((host, port), _Handler)
        except OSError as error:
            raise bind_error(error, host, port) from None
        tcp.lab = self
        thread = threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.1},
                                  name=f"gateway-lab-{protocol}-server", daemon=True)
        # The app runs through the lab's WSGI gateway, whatever the wire protocol.
        super().__init__("wsgi", *tcp.server_address[:2], thread, self._shutdown, [])
        self.protocol = protocol
        self.app = app
        self.timeout = timeout
        self.trace = trace
        self.errors: list[str] = []
        self.connections = 0          # connections accepted so far
        self._tcp = tcp
        self._open: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"

    def start(self) -> WireServer:
        """Start serving in a background thread (once; later calls do nothing)."""
        if self._thread.ident is None and not self._stopped:
            self._thread.start()
        return self

    def __enter__(self) -> WireServer:  # noqa: PYI034 (typing.Self is 3.11+)
        return self.start()

    def _shutdown(self) -> None:
        """Stop accepting, close open connections (Server.stop joins the thread)."""
        if self._thread.is_alive():
            self._tcp.shutdown()
        with self._lock:
            for conn in self._open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._tcp.server_close()  # joins the connection threads

    # -- used by the handler ------------------------------------------------------
    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.add(conn)
            self.connections += 1

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    def _refused(self, error: WireError) -> None:
        _keep(self.errors, self._lock, str(error))

    def run(self, data: bytes, parsed: fastcgi.Parsed | None = None) -> Exchange:
        """Decode one request's bytes and run it through the WSGI gateway.

        `parsed` is a FastCGI request the caller has parsed from `data`
        already, so the records are not read twice.
        """
        from ..wsgi import run_wsgi

        wire = Trace("wsgi")
        events = wire if self.trace else None
        if parsed is None:
            variables, body = PROTOCOLS[self.protocol].decode_request(data, trace=events)
        else:
            read_fields(events, parsed.fields, fastcgi.SPEC)
            variables, body = parsed.vars, parsed.body
        request, script_name = request_from_vars(variables, body)
        ex = run_wsgi(self.app, request, timeout=self.timeout, script_name=script_name,
                      multithread=True)
        ex.trace = _merge(wire, ex.trace)
        _keep(self.traces, self._lock, ex.trace)
        return ex


def _merge(wire: Trace, engine: Trace) -> Trace:
    """The wire events first, then the engine's, on one clock."""
    shift = engine.t0 - wire.t0
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
