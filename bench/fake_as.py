#!/usr/bin/env python3
"""A minimal authorization server for benchmarks: discovery + a rotating refresh-token grant,
with a fixed added latency per token call. Prints {"issuer": ...} once listening on 127.0.0.1."""
import json, secrets, sys, threading, time, urllib.parse
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

DELAY = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
lock = threading.Lock()
live = set()          # refresh tokens that may be used once
counts = {"refresh": 0}

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        iss = f"http://127.0.0.1:{self.server.server_port}"
        if self.path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            self.send_json(200, {"issuer": iss, "token_endpoint": iss + "/token", "authorization_endpoint": iss + "/authorize"})
        elif self.path == "/mint":
            rt = secrets.token_urlsafe(24)
            with lock: live.add(rt)
            self.send_json(200, {"refresh_token": rt})
        elif self.path == "/stats":
            self.send_json(200, counts)
        else:
            self.send_json(404, {"error": "not_found"})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        time.sleep(DELAY)
        rt = form.get("refresh_token")
        with lock:
            ok = form.get("grant_type") == "refresh_token" and rt in live
            if ok:
                live.discard(rt)
                new = secrets.token_urlsafe(24)
                live.add(new)
                counts["refresh"] += 1
        if not ok:
            return self.send_json(400, {"error": "invalid_grant"})
        self.send_json(200, {"access_token": secrets.token_urlsafe(32), "token_type": "Bearer", "expires_in": 3600, "refresh_token": new})

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(json.dumps({"issuer": f"http://127.0.0.1:{srv.server_port}"}, separators=(",", ":")), flush=True)
srv.serve_forever()
