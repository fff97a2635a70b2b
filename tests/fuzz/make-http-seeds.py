#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make-http-seeds.py - seed inputs for the HTTP fuzz targets, written into
corpus/http_plan/ (lines: method, target, Range, If-Range, If-None-Match,
If-Modified-Since, "SIZE MTIME", listing names) and corpus/http_server/
(raw requests, one or several on a connection). Run by hand before a
fuzzing session; run.sh merges what fuzzing finds into the same corpora.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ETAG = '"0123456789abcdef"'
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"

PLAN = {
    "plain": ["GET", "/netboot/kernel", "", "", "", "", "1000 1700000000"],
    "head": ["HEAD", "/netboot//./kernel/", "", "", "", "", "0 0"],
    "range": ["GET", "/iso/x%20y.iso?q=1", "bytes=0-99", "", "", "",
              "1000 1700000000"],
    "suffix": ["GET", "/a", "bytes=-100", ETAG, "", "", "1000 1700000000"],
    "open": ["GET", "/a", "bytes=100-", DATE, "", "", "1000 1700000000"],
    "multi": ["GET", "/a", "bytes=0-1, 5-6,,-3", "", "", "",
              "1000 1700000000"],
    "past": ["GET", "/a", "bytes=5000-6000", "W/" + ETAG, "", "",
             "1000 1700000000"],
    "huge": ["GET", "/a", "bytes=0-99999999999999999999999", "", "", "",
             "18446744073709551615 -1"],
    "inm": ["GET", "/a", "bytes=0-1", "", '"x", W/' + ETAG, "",
            "1000 1700000000"],
    "star": ["GET", "/a", "", "", "*", DATE, "1000 1700000000"],
    "ims": ["GET", "/a", "", "", "", "Tuesday, 14-Nov-23 22:13:20 GMT",
            "1000 1700000000"],
    "asctime": ["GET", "/a", "", "", "", "Tue Nov 14 22:13:20 2023",
                "1000 1700000000"],
    "dotdot": ["GET", "/%2e%2e/etc/passwd", "", "", "", "", ""],
    "escapes": ["GET", "/a%zz%00%5c%0a%C3%BC", "", "", "", "", ""],
    "absolute": ["GET", "http://host:8090/p%61th#frag", "", "", "", "", ""],
    "method": ["POST", "*", "", "", "", "", ""],
    "listing": ["GET", "/", "", "", "", "", "0 0", "kernel", "<b>&'\".iso",
                "sub dir", "100% #1?.bin", ""],
}

SERVER = {
    "get": b"GET /netboot/kernel HTTP/1.1\r\nHost: x\r\n\r\n",
    "head": b"HEAD /netboot/mixed.bin HTTP/1.1\r\nHost: x\r\n\r\n",
    "range": b"GET /netboot/mixed.bin HTTP/1.1\r\nHost: x\r\n"
             b"Range: bytes=990-71000\r\n\r\n",
    "sendfile-range": b"GET /netboot/mixed.bin HTTP/1.1\r\nHost: x\r\n"
                      b"Range: bytes=71001-71100\r\n\r\n",
    "suffix": b"GET /netboot/kernel HTTP/1.1\r\nHost: x\r\n"
              b"Range: bytes=-10\r\nIf-Range: " + DATE.encode() +
              b"\r\n\r\n",
    "unsatisfiable": b"GET /netboot/kernel HTTP/1.1\r\nHost: x\r\n"
                     b"Range: bytes=99999999-\r\n\r\n",
    "conditional": b"GET /netboot/kernel HTTP/1.1\r\nHost: x\r\n"
                   b"If-None-Match: \"x\", *\r\n"
                   b"If-Modified-Since: " + DATE.encode() + b"\r\n\r\n",
    "pipelined": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /netboot HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"HEAD /iso/a%20b%26%3Cc%3E.iso HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /broken HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close"
                 b"\r\n\r\n",
    "listing": b"GET /iso/ HTTP/1.0\r\n\r\n",
    "post": b"POST /config.yaml HTTP/1.1\r\nHost: x\r\nContent-Length: 5"
            b"\r\n\r\nhello",
    "chunked": b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
               b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "get-body": b"GET /config.yaml HTTP/1.1\r\nHost: x\r\nContent-Length: 3"
                b"\r\n\r\nabc",
    "dotdot": b"GET /netboot/..%2F..%2Fetc/passwd HTTP/1.1\r\nHost: x"
              b"\r\n\r\n",
    "absolute": b"GET http://x/config.yaml?a=b HTTP/1.1\r\nHost: x\r\n\r\n",
    "folded": b"GET /config.yaml HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,"
              b"\r\n 2-3\r\nExpect: 100-continue\r\n\r\n",
    "http09": b"GET /\r\n\r\n",
}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


for name, lines in PLAN.items():
    write("http_plan", name, "\n".join(lines).encode())
for name, data in SERVER.items():
    write("http_server", name, data)
