#!/usr/bin/env python3
"""A small SMTP server on 127.0.0.1 for the notice tests (standard library only).

  smtp_sink.py OUT_DIR [--port N] [--greeting CODE] [--refuse EMAIL=CODE ...] [--data-reply CODE]
                       [--data-delay SECONDS] [--auth USER:PASSWORD] [--auth-reply CODE] [--mail-reply CODE]

Prints the port it listens on (--port, else one the system picks), then serves until killed.
--greeting answers every connection with CODE instead of 220 (a two-line reply) and closes it
(421: a server closing its service to everyone; 554: no SMTP service for this client). Every accepted message is written to
OUT_DIR/<n>.eml with the envelope in OUT_DIR/<n>.json. --refuse answers RCPT TO for that
address with CODE (e.g. 451 temporary, 550 permanent, 421 a rate limit); --data-reply answers
every message's text with CODE. A 421 anywhere closes the connection after it, as RFC 5321 says. Each refusal is a line in OUT_DIR/refused.log ("RCPT <address> CODE" or "DATA CODE").
--data-delay answers an accepted message that many seconds after it was written (a slow server:
the message counts as received from the moment its file exists).
--auth offers AUTH PLAIN and LOGIN and takes only USER:PASSWORD (235); other credentials, or
every AUTH with --auth-reply, get CODE (default 535), and MAIL FROM before a login gets 530.
--mail-reply answers every MAIL FROM with CODE (a refused envelope sender, or 530 for a server
that wants STARTTLS first). These refusals are logged as "AUTH CODE" and "MAIL CODE".
"""
import argparse
import base64
import binascii
import json
import os
import socketserver
import time


class Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def refused(self, what, code):
        with open(os.path.join(self.server.out, "refused.log"), "a") as f:
            f.write(f"{what} {code}\n")
        self.reply(f"{code} refused by the test server")
        # 421 closes the channel (RFC 5321 3.8), wherever it is answered.
        self.closing = code == 421

    def credentials(self, mechanism, initial):
        """The (user, password) an AUTH exchange offers, or None when it was malformed."""
        def answer(prompt, given=None):
            if given is None:
                self.reply(f"334 {prompt}")
                given = self.rfile.readline(65536).decode("ascii", "replace").strip()
            return base64.b64decode(given, validate=True).decode("utf-8", "replace")
        try:
            if mechanism == "PLAIN":
                parts = answer("", initial).split("\0")
                return (parts[1], parts[2]) if len(parts) == 3 else None
            if mechanism == "LOGIN":
                user = answer("VXNlcm5hbWU6", initial)
                return user, answer("UGFzc3dvcmQ6")
        except (binascii.Error, ValueError):
            return None
        return None

    def authenticate(self, line):
        words = line.split()
        mechanism = words[1].upper() if len(words) > 1 else ""
        offered = self.credentials(mechanism, words[2] if len(words) > 2 else None)
        if self.server.auth_reply:
            self.refused("AUTH", self.server.auth_reply)
            return False
        if offered is None or offered != self.server.auth:
            self.refused("AUTH", 535)
            return False
        self.reply("235 2.7.0 authenticated")
        return True

    def handle(self):
        if self.server.greeting:
            self.reply(f"{self.server.greeting}-smtp-sink not available")
            self.reply(f"{self.server.greeting} no SMTP service here")
            return
        self.reply("220 smtp-sink ready")
        sender, recipients, authenticated = None, [], False
        self.closing = False
        while True:
            if self.closing:
                return
            raw = self.rfile.readline(65536)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-smtp-sink")
                if self.server.auth:
                    self.reply("250-AUTH PLAIN LOGIN")
                self.reply("250 8BITMIME")
            elif verb == "AUTH" and self.server.auth and not authenticated:
                authenticated = self.authenticate(line)
            elif verb == "MAIL":
                if self.server.mail_reply:
                    self.refused("MAIL", self.server.mail_reply)
                elif self.server.auth and not authenticated:
                    self.refused("MAIL", 530)
                else:
                    sender, recipients = line[10:].strip(), []
                    self.reply("250 OK")
            elif verb == "RCPT":
                address = line[8:].strip().strip("<>")
                if address in self.server.refuse:
                    self.refused(f"RCPT {address}", self.server.refuse[address])
                else:
                    recipients.append(line[8:].strip())
                    self.reply("250 OK")
            elif verb == "DATA":
                if not recipients:
                    self.reply("503 no recipients")
                    continue
                self.reply("354 end with .")
                lines = []
                while True:
                    data = self.rfile.readline(1 << 20)
                    if not data or data in (b".\r\n", b".\n"):
                        break
                    lines.append(data[1:] if data.startswith(b"..") else data)
                if self.server.data_reply:
                    self.refused("DATA", self.server.data_reply)
                    continue
                n = len([f for f in os.listdir(self.server.out) if f.endswith(".eml")]) + 1
                with open(os.path.join(self.server.out, f"{n}.eml"), "wb") as f:
                    f.write(b"".join(lines))
                with open(os.path.join(self.server.out, f"{n}.json"), "w") as f:
                    json.dump({"from": sender, "to": recipients}, f)
                time.sleep(self.server.data_delay)
                self.reply("250 queued")
            elif verb == "RSET":
                sender, recipients = None, []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--greeting", type=int)
    parser.add_argument("--refuse", action="append", default=[])
    parser.add_argument("--data-reply", type=int)
    parser.add_argument("--data-delay", type=float, default=0.0)
    parser.add_argument("--auth")
    parser.add_argument("--auth-reply", type=int)
    parser.add_argument("--mail-reply", type=int)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    server = Server(("127.0.0.1", args.port), Handler)
    server.greeting = args.greeting
    server.auth = tuple(args.auth.split(":", 1)) if args.auth else None
    server.auth_reply, server.mail_reply = args.auth_reply, args.mail_reply
    server.out, server.data_reply, server.data_delay = args.out, args.data_reply, args.data_delay
    server.refuse = {a: int(c) for a, c in (r.rsplit("=", 1) for r in args.refuse)}
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
