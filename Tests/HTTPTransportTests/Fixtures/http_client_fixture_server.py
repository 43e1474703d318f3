#!/usr/bin/env python3
"""Loopback HTTP(S) fixture server for the HTTPClient tests (standard library only).

Usage: http_client_fixture_server.py DIR

Creates a small PKI in DIR with the openssl CLI (unless it is already there), then listens on
127.0.0.1 with four servers on kernel-chosen ports and prints one JSON line with their ports:
  http       plain HTTP/1.1
  https      TLS with a server certificate for IP 127.0.0.1 issued by DIR/ca.pem
  mtls       like https, and a client certificate issued by DIR/ca.pem is required
  wrongname  TLS with a certificate from the same CA but for DNS:other.example only
The process exits when its stdin reaches end of file, so it never outlives the test process.

Every request (any method, any path) is answered according to its query parameters:
  status=N   response status (default 200)
  delay=S    sleep S seconds after reading the request body, before answering
  size=N     answer with N bytes of filler instead of the JSON echo
  chunked=1  send the answer with Transfer-Encoding: chunked (no Content-Length)
  close=1    answer with Connection: close and close the connection
  fold=1     add a header field folded over two lines (obsolete line folding)
  drop=1     read the request, then close the connection without answering
  drop=reused  the same, but only when the connection has served a request before
The JSON echo: method, path, length and sha256 of the request body, lower-cased request
headers, the server's serial number of the connection, and the client certificate's CN.
"""
import hashlib
import http.server
import itertools
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

OPENSSL_CONFIG = """
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
authorityKeyIdentifier = keyid
[wrongname_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
"""


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(directory):
    """ca.pem (trusted by the tests) issuing server, wrongname and client; other-ca.pem (unrelated)
    issuing other-client."""
    if os.path.exists(os.path.join(directory, "done")):
        return
    path = lambda name: os.path.join(directory, name)
    with open(path("openssl.cnf"), "w") as f:
        f.write(OPENSSL_CONFIG)
    for name in ["ca", "other-ca", "server", "wrongname", "client", "other-client"]:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path(name + ".key"))
    for name, cn in [("ca", "as4gw HTTPClient test CA"), ("other-ca", "unrelated test CA")]:
        openssl("req", "-x509", "-new", "-key", path(name + ".key"), "-subj", "/CN=" + cn, "-days", "2",
                "-config", path("openssl.cnf"), "-extensions", "ca_ext", "-out", path(name + ".pem"))
    leaves = [("server", "127.0.0.1", "server_ext", "ca"), ("wrongname", "other.example", "wrongname_ext", "ca"),
              ("client", "as4gw test client", "client_ext", "ca"),
              ("other-client", "foreign test client", "client_ext", "other-ca")]
    for serial, (name, cn, section, issuer) in enumerate(leaves, start=2):
        openssl("req", "-new", "-key", path(name + ".key"), "-subj", "/CN=" + cn, "-config", path("openssl.cnf"),
                "-out", path(name + ".csr"))
        openssl("x509", "-req", "-in", path(name + ".csr"), "-CA", path(issuer + ".pem"), "-CAkey", path(issuer + ".key"),
                "-set_serial", str(serial), "-days", "2", "-extfile", path("openssl.cnf"), "-extensions", section,
                "-out", path(name + ".pem"))
    open(path("done"), "w").close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client or close=1 says otherwise

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.answer()

    do_POST = do_PUT = do_DELETE = do_GET

    def read_body(self):
        digest, length = hashlib.sha256(), 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, 1 << 16))
                    digest.update(piece)
                    remaining -= len(piece)
                    length += len(piece)
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length", "0"))
            while remaining:
                piece = self.rfile.read(min(remaining, 1 << 16))
                if not piece:
                    raise ConnectionError("request body cut short")
                digest.update(piece)
                remaining -= len(piece)
                length += len(piece)
        return length, digest.hexdigest()

    def answer(self):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        length, sha256 = self.read_body()
        self.server.local.requests += 1
        if "delay" in query:
            time.sleep(float(query["delay"]))
        if query.get("drop") == "1" or (query.get("drop") == "reused" and self.server.local.requests > 1):
            self.close_connection = True
            return
        if "size" in query:
            body, content_type = b"x" * int(query["size"]), "application/octet-stream"
        else:
            peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            client_cn = None
            if peer:
                client_cn = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), None)
            body = json.dumps({
                "method": self.command, "path": url.path, "length": length, "sha256": sha256,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "connection": self.server.local.connection, "clientCN": client_cn,
            }).encode()
            content_type = "application/json"
        self.send_response(int(query.get("status", "200")))
        self.send_header("Content-Type", content_type)
        self.send_header("X-Fixture", "as4gw")
        if query.get("fold") == "1":
            self.send_header("X-Folded", "first\r\n\tsecond")
        if query.get("close") == "1":
            self.send_header("Connection", "close")
            self.close_connection = True
        if query.get("chunked") == "1":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1 << 14):
                piece = body[start:start + (1 << 14)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    counter = itertools.count(1)

    def __init__(self, context):
        super().__init__(("127.0.0.1", 0), Handler)
        self.context = context
        self.local = threading.local()

    def finish_request(self, request, client_address):
        # One thread per connection: the TLS handshake happens here, not in the accept loop.
        self.local.connection = next(Server.counter)
        self.local.requests = 0
        # Headers and body are separate writes: without this, Nagle + delayed ACK stall ~40 ms.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.context is not None:
            request = self.context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                close_gracefully(request)
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if self.context is not None:
                request.close()

    def handle_error(self, request, client_address):
        pass  # clients that time out or abort are expected


def close_gracefully(connection):
    """After a failed handshake OpenSSL has written its alert. Closing at once would reset the
    connection if the client's first request is still unread (TLS 1.3 clients send it right after
    their Finished), and the reset can destroy the alert before the client reads it. So: FIN,
    drain what the client sends for a moment, then close."""
    try:
        connection.shutdown(socket.SHUT_WR)  # also detaches the TLS layer: raw reads below
        connection.settimeout(1)
        while connection.recv(1 << 16):
            pass
    except OSError:
        pass
    finally:
        connection.close()


def tls_context(directory, leaf, require_client_certificate=False):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(directory, leaf + ".pem"), os.path.join(directory, leaf + ".key"))
    if require_client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(os.path.join(directory, "ca.pem"))
    return context


def main():
    directory = sys.argv[1]
    make_pki(directory)
    servers = {
        "http": Server(None),
        "https": Server(tls_context(directory, "server")),
        "mtls": Server(tls_context(directory, "server", require_client_certificate=True)),
        "wrongname": Server(tls_context(directory, "wrongname")),
    }
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({name: server.server_address[1] for name, server in servers.items()}), flush=True)
    sys.stdin.read()  # until the test process closes our stdin (or dies)
    os._exit(0)


if __name__ == "__main__":
    main()
