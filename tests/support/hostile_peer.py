#!/usr/bin/env python3
"""A hostile peer of a CAF 0.17 (BASP) listener, for tests/e2e/hostile_peers.sh.

Speaks raw bytes to a hop source's or a node's port, plain or (with --tls)
over mutual TLS with a certificate of the listener's CA:

  oversized HOST PORT [--after-handshake]   one header claiming 4 GiB
  empty-handshake HOST PORT                 a client handshake, no payload
  random HOST PORT --peers 50 --bytes 4096  random bytes from many peers
  idle HOST PORT --count 1100 --until FILE  connections that never speak,
                                            held until FILE exists

Each prints one line of `key=value` results: `closed=N` counts connections
the listener closed (an orderly end or a reset) within --wait seconds.
"""

import argparse
import os
import random
import resource
import select
import socket
import ssl
import struct
import sys
import time

HEADER = struct.Struct(">BBBBIQQQ")  # op, pad, pad, flags, len, data, src, dst
CLIENT_HANDSHAKE, DIRECT_MESSAGE, HEARTBEAT = 1, 2, 6


def atom(text):
    """CAF 0.17's atom_val: 6 bits per character after a 0xF prefix."""
    table = " 0123456789" "ABCDEFGHIJKLMNOPQRSTUVWXYZ_" "abcdefghijklmnopqrstuvwxyz"
    codes = {c: i for i, c in enumerate(table)}
    # The encoding table puts '0'..'9' at 1..10, 'A'.. at 11.., '_' at 37,
    # 'a'.. at 38..: the decoding table's order.
    v = 0xF
    for ch in text:
        v = ((v << 6) | codes[ch]) & 0xFFFFFFFFFFFFFFFF
    return v


def node_id():
    """A node id as CAF 0.17.6 serializes it: atom("default"), pid, host."""
    return struct.pack(">QI", atom("default"), 4242) + bytes(range(20))


def handshake():
    payload = node_id()
    return HEADER.pack(CLIENT_HANDSHAKE, 0, 0, 0, len(payload), 0, 0, 0) + payload


def connect(args, timeout=10):
    s = socket.create_connection((args.host, args.port), timeout=timeout)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        ctx.load_verify_locations(args.tls[2])
        s = ctx.wrap_socket(s)
    return s


def closed_within(s, seconds):
    """True when the listener ends the connection within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            if not s.recv(65536):
                return True
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            return True
    return False


def oversized(args):
    s = connect(args)
    if args.after_handshake:
        s.sendall(handshake())
        s.sendall(HEADER.pack(HEARTBEAT, 0, 0, 0, 0, 0, 0, 0))
    s.sendall(HEADER.pack(DIRECT_MESSAGE, 0, 0, 0, 0xFFFFFFFF, 0, 0, 1))
    print(f"closed={int(closed_within(s, args.wait))}")


def empty_handshake(args):
    s = connect(args)
    s.sendall(HEADER.pack(CLIENT_HANDSHAKE, 0, 0, 0, 0, 0, 0, 0))
    print(f"closed={int(closed_within(s, args.wait))}")


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))


def wait_closed(socks, seconds):
    """How many of `socks` the listener closed within `seconds`."""
    open_ = {s.fileno(): s for s in socks}
    poll = select.poll()
    for fd in open_:
        poll.register(fd, select.POLLIN)
    closed = 0
    deadline = time.time() + seconds
    while open_ and time.time() < deadline:
        for fd, _ in poll.poll(200):
            s = open_[fd]
            try:
                if s.recv(65536):
                    continue  # the server's handshake: keep reading
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                pass
            closed += 1
            poll.unregister(fd)
            del open_[fd]
    return closed


def random_peers(args):
    rng = random.Random(args.seed)
    socks = []
    unreachable = 0
    for _ in range(args.peers):
        try:
            s = connect(args)
        except OSError:
            unreachable += 1
            continue
        try:
            s.sendall(bytes(rng.getrandbits(8) for _ in range(args.bytes)))
        except OSError:
            pass  # refused mid-send: closed, counted below
        s.setblocking(False)
        socks.append(s)
    closed = wait_closed(socks, args.wait)
    print(f"closed={closed} of={len(socks)}"
          + (f" unreachable={unreachable}" if unreachable else ""))


def idle(args):
    raise_fd_limit(args.count + 64)
    socks = []
    for _ in range(args.count):
        s = socket.socket()
        s.connect((args.host, args.port))
        s.setblocking(False)
        socks.append(s)
    print(f"connected={len(socks)}", flush=True)
    # Held until told (the file --until appears): the test checks the
    # listener meanwhile.
    closed = 0
    open_ = {s.fileno(): s for s in socks}
    poll = select.poll()
    for fd in open_:
        poll.register(fd, select.POLLIN)
    while not os.path.exists(args.until):
        for fd, _ in poll.poll(200):
            try:
                if open_[fd].recv(65536):
                    continue  # the server's handshake: still open
            except BlockingIOError:
                continue
            except OSError:
                pass
            poll.unregister(fd)
            del open_[fd]
            closed += 1
        print(f"closed={closed}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["oversized", "empty-handshake", "random", "idle"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--after-handshake", action="store_true")
    p.add_argument("--tls", nargs=3, metavar=("CERT", "KEY", "CA"))
    p.add_argument("--peers", type=int, default=50)
    p.add_argument("--bytes", type=int, default=4096)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--count", type=int, default=1100)
    p.add_argument("--wait", type=float, default=10)
    p.add_argument("--until", default="/nonexistent")
    args = p.parse_args()
    {"oversized": oversized, "empty-handshake": empty_handshake,
     "random": random_peers, "idle": idle}[args.mode](args)


if __name__ == "__main__":
    main()
