#!/usr/bin/env python3
"""An independent AS4 peer for as4gw's live interop tests, built on the PyPI package `as4` (Peppol profile).

Run with the interpreter of `.venv-as4/` (created by scripts/deps). Modes:

  sbd --out FILE --sender P --recipient P
      writes a small UBL invoice wrapped in a Peppol SBDH (what `as4`'s receiver insists on, so
      what as4gw must send it).
  send --url URL --cacert CA --sign-key K --sign-cert C --recipient-cert RC --receipt-signer SC
       --from ID --to ID FILE
      FILE is an XML business document; `as4` wraps it in the SBDH itself and
      builds a signed, gzip-compressed, encrypted One-Way/Push message, POSTs it over
      HTTPS checked against CA, verifies the signed receipt against SC with `as4` and prints
      {"status", "messageId", "receiptValid", "reason"} as JSON.
  serve --port P --cert TLS.pem --key TLS.key --sign-key K --sign-cert C --decrypt-key EK
        --sender-cert SC --out FILE
      an HTTPS server on 127.0.0.1 answering each POST with `as4`'s receiving side: the sender's
      signature checked against SC (pinned), the payload decrypted with EK and decompressed, and a
      receipt (or error signal) signed with K. What was received is appended to FILE as JSON lines.

Signing and decryption keys stay separate, as in as4gw's development PKI: `as4` holds one
private key per party, so a small key object signs with one key and decrypts with the other.
"""

import argparse
import hashlib
import http.server
import json
import ssl
import sys
import threading

import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import as4
from as4.core.common import AS4PrivateKey
from as4.models.unece import sbdh
from as4.peppol import (
    BusdoxDocidQnsDocumentIdentifier,
    PeppolAS4MessageBuilderArgs,
    PeppolAS4Profile,
    build_peppol_message,
    create_peppol_external_party,
    create_peppol_internal_party,
    parse_peppol_message,
    parse_peppol_receipt,
)

DOCUMENT_TYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
INVOICE = (
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
    b'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
    b"<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    b"</cbc:CustomizationID><cbc:ID>INV-42</cbc:ID><cbc:IssueDate>2026-01-01</cbc:IssueDate></Invoice>"
)


class SplitKey(AS4PrivateKey):
    """Signs with the signing key, decrypts with the encryption key."""

    def __init__(self, signing, decrypting=None):
        self.signing = signing
        self.decrypting = decrypting or signing

    def sign(self, data, padding, algorithm):
        return self.signing.sign(data, padding, algorithm)

    def decrypt(self, ciphertext, padding):
        return self.decrypting.decrypt(ciphertext, padding)


def load_certificate(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def make_sbd(sender, recipient):
    """The SBD `as4` itself would wrap around INVOICE when sending."""
    args = PeppolAS4MessageBuilderArgs(
        sender=sender,
        recipient=recipient,
        document_type_identifier=BusdoxDocidQnsDocumentIdentifier.from_identifier_value(DOCUMENT_TYPE),
        document_identification_instance_identifier="as4gw-interop-1",
        process_identifier=PROCESS,
        c1_country_id="BE",
    )
    from as4.profiles.peppol.message import PeppolAS4Message
    from lxml import etree

    sbd = PeppolAS4Message.get_standard_business_document(args, as4.AS4References())
    element = sbd.dump_to_xml(
        "{http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader}StandardBusinessDocument"
    )
    element.append(etree.fromstring(INVOICE))
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


def cmd_sbd(a):
    with open(a.out, "wb") as f:
        f.write(make_sbd(a.sender, a.recipient))


def cmd_send(a):
    with open(a.file, "rb") as f:
        payload = f.read()
    local = create_peppol_internal_party(
        party_id=a.from_id, certificate=load_certificate(a.sign_cert), private_key=SplitKey(load_key(a.sign_key))
    )
    remote = create_peppol_external_party(party_id=a.to_id, certificate=load_certificate(a.recipient_cert))
    message = build_peppol_message(
        payload,
        local_party=local,
        remote_party=remote,
        sender=a.sender,
        recipient=a.recipient,
        sender_country_id="BE",
        document_type_identifier_scheme="busdox-docid-qns",
        document_type_identifier_value=DOCUMENT_TYPE,
        process_identifier=PROCESS,
    )
    body, boundary = message.get_request_data()
    headers = message.get_http_headers(boundary)
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=a.cacert)
    response = pool.request("POST", a.url, body=body, headers=headers, retries=False, timeout=30)
    result = {
        "status": response.status,
        "messageId": message.message_id,
        # The SBD as `as4` built it, before compression: what the receiver must deliver.
        "payloadSha256": [hashlib.sha256(p).hexdigest() for p in message.decrypted_data.values()],
        "receiptValid": False,
        "reason": None,
    }
    try:
        receipt = parse_peppol_receipt(response.data, load_certificate(a.receipt_signer))
        if receipt.original_message_id != message.message_id:
            raise as4.ReceiptVerificationError(f"receipt refers to {receipt.original_message_id!r}")
        if receipt.error is not None:
            raise as4.ReceiptVerificationError(
                f"error signal {receipt.error.error_code}: {receipt.error.short_description}"
            )
        receipt.verify_non_repudiation(message.signed_references)
        result["receiptValid"] = True
    except Exception as exception:  # reported, not raised: the test reads the reason
        result["reason"] = f"{type(exception).__name__}: {exception}"
        result["response"] = response.data[:4000].decode("utf-8", "replace")
    print(json.dumps(result))
    return 0 if result["receiptValid"] else 1


def cmd_serve(a):
    local = create_peppol_internal_party(
        party_id=a.party_id,
        certificate=load_certificate(a.sign_cert),
        private_key=SplitKey(load_key(a.sign_key), load_key(a.decrypt_key)),
    )
    policy = as4.SecurityPolicy(signer_resolver=as4.pinned_certificates(load_certificate(a.sender_cert)))
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {"Content-Type": self.headers.get("Content-Type", "")}
            exchange = parse_peppol_message(headers, body, local_party=local, security_policy=policy)
            message = exchange.message
            record = {
                "messageId": exchange.message_id,
                "successful": exchange.successful,
                "error": None,
                "payloadSha256": [],
            }
            if message is not None and message.parse_error is not None:
                error = message.parse_error
                record["error"] = f"{error.error_code} {error.short_description}: {error.detail}"
            if message is not None:
                record["payloadSha256"] = [hashlib.sha256(p).hexdigest() for p in message.decrypted_data.values()]
                record["from"] = exchange.remote_party.identity.party_id if exchange.remote_party else None
                record["sender"] = message.sender
                record["recipient"] = message.recipient
            signal_headers, signal = exchange.build_signal()
            with lock, open(a.out, "a") as f:
                f.write(json.dumps(record) + "\n")
            self.send_response(200)
            for name, value in signal_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(signal)))
            self.end_headers()
            self.wfile.write(signal)

        def log_message(self, fmt, *args):
            sys.stderr.write("peer: " + fmt % args + "\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    if a.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(a.cert, a.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {a.port}", flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("sbd")
    p.add_argument("--out", required=True)
    p.add_argument("--sender", default="0088:5400000000001")
    p.add_argument("--recipient", default="0088:5400000000002")
    p = sub.add_parser("send")
    for name in ("url", "cacert", "sign-key", "sign-cert", "recipient-cert", "receipt-signer"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--from", dest="from_id", required=True)
    p.add_argument("--to", dest="to_id", required=True)
    p.add_argument("--sender", default="0088:5400000000001")
    p.add_argument("--recipient", default="0088:5400000000002")
    p.add_argument("file")
    p = sub.add_parser("serve")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    for name in ("sign-key", "sign-cert", "decrypt-key", "sender-cert", "out"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--party-id", default="peer")
    a = parser.parse_args()
    return {"sbd": cmd_sbd, "send": cmd_send, "serve": cmd_serve}[a.mode](a) or 0


if __name__ == "__main__":
    sys.exit(main())
