#!/usr/bin/env python3
# make-seeds-tftp.py - seed inputs for the tftp fuzz target (the input
# format is described in fuzz_tftp.c): requests of every kind, each with a
# file and a conversation - a clean one, losses, timeouts, duplicates,
# errors, and one long enough for block numbers to roll over.
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tftp")


def rrq(name, mode, *opts, opcode=1):
    parts = [name, mode] + list(opts)
    return struct.pack(">H", opcode) + b"".join(p.encode() + b"\0" for p in parts)


def seed(request, events=b"", max_blksize=1468, max_timeout=10, size=3000, fill=0x0F):
    return (struct.pack(">H", len(request)) + request +
            struct.pack(">HB", max_blksize, max_timeout) +
            size.to_bytes(3, "big") + bytes([fill]) + events)


ACK_ALL, ACK_N, TIMEOUT, PARTIAL, RAW, ERROR, DUP = 0, 1, 2, 3, 4, 6, 7

seeds = {
    "plain": seed(rrq("netboot/kernel", "octet"), bytes([ACK_ALL]) * 8),
    "empty": seed(rrq("/empty", "octet"), bytes([ACK_ALL]), size=0),
    "exact": seed(rrq("x", "octet"), bytes([ACK_ALL]) * 4, size=1024),
    "options": seed(rrq("k", "octet", "blksize", "1428", "tsize", "0",
                        "timeout", "3", "windowsize", "16"),
                    bytes([ACK_N, 0, 0, ACK_ALL, ACK_ALL])),
    "netascii": seed(rrq("t.txt", "netascii", "tsize", "0", "blksize", "9"),
                     bytes([ACK_N, 0, 0]) + bytes([ACK_ALL]) * 40, size=300),
    "losses": seed(rrq("k", "octet", "blksize", "64", "windowsize", "8"),
                   bytes([ACK_N, 0, 0, PARTIAL | 3 << 3, DUP, TIMEOUT, ACK_ALL,
                          PARTIAL | 1 << 3, ACK_N, 0, 2, ACK_ALL] * 4)),
    "timeouts": seed(rrq("k", "octet"), bytes([TIMEOUT] * 7)),
    "client_error": seed(rrq("k", "octet", "tsize", "0"), bytes([ERROR])),
    "raw": seed(rrq("k", "octet"), bytes([RAW, 4, 0, 4, 0, 1, RAW, 3, 0, 4, 0,
                                          RAW, 9, 0, 5, 0, 8, 0x6e, 0x6f, 0, 0, 0])),
    "rollover": seed(rrq("big", "octet", "blksize", "8", "windowsize", "64"),
                     bytes([ACK_N, 0, 0]) + bytes([ACK_ALL]) * 1030,
                     max_blksize=8, size=65540 * 8, fill=0xFE),
    "wrq": rrq("x", "octet", opcode=2),
    "dotdot": rrq("../etc/passwd", "octet"),
    "mail": rrq("x", "mail"),
    "truncated": rrq("x", "octet", "blksize")[:-1],
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    if name in ("wrq", "dotdot", "mail", "truncated"):
        data = struct.pack(">H", len(data)) + data
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(data)
