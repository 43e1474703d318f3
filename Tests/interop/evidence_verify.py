#!/usr/bin/env python3
"""evidence_verify: an independent second opinion on an as4gw evidence bundle's seal.

    evidence_verify.py BUNDLE.xml CA.pem

Uses only lxml (exclusive C14N) and cryptography, and shares no code with the gateway. Checks
the shape (root ev:EvidenceBundle holding ev:Content and ds:Signature), the SHA-256 digest of
the canonical ev:Content, the SignatureValue over the canonical ds:SignedInfo with the embedded
certificate, and that the certificate was issued by CA.pem. Exit status 0 valid, 1 not valid
(reason on stdout), 2 usage.
"""

import base64
import hashlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, ed25519
from lxml import etree

EV = "urn:as4gw:evidence:1"
DS = "http://www.w3.org/2000/09/xmldsig#"
METHODS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256()),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384()),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512()),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256()),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", hashes.SHA384()),
    "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519": ("ed25519", None),
}


def fail(reason):
    print("invalid: " + reason)
    sys.exit(1)


def raw_ecdsa_to_der(raw):
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    root = etree.parse(sys.argv[1], etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    if root.tag != "{%s}EvidenceBundle" % EV:
        fail("root is not ev:EvidenceBundle")
    children = [c for c in root if isinstance(c.tag, str)]
    if len(children) != 2 or children[0].tag != "{%s}Content" % EV or children[1].tag != "{%s}Signature" % DS:
        fail("expected ev:Content then ds:Signature")
    content, signature = children
    signed_info = signature.find("{%s}SignedInfo" % DS)
    references = signed_info.findall("{%s}Reference" % DS)
    if len(references) != 1 or references[0].get("URI") != "#" + (content.get("Id") or ""):
        fail("the one reference must name ev:Content's Id")
    digest = hashlib.sha256(etree.tostring(content, method="c14n", exclusive=True)).digest()
    if base64.b64decode(references[0].findtext("{%s}DigestValue" % DS)) != digest:
        fail("content digest mismatch")
    certificate = x509.load_der_x509_certificate(base64.b64decode(
        signature.findtext("{%s}KeyInfo/{%s}X509Data/{%s}X509Certificate" % (DS, DS, DS))))
    kind, digest_algorithm = METHODS[signed_info.find("{%s}SignatureMethod" % DS).get("Algorithm")]
    value = base64.b64decode(signature.findtext("{%s}SignatureValue" % DS))
    data = etree.tostring(signed_info, method="c14n", exclusive=True)
    key = certificate.public_key()
    try:
        if kind == "rsa":
            key.verify(value, data, padding.PKCS1v15(), digest_algorithm)
        elif kind == "ec":
            key.verify(raw_ecdsa_to_der(value), data, ec.ECDSA(digest_algorithm))
        else:
            key.verify(value, data)
    except Exception as error:  # cryptography raises InvalidSignature
        fail("signature value: %r" % error)
    with open(sys.argv[2], "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    try:
        certificate.verify_directly_issued_by(ca)
    except Exception as error:
        fail("not issued by the CA: %r" % error)
    print("valid: sealed by " + certificate.subject.rfc4514_string())


if __name__ == "__main__":
    main()
