#!/usr/bin/env python3
"""An HTTPS proxy in front of a receiving as4gw, for tests of how the sender reads answers that
other implementations give but as4gw itself does not. Standard library only.

  answer_proxy.py --port P --cert TLS.pem --key TLS.key --target URL --cacert CA --mode MODE [--retry-after N] [--answer FILE]
                  [--hold S] [--hold-count N] [--held-status S] [--release-file F] [--wording old|new]

MODE:
  multipart    forwards each POST and returns the receiver's answer framed as a one-part
               multipart/related message (as some AS4 implementations send receipts)
  fault        answers every POST itself with HTTP 500 and a bare SOAP 1.2 Fault (no eb:Messaging)
  retry-after  answers the first POST with 503 and "Retry-After: N" (no body), forwards the rest
  canned       answers every POST itself with HTTP 200 and the message in --answer FILE (as
               `as4gw seal` writes it: MIME headers, a blank line, the body), e.g. a user message
               for a puller that is not what it asked for
  hold         the first --hold-count POSTs (default 1): forwarded at once, the receiver's answer
               returned only --hold seconds later (an answer under way while the sender's state
               moves on); with --held-status S not forwarded at all, answered S with no body
               after the hold. Later POSTs are forwarded and answered at once.
  refuse-size  the first POST is answered 413 with no body (a size limit in front of the
               receiver); every later one gets no answer at all, its connection closed (as an
               upload the refusing side cut off mid-way)
  duplicate    phase4 meeting a resend: the first --hold-count POSTs (default 1) are forwarded, and
               the receiver's answer is lost (answered 503 with no body) or, with --release-file F,
               held until F exists; every later POST is answered by the proxy itself with phase4's
               unsigned EBMS:0004 "already received" error about the request's MessageId, worded as
               phase4 up to 2.5 does (--wording old, the default) or from 2.6 (--wording new)

Prints "listening on PORT" once ready, then one line per request: its number, what was done, the
status returned.
"""

import argparse
import datetime
import http.server
import os
import re
import ssl
import sys
import time
import uuid
import urllib.error
import urllib.request

FAULT = (b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
         b'<env:Code><env:Value>env:Receiver</env:Value></env:Code>'
         b'<env:Reason><env:Text xml:lang="en">backend unavailable at the proxy</env:Text></env:Reason>'
         b'</env:Fault></env:Body></env:Envelope>')

EB = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"


def already_received(message_id, wording):
    """phase4's answer to a message id its duplicate check has seen (EBMS:0004 Other)."""
    if wording == "new":
        said = ("<eb:Description xml:lang=\"en\">An undefined error occurred.</eb:Description><eb:ErrorDetail>Not invoking SPIs, "
                "because message with Message ID '%s' was already handled (this is a duplicate)</eb:ErrorDetail>" % message_id)
    else:
        said = "<eb:Description xml:lang=\"en\">Another message with the same ID was already received!</eb:Description>"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return ('<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header>'
            '<eb:Messaging xmlns:eb="%s" env:mustUnderstand="true"><eb:SignalMessage><eb:MessageInfo><eb:Timestamp>%s</eb:Timestamp>'
            '<eb:MessageId>%s@proxy</eb:MessageId><eb:RefToMessageId>%s</eb:RefToMessageId></eb:MessageInfo>'
            '<eb:Error category="Content" errorCode="EBMS:0004" origin="ebMS" refToMessageInError="%s" severity="failure" '
            'shortDescription="Other">%s</eb:Error></eb:SignalMessage></eb:Messaging></env:Header><env:Body/></env:Envelope>'
            % (EB, now, uuid.uuid4(), message_id, message_id, said)).encode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--cacert", required=True)
    p.add_argument("--mode", choices=["multipart", "fault", "retry-after", "canned", "hold", "refuse-size", "duplicate"], required=True)
    p.add_argument("--retry-after", default="3")
    p.add_argument("--answer")
    p.add_argument("--hold", type=float, default=5)
    p.add_argument("--hold-count", type=int, default=1)
    p.add_argument("--held-status", type=int)
    p.add_argument("--release-file")
    p.add_argument("--wording", choices=["old", "new"], default="old")
    args = p.parse_args()
    canned = None
    if args.mode == "canned":
        raw = open(args.answer, "rb").read()
        head, _, body = raw.partition(b"\r\n\r\n")
        content_type = next(line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-type:"))
        canned = (content_type, body)
    upstream = ssl.create_default_context(cafile=args.cacert)
    count = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, status, content_type, body, headers=()):
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self, body):
            req = urllib.request.Request(args.target, data=body, method="POST",
                                         headers={"Content-Type": self.headers["Content-Type"]})
            try:
                with urllib.request.urlopen(req, context=upstream, timeout=60) as r:
                    return r.status, r.headers.get("Content-Type", ""), r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.headers.get("Content-Type", ""), e.read()

        def do_POST(self):
            count["n"] += 1
            n = count["n"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.mode == "fault":
                self.answer(500, "application/soap+xml; charset=UTF-8", FAULT)
                print(n, "fault", 500, flush=True)
                return
            if args.mode == "refuse-size":
                if n == 1:
                    self.answer(413, None, b"")
                    print(n, "refused", 413, flush=True)
                else:
                    self.close_connection = True
                    print(n, "dropped", 0, flush=True)
                return
            if args.mode == "duplicate":
                if n <= args.hold_count:
                    status, content_type, answer = self.forward(body)
                    if not args.release_file:
                        self.answer(503, None, b"")
                        print(n, "lost", 503, flush=True)
                        return
                    print(n, "holding", status, flush=True)
                    while not os.path.exists(args.release_file):
                        time.sleep(0.1)
                    self.answer(status, content_type, answer)
                    print(n, "held", status, flush=True)
                    return
                found = re.search(rb"<(?:[\w.-]+:)?MessageId>([^<]+)</", body)
                self.answer(200, "application/soap+xml; charset=UTF-8", already_received(found.group(1).decode() if found else "", args.wording))
                print(n, "already-received", 200, flush=True)
                return
            if args.mode == "canned":
                self.answer(200, canned[0], canned[1])
                print(n, "canned", 200, flush=True)
                return
            if args.mode == "retry-after" and n == 1:
                self.answer(503, None, b"", [("Retry-After", args.retry_after)])
                print(n, "retry-after", 503, flush=True)
                return
            if args.mode == "hold" and n <= args.hold_count:
                if args.held_status:
                    time.sleep(args.hold)
                    self.answer(args.held_status, None, b"")
                    print(n, "held", args.held_status, flush=True)
                    return
                status, content_type, answer = self.forward(body)
                print(n, "holding", status, flush=True)
                time.sleep(args.hold)
                self.answer(status, content_type, answer)
                print(n, "held", status, flush=True)
                return
            status, content_type, answer = self.forward(body)
            if args.mode == "multipart" and answer:
                boundary = "proxy-boundary-7f3a"
                framed = (f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-ID: <root@proxy>\r\n"
                          f"Content-Transfer-Encoding: binary\r\n\r\n").encode() + answer + f"\r\n--{boundary}--\r\n".encode()
                self.answer(status, f'multipart/related; type="application/soap+xml"; boundary="{boundary}"; '
                                    f'start="<root@proxy>"', framed)
                print(n, "multipart", status, flush=True)
                return
            self.answer(status, content_type, answer)
            print(n, "forwarded", status, flush=True)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(args.cert, args.key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    print("listening on", args.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
