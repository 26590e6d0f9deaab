#!/usr/bin/env python3
"""reply_order.py: in what order does an NBD server answer requests sent together?

  reply_order.py SOCKET [--depth N] [--rounds N] [--size BYTES] [--simple]

Connects to the NBD server on the unix socket SOCKET (fixed newstyle, NBD_OPT_GO on the default
export; structured replies unless --simple), then, ROUNDS times (default 200), sends DEPTH
(default 32) READs of SIZE bytes (default 4096) at random aligned offsets in one go and reads
their replies. Prints one line: at how many of the DEPTH x ROUNDS places the reply was the one
sent at that place. A client that guesses the next reply by sending order is right that often.

The receive side of ublk-pool-nbd guesses only with one reply owed (docs/nbd.md, "Receives");
this says why not with more. Exit 0, or 1 when the server misbehaves, 2 for a bad command line.
"""
import argparse
import random
import socket
import struct
import sys

NBD_OPTS_MAGIC = 0x49484156454F5054
NBD_REQUEST_MAGIC = 0x25609513
NBD_SIMPLE_REPLY_MAGIC = 0x67446698
NBD_STRUCTURED_REPLY_MAGIC = 0x668E33EF
NBD_OPT_GO = 7
NBD_OPT_STRUCTURED_REPLY = 8
NBD_REP_ACK = 1
NBD_REPLY_FLAG_DONE = 1
VERSION = "1"


class Misbehaves(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as every binary of the project
        print(f"reply_order: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def receive(sock, n):
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise Misbehaves("the server closed the connection")
        data += part
    return data


def option(sock, code, data=b""):
    sock.sendall(struct.pack(">QII", NBD_OPTS_MAGIC, code, len(data)) + data)


def option_reply(sock):
    _magic, _option, kind, length = struct.unpack(">QIII", receive(sock, 20))
    return kind, receive(sock, length)


def handshake(sock, structured):
    """Returns the export's size."""
    receive(sock, 18)  # NBDMAGIC, IHAVEOPT, handshake flags
    sock.sendall(struct.pack(">I", 1))  # NBD_FLAG_C_FIXED_NEWSTYLE
    if structured:
        option(sock, NBD_OPT_STRUCTURED_REPLY)
        kind, _ = option_reply(sock)
        if kind != NBD_REP_ACK:
            raise Misbehaves("no structured replies")
    option(sock, NBD_OPT_GO, struct.pack(">IH", 0, 0))
    size = None
    while True:
        kind, payload = option_reply(sock)
        if kind == NBD_REP_ACK:
            break
        if kind & 0x80000000:
            raise Misbehaves(f"NBD_OPT_GO refused ({kind:#x})")
        if len(payload) >= 12 and struct.unpack(">H", payload[:2])[0] == 0:  # NBD_INFO_EXPORT
            size = struct.unpack(">Q", payload[2:10])[0]
    if size is None:
        raise Misbehaves("no NBD_INFO_EXPORT")
    return size


def reply_cookie(sock, structured, size):
    """Reads one whole reply to a READ; returns its cookie."""
    magic = struct.unpack(">I", receive(sock, 4))[0]
    if magic == NBD_SIMPLE_REPLY_MAGIC:
        error, cookie = struct.unpack(">IQ", receive(sock, 12))
        if error == 0:
            receive(sock, size)
        return cookie
    if magic != NBD_STRUCTURED_REPLY_MAGIC or not structured:
        raise Misbehaves(f"bad reply magic {magic:#x}")
    while True:
        flags, _kind, cookie, length = struct.unpack(">HHQI", receive(sock, 16))
        receive(sock, length)
        if flags & NBD_REPLY_FLAG_DONE:
            return cookie
        if struct.unpack(">I", receive(sock, 4))[0] != NBD_STRUCTURED_REPLY_MAGIC:
            raise Misbehaves("bad chunk magic")


def main():
    parser = Parser(prog="reply_order", description=__doc__.split("\n\n")[1])
    parser.add_argument("socket")
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--simple", action="store_true", help="no structured replies")
    parser.add_argument("--version", action="version", version=f"reply_order {VERSION}")
    args = parser.parse_args()
    if args.depth < 1 or args.rounds < 1 or args.size < 1:
        parser.error("--depth, --rounds and --size must be positive")
    structured = not args.simple
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(args.socket)
            export_size = handshake(sock, structured)
            blocks = export_size // args.size
            if blocks < 1:
                raise Misbehaves(f"the export ({export_size} bytes) is smaller than --size")
            in_place = 0
            for _ in range(args.rounds):
                requests = b"".join(
                    struct.pack(">IHHQQI", NBD_REQUEST_MAGIC, 0, 0, i, random.randrange(blocks) * args.size, args.size)
                    for i in range(args.depth))
                sock.sendall(requests)
                order = [reply_cookie(sock, structured, args.size) for _ in range(args.depth)]
                in_place += sum(1 for place, cookie in enumerate(order) if place == cookie)
    except OSError as e:
        print(f"reply_order: {args.socket}: {e.strerror or e}", file=sys.stderr)
        return 1
    except Misbehaves as e:
        print(f"reply_order: {args.socket}: {e}", file=sys.stderr)
        return 1
    total = args.depth * args.rounds
    print(f"reply_order: {'structured' if structured else 'simple'} replies, {args.depth} x {args.size} B READs "
          f"sent together: the reply sent at that place at {in_place} of {total} places ({100 * in_place / total:.0f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
