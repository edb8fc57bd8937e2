#!/usr/bin/python3
"""A test-only token server for the Distribution registry's `auth.token` (Bearer) mode.

    token-server.py PORT_FILE KEY.pem CERT.pem USERS LOG

Listens on a free loopback port (written to PORT_FILE), answers GET /token?service=S&scope=...
with an RS256 JWT whose header carries the certificate as x5c (what Distribution 2.8 checks
against its rootcertbundle). USERS is "user:password[,user:password...]": those get every
action they ask for, except users named reader* and anonymous requests, which get pull only; a wrong password gets 401. Every request
is logged to LOG as "METHOD PATH-without-query user=U scopes=N status" (never the password).
Signing uses the openssl command, so only the Python standard library is needed.
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse

port_file, key, cert, users_arg, log_path = sys.argv[1:6]
USERS = dict(u.split(":", 1) for u in users_arg.split(",") if u)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


with open(cert) as f:
    pem = f.read()
der_b64 = "".join(l for l in pem.splitlines() if l and "-----" not in l)


def sign(payload):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [der_b64]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def note(self, user, nscopes, status):
        with open(log_path, "a") as f:
            f.write("%s %s user=%s scopes=%d %d\n" % (self.command, self.path.split("?")[0], user, nscopes, status))

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        scopes = q.get("scope", [])
        user = ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                user, pw = "?", None
            if USERS.get(user) != pw:
                self.note(user, len(scopes), 401)
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"details":"wrong username or password"}')
                return
        access = []
        for s in scopes:
            parts = s.split(":")
            if len(parts) < 3:
                continue
            typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if not user or user.startswith("reader"):
                actions = [a for a in actions if a == "pull"]
            access.append({"type": typ, "name": name, "actions": actions})
        now = int(time.time())
        tok = sign({"iss": "slipway-test-issuer", "sub": user, "aud": q.get("service", [""])[0],
                    "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
                    "access": access})
        body = json.dumps({"token": tok, "access_token": tok, "expires_in": 300}).encode()
        self.note(user or "-", len(scopes), 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
