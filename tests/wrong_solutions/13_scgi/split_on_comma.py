"""A wrong solution of exercise 13_scgi: the block cut at the first ','.

Mistake: finds the end of the header block with partition(b','): a ',' in a value (an Accept
    header has them) ends the block too early; only the netstring's length says where it ends.
Fails: a ',' in a value
Says: the netstring length does not match
"""

def encode_request(headers, body):
    # CONTENT_LENGTH first, SCGI=1 next: the protocol requires both, in that order.
    pairs = [("CONTENT_LENGTH", str(len(body))), ("SCGI", "1")]
    pairs += [(k, v) for k, v in headers.items() if k not in ("CONTENT_LENGTH", "SCGI")]
    block = b"".join(k.encode("latin-1") + b"\0" + v.encode("latin-1") + b"\0"
                     for k, v in pairs)
    # A netstring: decimal length, ":", the bytes, ",".
    return str(len(block)).encode() + b":" + block + b"," + body


def parse_request(data):
    length, colon, rest = data.partition(b":")
    if not colon or not length.isdigit() or (length.startswith(b"0") and length != b"0"):
        raise ValueError("the request must start with a netstring length: digits, then ':'")
    size = int(length)
    block, comma, body = rest.partition(b",")
    if not comma or len(block) != size:
        raise ValueError("the netstring length does not match")
    fields = block.split(b"\0")
    if fields[-1] != b"" or len(fields) % 2 != 1:
        raise ValueError("every header is name\\0value\\0")
    headers = {}
    for name, value in zip(fields[0:-1:2], fields[1:-1:2], strict=True):
        key = name.decode("latin-1")
        if key in headers:
            raise ValueError(f"the header {key} appears twice")
        headers[key] = value.decode("latin-1")
    if next(iter(headers), None) != "CONTENT_LENGTH":
        raise ValueError("CONTENT_LENGTH must be the first header")
    if headers.get("SCGI") != "1":
        raise ValueError("the SCGI header must be present, with the value 1")
    declared = headers["CONTENT_LENGTH"]
    if not declared.isdigit():
        raise ValueError(f"CONTENT_LENGTH {declared!r} is not a number")
    if len(body) < int(declared):
        raise ValueError(f"CONTENT_LENGTH is {declared} but the body has {len(body)} bytes")
    return headers, body[:int(declared)]
