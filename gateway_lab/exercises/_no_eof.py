"""Run a Python CGI script with a stdin that never ends (see freedoms.no_eof_interpreter).

    python _no_eof.py SCRIPT.py [ARGS...]

RFC 3875 §4.2: a server may signal end-of-file after CONTENT_LENGTH bytes, or
not; "Therefore, the script MUST NOT attempt to read more than CONTENT_LENGTH
bytes, even if more data is available."  This wrapper, run as the script's interpreter by
run_cgi, reads the body the lab sent, then gives the script a stdin that holds
those bytes and stays open:

* at the file-descriptor level, stdin is a pipe whose writing end stays open,
  so os.read(0, ...) past the body blocks, as on such a server;
* sys.stdin (text and .buffer) notices a read past the body at once, writes a
  line to stderr that the check looks for, and exits, so the check does not
  have to wait for the timeout to say what happened.
"""

import io
import os
import runpy
import sys

MARK = "gateway-lab: the script read stdin past CONTENT_LENGTH"


def _in_process() -> bool:
    """True under run_cgi's simulation (cgi._simulate: a browser has no processes).  The
    script then runs in the notebook's own process with a stdin over a BytesIO: file
    descriptor 0 is not the script's to replace, and os._exit would end the kernel."""
    return isinstance(getattr(sys.stdin, "buffer", None), io.BytesIO)


class _Body(io.RawIOBase):
    def __init__(self, body: bytes, in_process: bool = False):
        self.body, self.pos, self.in_process = body, 0, in_process

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = len(self.body) - self.pos
        if left <= 0:
            err = sys.stderr if self.in_process else sys.__stderr__
            err.write(f"{MARK}: read past the {len(self.body)} bytes of CONTENT_LENGTH "
                      "(sys.stdin.read() with no size reads to end-of-file)\n")
            err.flush()
            if self.in_process:
                raise SystemExit(70)  # the simulation's exit status (run_cgi reads it)
            os._exit(70)
        n = min(left, len(buffer))
        buffer[:n] = self.body[self.pos:self.pos + n]
        self.pos += n
        return n


def main() -> None:
    script = sys.argv[1]
    length = os.environ.get("CONTENT_LENGTH", "")
    size = int(length) if length.isdigit() else 0
    encoding = getattr(sys.stdin, "encoding", None) or "utf-8"
    if _in_process():  # the same stdin, at the level a simulated script can see
        body = sys.stdin.buffer.read(size)
        sys.stdin = io.TextIOWrapper(io.BufferedReader(_Body(body, True)), encoding=encoding)
        sys.argv = sys.argv[1:]
        runpy.run_path(script, run_name="__main__")
        return
    body = b""
    while len(body) < size:  # the lab's stdin does end: read the body off it
        chunk = os.read(0, size - len(body))
        if not chunk:
            break
        body += chunk
    read_end, write_end = os.pipe()
    os.write(write_end, body[:60000])  # a pipe holds 64 KiB; the checks send less
    os.dup2(read_end, 0)
    os.close(read_end)
    keep_open = write_end  # never closed: no end-of-file at the descriptor level either
    sys.stdin = io.TextIOWrapper(io.BufferedReader(_Body(body)), encoding=encoding)
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        del keep_open


if __name__ == "__main__":
    main()
