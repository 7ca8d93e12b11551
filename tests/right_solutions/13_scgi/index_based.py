"""A right solution of exercise 13_scgi in another style.

Style: bytes.index and a regular expression for the length; the pairs read by walking
    the NULs; the encoder builds a bytearray.
"""

import re

_LENGTH = re.compile(rb"(0|[1-9][0-9]*):")


def encode_request(headers, body):
    block = bytearray()
    items = {"CONTENT_LENGTH": str(len(body)), "SCGI": "1"}
    items.update((k, v) for k, v in headers.items() if k not in items)
    for name, value in items.items():
        block += name.encode("latin-1") + b"\0" + value.encode("latin-1") + b"\0"
    return b"%d:%s,%s" % (len(block), bytes(block), body)


def parse_request(data):
    m = _LENGTH.match(data)
    if m is None:
        raise ValueError("no netstring length")
    start = m.end()
    end = start + int(m.group(1))
    if data[end:end + 1] != b",":
        raise ValueError("the netstring is cut short or does not end with ','")
    headers, pos = {}, start
    while pos < end:
        name_end = data.index(b"\0", pos, end)
        value_end = data.index(b"\0", name_end + 1, end)
        name = data[pos:name_end].decode("latin-1")
        if name in headers:
            raise ValueError(f"{name} twice")
        headers[name] = data[name_end + 1:value_end].decode("latin-1")
        pos = value_end + 1
    if list(headers)[:1] != ["CONTENT_LENGTH"] or headers.get("SCGI") != "1":
        raise ValueError("CONTENT_LENGTH must come first and SCGI must be 1")
    size = headers["CONTENT_LENGTH"]
    if not re.fullmatch(r"[0-9]+", size):
        raise ValueError("CONTENT_LENGTH must be digits")
    body = data[end + 1:end + 1 + int(size)]
    if len(body) != int(size):
        raise ValueError("the body is shorter than CONTENT_LENGTH")
    return headers, body
