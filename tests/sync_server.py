#!/usr/bin/python3
"""sync_server.py - a static file server for t_sync.sh and t_otlp.sh.

GET /NAME serves DIR/NAME with a strong ETag (a hash of its bytes) and
answers 304 to a matching If-None-Match, as a static file server or an
object store does.  `--status-file F`: while F exists, its content (a
number) is the status of every answer.  Every request is logged as one
JSON line in --log: method, path, whether it was conditional, the status
sent, and the Authorization header.  --cert/--key: serve HTTPS.
"""
import argparse
import hashlib
import http.server
import json
import os
import ssl
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--status-file")
ap.add_argument("--no-etag", action="store_true")
ap.add_argument("--cert")
ap.add_argument("--key")
args = ap.parse_args()
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self, status, conditional):
        with lock, open(args.log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "conditional": conditional, "status": status,
                                "auth": self.headers.get("Authorization")}) + "\n")

    def answer(self, status, body=b"", etag=None):
        self.send_response(status)
        if etag and not args.no_etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        inm = self.headers.get("If-None-Match")
        if args.status_file and os.path.exists(args.status_file):
            st = int(open(args.status_file).read().strip() or 500)
            self.record(st, inm is not None)
            return self.answer(st, b"forced\n")
        path = os.path.join(args.dir, os.path.basename(self.path.split("?")[0]))
        try:
            body = open(path, "rb").read()
        except OSError:
            self.record(404, inm is not None)
            return self.answer(404, b"no such file\n")
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        if inm is not None and inm == etag and not args.no_etag:
            self.record(304, True)
            return self.answer(304, etag=etag)
        self.record(200, inm is not None)
        self.answer(200, body, etag)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if args.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
