"""Exercise 13: an SCGI request encoder and parser.

Lesson: 03 WSGI servers (its wire viewer), and the SCGI protocol text,
python.ca/scgi/protocol.txt.  Check: `gateway-lab check 13_scgi`.

SCGI is how a front server (nginx, Apache) hands a request to a long-running
app process over a socket: the CGI meta-variables as a netstring, then the body.

    <length>:  name\\0value\\0  name\\0value\\0 ... ,  <body>

Task: write

* `encode_request(headers: dict[str, str], body: bytes) -> bytes`: CONTENT_LENGTH
  (the body's length, "0" when empty) first, then SCGI = "1", then the given
  headers in order; names and values as Latin-1 bytes.
* `parse_request(data: bytes) -> tuple[dict[str, str], bytes]`: the headers (in
  order, values as str) and the body; raise ValueError for malformed input.

The protocol's own example must come out byte for byte:

    encode_request({"REQUEST_METHOD": "POST", "REQUEST_URI": "/deepthought"},
                   b"What is the answer to life?")
    == b"70:CONTENT_LENGTH\\x0027\\x00SCGI\\x001\\x00REQUEST_METHOD\\x00POST\\x00"
       b"REQUEST_URI\\x00/deepthought\\x00,What is the answer to life?"

Rules it practises (SCGI protocol):
* the header block is a netstring: decimal length (no leading zeros), ":",
  the block, ",";
* CONTENT_LENGTH must be the first header, and SCGI with the value "1" must be
  present; no header name twice;
* the body is exactly CONTENT_LENGTH bytes.
"""


def encode_request(headers, body):
    raise NotImplementedError("encode_request: not implemented yet")


def parse_request(data):
    raise NotImplementedError("parse_request: not implemented yet")
