#!/usr/bin/env python3
"""Flume's Avro RPC by hand, for the avro e2e tests: a client that sends
its protocol text with its first request (as a Java client does after a
NONE), and hostile peers. Avro's binary encoding and Netty's framing are
written here from the Avro specification, not with flumen's codec.

  avro_raw.py protocol-first PORT N PREFIX   handshake with the protocol
      text (an unknown hash) and an appendBatch of N events; prints
      "match=<BOTH|CLIENT|NONE> status=<OK|FAILED|UNKNOWN|error>"
  avro_raw.py known-hash PORT HEX N PREFIX   handshake with the hash HEX
      only (no protocol text: a client that takes the server to know it)
      and an appendBatch of N events; prints "match=... status=..."
  avro_raw.py hostile PORT KIND              KIND: garbage, huge-count,
      zero-count, big-frame, truncated, bad-call, bomb, silent, stalled, idle,
      bad-protocol; prints what the server did: "closed", "answered ..."
  avro_raw.py hostile-server PORT KIND       a receiver for the avro sink
      that answers each request badly: KIND huge-count (a frame count of
      2^31), big-frame (a 2 GiB frame), garbage, or silent (never answers);
      prints "listening", then serves until killed
  avro_raw.py decode-records                 reads kcat's `-f '%S:%s'`
      output (size, colon, value) on stdin, each value an AvroFlumeEvent
      datum (Flume's useFlumeEventFormat); prints "HEADERS-JSON BODY" a line
"""
import hashlib
import json
import os
import socket
import struct
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FLUME_TEXT = open(os.path.join(HERE, "flume_protocol.json")).read().strip()
FLUME = json.loads(FLUME_TEXT)


def zz(n):
    z = (n << 1) ^ (n >> 63)
    out = b""
    while z >= 0x80:
        out += bytes([(z & 0x7F) | 0x80])
        z >>= 7
    return out + bytes([z])


def read_long(b, i):
    shift = z = 0
    while True:
        c = b[i]
        i += 1
        z |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return (z >> 1) ^ -(z & 1), i


def s(x):
    x = x if isinstance(x, bytes) else x.encode()
    return zz(len(x)) + x


def event(headers, body):
    out = b""
    if headers:
        out += zz(len(headers)) + b"".join(s(k) + s(v) for k, v in headers.items())
    return out + b"\0" + s(body)


def netty(serial, payload, frame=8192):
    frames = [payload[i:i + frame] for i in range(0, max(len(payload), 1), frame)]
    return struct.pack(">ii", serial, len(frames)) + b"".join(
        struct.pack(">i", len(f)) + f for f in frames)


def read_message(sock):
    def exactly(n):
        b = b""
        while len(b) < n:
            c = sock.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b
    serial, count = struct.unpack(">ii", exactly(8))
    payload = b""
    for _ in range(count):
        (n,) = struct.unpack(">i", exactly(4))
        payload += exactly(n)
    return serial, payload


def handshake_response(p):
    match, i = read_long(p, 0)
    u, i = read_long(p, i)
    if u == 1:
        n, i = read_long(p, i)
        i += n
    u, i = read_long(p, i)
    if u == 1:
        i += 16
    u, i = read_long(p, i)
    if u == 1:
        while True:
            n, i = read_long(p, i)
            if n == 0:
                break
            for _ in range(abs(n)):
                for _ in range(2):
                    k, i = read_long(p, i)
                    i += k
    return ["BOTH", "CLIENT", "NONE"][match], i


def call_response(p, i):
    n, i = read_long(p, i)  # metadata: empty
    err = p[i]
    i += 1
    if err:
        return "error"
    st, i = read_long(p, i)
    return ["OK", "FAILED", "UNKNOWN"][st]


def handshake_and_call(port, hs, n, prefix):
    """Sends handshake `hs` and an appendBatch of n events in one message;
    prints the handshake's match and the call's status."""
    call = b"\0" + s("appendBatch") + zz(n) + b"".join(
        event({"seq": str(i)}, f"{prefix}{i}") for i in range(n)) + b"\0"
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(netty(1, hs + call))
    _, p = read_message(sock)
    match, i = handshake_response(p)
    status = call_response(p, i) if match != "NONE" else "none"
    print(f"match={match} status={status}")


def protocol_first(port, n, prefix):
    text = dict(FLUME)
    text.pop("doc")
    text = json.dumps(text)  # another text, another hash: unknown to flumen
    h = hashlib.md5(text.encode()).digest()
    hs = h + b"\x02" + s(text) + h + b"\0"
    handshake_and_call(port, hs, n, prefix)


def known_hash(port, hexhash, n, prefix):
    h = bytes.fromhex(hexhash)
    # clientHash, clientProtocol null, serverHash (the same), meta null.
    hs = h + b"\0" + h + b"\0"
    handshake_and_call(port, hs, n, prefix)


def closed_within(sock, seconds):
    """Reads (and throws away) until the server closes; True if it did."""
    sock.settimeout(seconds)
    got = b""
    try:
        while True:
            c = sock.recv(65536)
            if not c:
                return True, got
            got += c
    except (socket.timeout, TimeoutError):
        return False, got
    except ConnectionResetError:
        return True, got


def deflate_bomb():
    """1 GiB of zeros announced as one frame, in ~1 MB of zlib stream.
    After a full flush the compressor starts afresh, so every 1 MiB of
    zeros compresses to the same bytes: made once and repeated (compressing
    the whole GiB took 3 s of CPU, more than the server's handshake_timeout
    on a loaded machine once the connection was open)."""
    z = zlib.compressobj(9)
    head = z.compress(struct.pack(">iii", 1, 1, 1 << 30))
    head += z.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(1 << 20)
    block = z.compress(zeros) + z.flush(zlib.Z_FULL_FLUSH)
    again = z.compress(zeros) + z.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "a full flush did not reset the compressor"
    return head + block * 1024


def hostile(port, kind):
    bomb = deflate_bomb() if kind == "bomb" else b""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    h = hashlib.md5(b"x").digest()
    if kind == "garbage":
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(4096))
    elif kind == "huge-count":
        sock.sendall(struct.pack(">iI", 1, 0x80000000))
    elif kind == "zero-count":
        sock.sendall(struct.pack(">ii", 1, 0))
    elif kind == "big-frame":
        sock.sendall(struct.pack(">iii", 1, 1, 0x7FFFFFFF) + b"x" * 1000)
    elif kind == "truncated":
        sock.sendall(netty(1, b"\0" * 100)[:60])
        sock.shutdown(socket.SHUT_WR)
    elif kind == "bad-call":
        # A good handshake, then a call of a message the protocol lacks.
        fh = hashlib.md5(FLUME_TEXT.encode()).digest()
        sock.sendall(netty(1, fh + b"\0" + fh + b"\0" + b"\0" + s("drop")))
        _, p = read_message(sock)
        match, i = handshake_response(p)
        print(f"match={match} {call_response(p, i)}")
        return
    elif kind == "bad-protocol":
        text = json.dumps({"protocol": "Other", "messages": {}})
        sock.sendall(netty(1, h + b"\x02" + s(text) + h + b"\0" + b"\0" + s("")))
    elif kind == "bomb":
        try:
            sock.sendall(bomb)
        except (BrokenPipeError, ConnectionResetError):
            pass
    elif kind == "idle":
        # A ping (handshake, empty message name), answered; then nothing.
        fh = hashlib.md5(FLUME_TEXT.encode()).digest()
        sock.sendall(netty(1, fh + b"\0" + fh + b"\0" + b"\0" + s("")))
        _, p = read_message(sock)
        match, _ = handshake_response(p)
        if match != "BOTH":
            print("ping answered", match)
            return
    elif kind == "stalled":
        sock.sendall(netty(1, b"\0" * 100)[:30])
    elif kind == "silent":
        pass
    closed, got = closed_within(sock, 20)
    print("closed" if closed else "open", f"answered {len(got)} bytes")


def read_event(b, i):
    headers = {}
    while True:
        n, i = read_long(b, i)
        if n == 0:
            break
        if n < 0:
            n = -n
            _, i = read_long(b, i)
        for _ in range(n):
            k, i = read_long(b, i)
            key = b[i:i + k].decode()
            i += k
            v, i = read_long(b, i)
            headers[key] = b[i:i + v].decode()
            i += v
    n, i = read_long(b, i)
    return headers, b[i:i + n], i + n


def decode_records():
    data = sys.stdin.buffer.read()
    i = 0
    while i < len(data):
        colon = data.index(b":", i)
        size = int(data[i:colon])
        value = data[colon + 1:colon + 1 + size]
        i = colon + 1 + size
        headers, body, end = read_event(value, 0)
        if end != len(value):
            sys.exit(f"{len(value) - end} bytes after the datum")
        print(json.dumps(headers, sort_keys=True), body.decode())


def hostile_server(port, kind):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print("listening", flush=True)
    held = []
    while True:
        c, _ = srv.accept()
        try:
            c.settimeout(10)
            c.recv(65536)
            if kind == "huge-count":
                c.sendall(struct.pack(">iI", 1, 0x80000000))
            elif kind == "big-frame":
                c.sendall(struct.pack(">iii", 1, 1, 0x7FFFFFFF) + b"x" * 1000)
            elif kind == "garbage":
                c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(256))
            elif kind == "silent":
                held.append(c)
                continue
        except OSError:
            pass
        c.close()


if __name__ == "__main__":
    if sys.argv[1] == "protocol-first":
        protocol_first(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "known-hash":
        known_hash(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "hostile-server":
        hostile_server(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "decode-records":
        decode_records()
    elif sys.argv[1] == "hostile":
        hostile(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
