"""A webhook receiver for the Swift tests, on 127.0.0.1: checks each request's HMAC-SHA256
signature with Python's own hmac module and records it as one JSON line.

    webhook_sink.py PORT SECRET LOG FAIL_FIRST [DELAY]

The first FAIL_FIRST requests are answered 503 (to make the gateway retry), the rest 204. With
DELAY, each answer comes that many seconds after the request was read and recorded (a slow
receiver); requests are taken one at a time, so one sent meanwhile waits and is recorded after.
"""
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

port, secret, log_path, fail_first = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], int(sys.argv[4])
delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
seen = 0


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        timestamp = self.headers.get("X-As4gw-Timestamp", "")
        signature = self.headers.get("X-As4gw-Signature", "")
        expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        seen += 1
        status = 503 if seen <= fail_first else 204
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"status": status, "valid": hmac.compare_digest(expected, signature),
                                  "timestamp": timestamp, "body": json.loads(body)}) + "\n")
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Sink).serve_forever()
