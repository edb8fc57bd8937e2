#!/usr/bin/python3
"""A test-only HTTP front for a registry that fails on purpose, to test retries.

    flaky-proxy.py PORT_FILE UPSTREAM_PORT RULES LOG

Listens on a free loopback port (written to PORT_FILE) and forwards every request to
127.0.0.1:UPSTREAM_PORT, except that RULES make some fail first. RULES is
"METHOD:PATH_REGEX:STATUS:COUNT[;...]": the first COUNT requests whose method and path match
get STATUS (429 answers carry "Retry-After: 1") and an empty error body instead of being
forwarded. Every request is logged to LOG as "METHOD PATH-without-query STATUS".
"""
import http.client
import http.server
import os
import re
import sys
import threading

port_file, upstream, rules_arg, log_path = sys.argv[1:5]
RULES = []
for r in rules_arg.split(";"):
    if r:
        m, rx, st, n = r.split(":", 3)
        RULES.append([m, re.compile(rx), int(st), int(n)])
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def note(self, status):
        with lock, open(log_path, "a") as f:
            f.write("%s %s %d\n" % (self.command, self.path.split("?")[0], status))

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            fail = None
            for r in RULES:
                if r[0] == self.command and r[1].search(self.path) and r[3] > 0:
                    r[3] -= 1
                    fail = r[2]
                    break
        if fail:
            self.note(fail)
            self.send_response(fail)
            if fail == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection("127.0.0.1", int(upstream), timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.note(resp.status)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "content-length", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
