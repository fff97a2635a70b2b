#!/usr/bin/env python3
"""httpd.py - the release server of the aurorafs filesystem tests.

Serves ROOT on 127.0.0.1 like GitHub serves release assets:
  * GET and HEAD, one byte range per request (206, 416), ETag, If-Range
    (a stale validator gets the whole file with 200, as RFC 9110 says)
  * --redirect: every path answers 302 to /_storage/<path>?token=..., as
    github.com sends downloads to its storage host
  * --rate BYTES: send bodies at about that many bytes per second, so a
    test can kill the server in the middle of a transfer
  * --log FILE: one JSON line per response, written when the response
    ends: method, path, range asked for, status, body bytes really sent

The port is chosen by the kernel unless --port is given, and written to
--port-file once the socket listens.
"""
import argparse
import hashlib
import http.server
import json
import os
import re
import threading
import time
import urllib.parse

LOG_LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aurorafs-test-httpd"

    def log_message(self, fmt, *args):
        pass  # the JSON log is what tests read

    def record(self, status, sent):
        if not self.server.log_path:
            return
        line = json.dumps({"method": self.command, "path": self.path,
                           "range": self.headers.get("Range"),
                           "status": status, "sent": sent})
        with LOG_LOCK, open(self.server.log_path, "a") as f:
            f.write(line + "\n")

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status, len(body) if self.command != "HEAD" else 0)

    def do_HEAD(self):
        self.serve()

    def do_GET(self):
        self.serve()

    def serve(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        if self.server.redirect and not path.startswith("/_storage/"):
            where = "/_storage" + url.path + "?token=t%d" % time.time_ns()
            return self.reply(302, b"moved\n", [("Location", where)])
        if path.startswith("/_storage/"):
            path = path[len("/_storage"):]
        fs = os.path.realpath(os.path.join(self.server.root, path.lstrip("/")))
        if not fs.startswith(self.server.root + os.sep) or not os.path.isfile(fs):
            return self.reply(404, b"not found\n")
        st = os.stat(fs)
        size = st.st_size
        etag = '"%s"' % hashlib.sha1(b"%d:%d" % (size, st.st_mtime_ns)).hexdigest()[:16]
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and (if_range is None or if_range == etag):
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or m.group(1) == m.group(2) == "":
                return self.reply(416, b"bad range\n",
                                  [("Content-Range", "bytes */%d" % size)])
            if m.group(1) == "":
                start = max(0, size - int(m.group(2)))
            else:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
            if start >= size or start > end:
                return self.reply(416, b"unsatisfiable\n",
                                  [("Content-Range", "bytes */%d" % size)])
            status = 206
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.date_time_string(int(st.st_mtime)))
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        sent = 0
        try:
            if self.command == "GET":
                sent = self.send_body(fs, start, end - start + 1)
        finally:
            self.record(status, sent)

    def send_body(self, fs, start, length):
        rate = self.server.rate
        sent = 0
        began = time.monotonic()
        with open(fs, "rb") as f:
            f.seek(start)
            while sent < length:
                block = f.read(min(length - sent, 64 * 1024))
                if not block:
                    break
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(block)
                if rate:
                    ahead = sent / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        return sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--redirect", action="store_true")
    ap.add_argument("--rate", type=int, default=0)
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.root = os.path.realpath(a.root)
    srv.redirect = a.redirect
    srv.rate = a.rate
    srv.log_path = a.log
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
