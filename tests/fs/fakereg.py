#!/usr/bin/env python3
"""fakereg.py - a small OCI registry for the image tests, serving an OCI
image layout (read only) the way real registries behave on the wire:

  * token auth: /v2/ and every API path answer 401 with
    'WWW-Authenticate: Bearer realm="http://HOST/token",service=...,scope=...'
    until the request carries a token from /token; with --user U:P the
    token endpoint wants that Basic auth (else 401)
  * manifests by tag (the layout's ref.name annotations) or digest, with
    their media type as Content-Type; blobs by digest
  * --redirect: blob requests answer 307 to a second listener (the
    "storage host", another port) that serves the bytes with ranges; it
    logs whether an Authorization header reached it
  * --fail N: the first N requests for each blob answer 503 (transient)
  * --cut BYTES: the first answer for each blob stops after BYTES bytes of
    the body and closes the connection (a reset mid-transfer)

--log FILE gets one JSON line per response: port, method, path, status,
range, whether Authorization was sent, body bytes sent. The ports are
written to --port-file ("API STORAGE") once both listen.
"""
import argparse
import base64
import http.server
import json
import os
import re
import secrets
import threading

LOCK = threading.Lock()
COUNTS = {}


def bump(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aurorafs-test-registry"

    def log_message(self, fmt, *args):
        pass

    def record(self, status, sent):
        opts = self.server.opts
        if not opts.log:
            return
        line = json.dumps({"port": self.server.server_address[1], "method": self.command,
                           "path": self.path, "status": status,
                           "range": self.headers.get("Range"),
                           "auth": self.headers.get("Authorization") is not None,
                           "sent": sent})
        with LOCK, open(opts.log, "a") as f:
            f.write(line + "\n")

    def reply(self, status, body=b"", headers=(), cut=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            data = body if cut is None else body[:cut]
            self.wfile.write(data)
            sent = len(data)
        self.record(status, sent)
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True

    def blob_path(self, digest):
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            return None
        p = os.path.join(self.server.opts.layout, "blobs", "sha256", digest[7:])
        return p if os.path.isfile(p) else None

    def challenge(self):
        host = self.headers.get("Host", "127.0.0.1")
        return ('Bearer realm="http://%s/token",service="fakereg",'
                'scope="repository:%s:pull"' % (host, self.server.opts.repo))

    def do_GET(self):
        if self.server.storage:
            return self.storage()
        opts = self.server.opts
        path = self.path.split("?")[0]
        if path == "/token":
            if opts.user:
                want = "Basic " + base64.b64encode(opts.user.encode()).decode()
                if self.headers.get("Authorization") != want:
                    return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                                      [("WWW-Authenticate", 'Basic realm="fakereg"')])
            tok = secrets.token_hex(16)
            self.server.tokens.add(tok)
            return self.reply(200, json.dumps({"token": tok, "expires_in": 300}).encode(),
                              [("Content-Type", "application/json")])
        auth = self.headers.get("Authorization", "")
        if not (auth.startswith("Bearer ") and auth[7:] in self.server.tokens):
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                              [("WWW-Authenticate", self.challenge()),
                               ("Content-Type", "application/json")])
        if path == "/v2/":
            return self.reply(200, b"{}")
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if not m or m.group(1) != opts.repo:
            return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
        kind, ref = m.group(2), m.group(3)
        if kind == "manifests":
            return self.manifest(ref)
        p = self.blob_path(ref)
        if not p:
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        if bump("fail " + ref) <= opts.fail:
            return self.reply(503, b"try again", [("Retry-After", "0")])
        if opts.redirect:
            loc = "http://127.0.0.1:%d/storage/%s?sig=%s" % (
                self.server.storage_port, ref, secrets.token_hex(4))
            return self.reply(307, b"", [("Location", loc)])
        return self.send_blob(p)

    def manifest(self, ref):
        opts = self.server.opts
        with open(os.path.join(opts.layout, "index.json")) as f:
            index = json.load(f)
        desc = None
        for d in index["manifests"]:
            name = d.get("annotations", {}).get("org.opencontainers.image.ref.name")
            if ref in (name, d["digest"]):
                desc = d
        p = self.blob_path(ref) if ref.startswith("sha256:") else None
        if desc is None and p is None:
            return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        with open(p or self.blob_path(desc["digest"]), "rb") as f:
            body = f.read()
        mt = json.loads(body).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
        return self.reply(200, body, [("Content-Type", mt),
                                      ("Docker-Content-Digest", (desc or {}).get("digest", ref))])

    def send_blob(self, p):
        with open(p, "rb") as f:
            body = f.read()
        rng = self.headers.get("Range")
        cut = None
        if bump("cut " + p) == 1 and self.server.opts.cut:
            cut = self.server.opts.cut
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and int(m.group(1)) < len(body):
            start = int(m.group(1))
            return self.reply(206, body[start:],
                              [("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))])
        return self.reply(200, body, [("Content-Type", "application/octet-stream")], cut=cut)

    def storage(self):
        m = re.fullmatch(r"/storage/(sha256:[0-9a-f]{64})\?sig=\w+", self.path)
        p = self.blob_path(m.group(1)) if m else None
        if not p:
            return self.reply(404)
        return self.send_blob(p)


def serve(opts, port, storage):
    srv = http.server.ThreadingHTTPServer((opts.bind, port), Handler)
    srv.daemon_threads = True
    srv.opts, srv.storage, srv.tokens = opts, storage, set()
    return srv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("layout")
    ap.add_argument("--repo", default="demo")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--user")
    ap.add_argument("--redirect", action="store_true")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--cut", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--port-file", required=True)
    opts = ap.parse_args()
    api = serve(opts, 0, False)
    store = serve(opts, 0, True)
    api.storage_port = store.server_address[1]
    threading.Thread(target=store.serve_forever, daemon=True).start()
    with open(opts.port_file + ".tmp", "w") as f:
        f.write("%d %d\n" % (api.server_address[1], store.server_address[1]))
    os.rename(opts.port_file + ".tmp", opts.port_file)
    api.serve_forever()


if __name__ == "__main__":
    main()
