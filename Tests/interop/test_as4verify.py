"""Tests for as4verify.py: shared interop vectors, xmlsec agreement, and messages sealed here.

Run:  python3 -m unittest discover -s Tests/interop -p 'test_*.py'
 or:  python3 Tests/interop/test_as4verify.py
Either way the last line printed is "N passed, M failed".
"""

import atexit
import base64
import datetime
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID
from lxml import etree

HERE = Path(__file__).resolve().parent
VERIFIER = HERE / "as4verify.py"
VECTORS = HERE.parents[1].parent / "shared" / "interop" / "vectors"
sys.path.insert(0, str(HERE))
import as4verify  # noqa: E402  (unit tests of the parsing helpers)

S12 = "http://www.w3.org/2003/05/soap-envelope"
EB = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
WSSE = as4verify.WSSE
WSU = as4verify.WSU
DS = as4verify.DS
XENC = as4verify.XENC
XENC11 = as4verify.XENC11
DSIG11 = as4verify.DSIG11
MORE21 = as4verify.DSIG_MORE21
EC14N = as4verify.EC14N
SWA = as4verify.SWA
NSMAP = {"env": S12, "eb": EB, "wsse": WSSE, "wsu": WSU, "ds": DS, "xenc": XENC,
         "xenc11": XENC11, "dsig11": DSIG11, "dsig-more": MORE21, "ec": EC14N}
SHA256_URI = "http://www.w3.org/2001/04/xmlenc#sha256"


def run(*args):
    """Runs the verifier CLI -> (exit status, parsed JSON)."""
    p = subprocess.run([sys.executable, str(VERIFIER)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=120)
    try:
        return p.returncode, json.loads(p.stdout)
    except json.JSONDecodeError:
        raise AssertionError("no JSON on stdout (status %d): %s" % (p.returncode, p.stderr[-2000:]))


def vector(path):
    return VECTORS / path


# ------------------------------------------------------------------ shared interop vectors

class SharedVectorTests(unittest.TestCase):
    def test_holodeck_signed_mime_all_references(self):
        rc, out = run(vector("as4net/signed-mime/signed_holodeck_message.as4"),
                      "--cert", vector("as4net/keys/AccessPointB.cert.pem"))
        self.assertEqual((rc, out["valid"], out["reason"]), (0, True, None))
        self.assertTrue(out["signatureMethod"].endswith("#rsa-sha384"))
        self.assertEqual(out["signer"], "CN=AccessPointB")
        self.assertEqual(len(out["references"]), 4)
        self.assertTrue(all(r["ok"] for r in out["references"]))
        self.assertEqual(sum(r["uri"].startswith("cid:") for r in out["references"]), 2)
        self.assertIsNone(out["xmlsec"])  # cid: references are beyond xmlsec
        self.assertEqual([(p["mimeType"], p["compressed"], p["decrypted"]) for p in out["parts"]],
                         [("image/jpeg", True, False), ("application/xml", True, False)])

    def test_holodeck_payloads_written_to_out(self):
        with tempfile.TemporaryDirectory() as tmp:
            rc, out = run(vector("as4net/signed-mime/signed_holodeck_message.as4"),
                          "--cert", vector("as4net/keys/AccessPointB.cert.pem"), "--out", tmp)
            self.assertEqual(rc, 0)
            for part in out["parts"]:
                data = (Path(tmp) / part["contentId"]).read_bytes()
                self.assertEqual((len(data), hashlib.sha256(data).hexdigest()),
                                 (part["size"], part["sha256"]))
            xml_part = next(p for p in out["parts"] if p["mimeType"] == "application/xml")
            etree.fromstring((Path(tmp) / xml_part["contentId"]).read_bytes())
            jpeg = next(p for p in out["parts"] if p["mimeType"] == "image/jpeg")
            self.assertTrue((Path(tmp) / jpeg["contentId"]).read_bytes().startswith(b"\xff\xd8"))

    def test_encrypted_issuer_serial_valid_after_decryption(self):
        rc, out = run(vector("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4"),
                      "--cert", vector("as4net/keys/AccessPointA.cert.pem"),
                      "--decrypt-key", vector("as4net/keys/AccessPointB.key.pem"))
        self.assertEqual((rc, out["valid"], out["reason"]), (0, True, None))
        self.assertEqual(out["signer"], "CN=AccessPointA")
        self.assertTrue(all(r["ok"] for r in out["references"]) and len(out["references"]) == 4)
        self.assertTrue(all(p["decrypted"] and p["compressed"] and p["error"] is None
                            for p in out["parts"]))
        # Same payloads as the Holodeck message (same test images, sealed differently).
        rc2, plain = run(vector("as4net/signed-mime/signed_holodeck_message.as4"),
                         "--cert", vector("as4net/keys/AccessPointB.cert.pem"))
        self.assertEqual(sorted(p["sha256"] for p in out["parts"]),
                         sorted(p["sha256"] for p in plain["parts"]))

    def test_encrypted_without_key_is_not_valid(self):
        rc, out = run(vector("as4net/signed-encrypted-mime/as4-encrypted-signed-issuerserial.as4"),
                      "--cert", vector("as4net/keys/AccessPointA.cert.pem"))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertIn("no --decrypt-key", out["reason"])

    def test_governikus_receipt_with_http_headers(self):
        rc, out = run(vector("phase4/signed-receipt/governikus.as4in"))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (0, True, True))
        self.assertIn("CN=POP000260", out["signer"])
        self.assertEqual(len(out["references"]), 2)
        self.assertIsNone(out["trusted"])

    def test_governikus_trust(self):
        rc, out = run(vector("phase4/signed-receipt/governikus.as4in"),
                      "--trust", vector("phase4/keys/peppol-expired-ap-cert.chain.pem"))
        self.assertEqual((rc, out["valid"], out["trusted"]), (0, True, True))
        rc, out = run(vector("phase4/signed-receipt/governikus.as4in"),
                      "--trust", vector("as4net/keys/AccessPointA.cert.pem"))
        self.assertEqual((rc, out["valid"], out["trusted"]), (1, False, False))
        self.assertEqual(out["xmlsec"], True)  # the signature itself is fine

    def test_as4net_signed_user_message(self):
        rc, out = run(vector("as4net/signed-usermessage/as4-soap-signed-message.txt"))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (0, True, True))

    def test_untrusted_signed_message_fails(self):
        rc, out = run(vector("as4net/tampered/as4-soap-untrusted-signed-message.txt"))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (1, False, False))
        self.assertTrue(all(r["ok"] for r in out["references"]))
        self.assertIn("SignatureValue", out["reason"])

    def test_wrong_signing_algorithm_fails(self):
        rc, out = run(vector("phase4/tampered/WrongSigningAlgorithm.xml"))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (1, False, False))
        self.assertEqual(out["signatureMethod"], "http://www.randomcrypt.com/random")
        self.assertIn("unsupported SignatureMethod", out["reason"])

    def test_missing_reference_target_fails(self):
        rc, out = run(vector("as4net/tampered/as4-soap-wrong-signed-message.txt"))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertEqual([r["ok"] for r in out["references"]], [True, False])


# ------------------------------------------------------------------ command line contract

class CommandLineTests(unittest.TestCase):
    FIELDS = {"valid", "reason", "signatureMethod", "references", "xmlsec", "signer", "trusted", "parts"}

    def test_usage_errors_exit_2_with_json(self):
        rc, out = run()
        self.assertEqual((rc, out["valid"]), (2, False))
        rc, out = run("/nonexistent/message.xml")
        self.assertEqual(rc, 2)
        rc, out = run(vector("as4net/signed-usermessage/as4-soap-signed-message.txt"), "--trust", "/nonexistent.pem")
        self.assertEqual(rc, 2)

    def test_unsigned_message_is_not_valid(self):
        rc, out = run(vector("phase4/usermessage-unsigned/UserMessage12.xml"))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertEqual(set(out), self.FIELDS)
        self.assertIn("found 0", out["reason"])

    def test_output_fields(self):
        rc, out = run(vector("as4net/signed-usermessage/as4-soap-signed-message.txt"))
        self.assertEqual(set(out), self.FIELDS)
        self.assertEqual(set(out["references"][0]), {"uri", "ok", "error"})


# ------------------------------------------------------------------ MIME and input parsing

class InputParsingTests(unittest.TestCase):
    def test_http_response_dump_with_status_line(self):
        msg = b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n\r\n\xef\xbb\xbf<a/>"
        self.assertEqual(as4verify.read_message(msg), (b"<a/>", []))

    def test_bare_multipart_lf_bom_and_leading_blank_line(self):
        msg = (b"\xef\xbb\xbf\n--b1\nContent-Type: application/soap+xml\n\n<a/>\n"
               b"--b1\nContent-Type: text/plain\nContent-ID: <p@x>\n\nline\r\n\n--b1--\n")
        root, parts = as4verify.read_message(msg)
        self.assertEqual(root, b"<a/>")
        self.assertEqual((parts[0].content_id, parts[0].body), ("p@x", b"line\r\n"))

    def test_start_parameter_folded_header_and_base64(self):
        msg = (b"MIME-Version: 1.0\r\nContent-Type: multipart/related;\r\n\tboundary=\"=_b 2\";\r\n"
               b"  start=\"<root@x>\"; type=\"application/soap+xml\"\r\n\r\n"
               b"--=_b 2\r\nContent-ID: <att@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               + base64.b64encode(b"\x00\x01binary") + b"\r\n"
               b"--=_b 2\r\nContent-ID: <root@x>\r\n\r\n<r/>\r\n--=_b 2--")
        root, parts = as4verify.read_message(msg)
        self.assertEqual(root, b"<r/>")
        self.assertEqual([(p.content_id, p.body) for p in parts], [("att@x", b"\x00\x01binary")])

    def test_content_type_option_for_headerless_body(self):
        body = b"--zz\r\n\r\n<r/>\r\n--zz--\r\n"
        root, parts = as4verify.read_message(body, "multipart/related; boundary=zz")
        self.assertEqual((root, parts), (b"<r/>", []))

    def test_truncated_multipart_is_refused(self):
        with self.assertRaises(as4verify.VerifyError):
            as4verify.read_message(b"--zz\r\n\r\n<r/>\r\n")

    def test_duplicate_content_id_is_refused(self):
        msg = (b"--b\r\n\r\n<r/>\r\n--b\r\nContent-ID: <a@x>\r\n\r\n1\r\n"
               b"--b\r\nContent-ID: <a@x>\r\n\r\n2\r\n--b--\r\n")
        self.assertEqual(as4verify.verify(msg)["reason"], "two MIME parts share a Content-ID")

    def test_cid_percent_decoding(self):
        self.assertEqual(as4verify.cid_key("cid:a%40b%2Fc"), as4verify.cid_key("a@b/c"))

    def test_dtd_is_refused(self):
        with self.assertRaises(as4verify.VerifyError):
            as4verify.parse_xml(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>')


# ------------------------------------------------------------------ exclusive C14N vs xmlsec

def self_signed(key, cn, ca=False, issuer=None, issuer_key=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.subject if issuer else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True))
    signing_key = issuer_key or key
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signing_key, algorithm)


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TempFiles(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.addCleanup(self._tmp.cleanup)

    def write(self, name, data):
        path = self.tmp / name
        path.write_bytes(data)
        return path


XMLSEC_ENVELOPE = b"""<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
  xmlns="urn:example:default" xmlns:x="urn:example:x" xmlns:y="urn:example:y"><env:Header>
  <wsse:Security xmlns:wsse="%s" xmlns:wsu="%s" env:mustUnderstand="true"/>
  <eb:Messaging xmlns:eb="%s" xmlns:wsu="%s" wsu:Id="_msg" env:mustUnderstand="true">
    <eb:UserMessage><eb:MessageInfo><eb:MessageId>m-1@test</eb:MessageId></eb:MessageInfo>
    </eb:UserMessage></eb:Messaging></env:Header>
  <env:Body xmlns:wsu="%s" wsu:Id="_body"/></env:Envelope>""" % (
    WSSE.encode(), WSU.encode(), EB.encode(), WSU.encode(), WSU.encode())


class XmlsecAgreementTests(TempFiles):
    """xmlsec signs same-document references with InclusiveNamespaces naming prefixes that are
    declared only on ancestors (incl. #default); as4verify must agree with xmlsec."""

    def sign_with_xmlsec(self, envelope, prefixes="#default env x"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed(key, "xmlsec signer")
        root = etree.fromstring(envelope)
        security = root.find(".//{%s}Security" % WSSE)
        sig = xmlsec.template.create(root, xmlsec.constants.TransformExclC14N,
                                     xmlsec.constants.TransformRsaSha256, ns="ds")
        security.append(sig)
        c14n = sig.find("{%s}SignedInfo/{%s}CanonicalizationMethod" % (DS, DS))
        transforms = []
        for uri in ("#_msg", "#_body"):
            ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha256, uri=uri)
            transforms.append(xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N))
        for parent in [c14n] + transforms if prefixes else []:
            etree.SubElement(parent, "{%s}InclusiveNamespaces" % EC14N, PrefixList=prefixes)
        xmlsec.tree.add_ids(root, ["Id"])
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(pem(key), xmlsec.constants.KeyDataFormatPem)
        ctx.sign(sig)
        bst = etree.Element("{%s}BinarySecurityToken" % WSSE, nsmap={"wsse": WSSE, "wsu": WSU},
                            ValueType=as4verify.X509_PROFILE + "X509v3")
        bst.set("{%s}Id" % WSU, "X509-1")
        bst.text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        security.insert(0, bst)
        ki = etree.SubElement(sig, "{%s}KeyInfo" % DS)
        etree.SubElement(etree.SubElement(ki, "{%s}SecurityTokenReference" % WSSE),
                         "{%s}Reference" % WSSE, URI="#X509-1")
        return etree.tostring(root)

    def test_xmlsec_signed_prefix_lists_verify(self):
        signed = self.sign_with_xmlsec(XMLSEC_ENVELOPE)
        rc, out = run(self.write("m.xml", signed))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (0, True, True), out["reason"])

    def test_ancestor_namespace_in_prefix_list_is_covered(self):
        signed = self.sign_with_xmlsec(XMLSEC_ENVELOPE)
        for old, new in ((b'xmlns:x="urn:example:x"', b'xmlns:x="urn:example:X"'),
                         (b'xmlns="urn:example:default"', b'xmlns="urn:example:other"')):
            rc, out = run(self.write("m.xml", signed.replace(old, new, 1)))
            self.assertEqual((rc, out["valid"], out["xmlsec"]), (1, False, False), new)
            self.assertIn("digest mismatch", out["reason"])

    def test_ancestor_namespace_outside_prefix_list_is_not_covered(self):
        signed = self.sign_with_xmlsec(XMLSEC_ENVELOPE)
        tampered = signed.replace(b'xmlns:y="urn:example:y"', b'xmlns:y="urn:example:Y"', 1)
        rc, out = run(self.write("m.xml", tampered))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (0, True, True))

    def test_without_prefix_list(self):
        signed = self.sign_with_xmlsec(XMLSEC_ENVELOPE, prefixes="")
        rc, out = run(self.write("m.xml", signed))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (0, True, True), out["reason"])

    def test_default_prefix_rendered_on_apex(self):
        root = as4verify.parse_xml(b'<r xmlns="urn:d" xmlns:a="urn:a"><a:m><a:c/></a:m></r>').getroot()
        self.assertEqual(as4verify.exc_c14n(root[0], ["#default"]),
                         b'<a:m xmlns="urn:d" xmlns:a="urn:a"><a:c></a:c></a:m>')
        self.assertEqual(as4verify.exc_c14n(root[0]), b'<a:m xmlns:a="urn:a"><a:c></a:c></a:m>')

    def test_namespace_uri_escaped_like_an_attribute_value(self):
        # libxml2 writes the URI raw (xmlns="urn:d&e"); Canonical XML escapes it like an
        # attribute value. Values that only look like declarations, and PIs, stay as they are.
        root = as4verify.parse_xml(b'<r xmlns="urn:d&#38;e" xmlns:x="urn:x?a=1&amp;b=2"><?pi a<b xmlns:y="a&b"?>'
                                   b'<x:c v="1 xmlns:z=\'&amp;\' &gt;">t xmlns:q="&amp;"</x:c></r>').getroot()
        self.assertEqual(as4verify.exc_c14n(root),
                         b'<r xmlns="urn:d&amp;e"><?pi a<b xmlns:y="a&b"?>'
                         b'<x:c xmlns:x="urn:x?a=1&amp;b=2" v="1 xmlns:z=\'&amp;\' >">t xmlns:q="&amp;"</x:c></r>')
        self.assertEqual(as4verify.exc_c14n(root[1], ["#default"]),
                         b'<x:c xmlns="urn:d&amp;e" xmlns:x="urn:x?a=1&amp;b=2" v="1 xmlns:z=\'&amp;\' >">t xmlns:q="&amp;"</x:c>')

    def test_duplicate_id_is_refused(self):
        signed = self.sign_with_xmlsec(XMLSEC_ENVELOPE)
        wrapped = signed.replace(b"<env:Body ", b'<x:Decoy xmlns:wsu="%s" wsu:Id="_msg"/><env:Body ' % WSU.encode())
        rc, out = run(self.write("m.xml", wrapped))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertIn("occurs on 2 elements", out["reason"])


# ------------------------------------------------------------------ messages sealed here

class Sealer:
    """A small, test-only AS4 sealer: compress -> sign -> encrypt, as AS4-WIRE §3-4 describe."""

    def __init__(self, sign_key, token_certs, method):
        self.sign_key, self.token_certs, self.method = sign_key, token_certs, method

    @staticmethod
    def el(parent, tag, text=None, **attrs):
        prefix, name = tag.split(":")
        uri = NSMAP[prefix]
        nsmap = None if parent.nsmap.get(prefix) == uri else {prefix: uri}
        node = etree.SubElement(parent, "{%s}%s" % (uri, name), attrs, nsmap=nsmap)
        node.text = text
        return node

    def seal(self, payloads, encrypt=None, key_length=None):
        """payloads: [(cid, mime, data, compress)]; encrypt: None or (kind, recipient public key)."""
        env = etree.Element("{%s}Envelope" % S12, nsmap={"env": S12})
        header = self.el(env, "env:Header")
        security = self.el(header, "wsse:Security")
        security.set("{%s}mustUnderstand" % S12, "true")
        messaging = etree.SubElement(header, "{%s}Messaging" % EB, nsmap={"eb": EB, "wsu": WSU})
        messaging.set("{%s}Id" % WSU, "_msg")
        um = self.el(messaging, "eb:UserMessage")
        self.el(self.el(um, "eb:MessageInfo"), "eb:MessageId", "m-1@sealer.test")
        info = self.el(um, "eb:PayloadInfo")
        body = etree.SubElement(env, "{%s}Body" % S12, nsmap={"wsu": WSU})
        body.set("{%s}Id" % WSU, "_body")
        wire = []
        for cid, mime, data, compress in payloads:
            props = self.el(self.el(info, "eb:PartInfo", href="cid:" + cid), "eb:PartProperties")
            self.el(props, "eb:Property", mime, name="MimeType")
            if compress:
                self.el(props, "eb:Property", "application/gzip", name="CompressionType")
                data, mime = gzip.compress(data), "application/gzip"
            wire.append([cid, mime, data])
        # Re-parse before signing: lxml's c14n ignores PrefixList entries that are not in the
        # parser's name dictionary, which prefixes of an API-built tree are not.
        env = etree.fromstring(etree.tostring(env))
        security = env.find(".//{%s}Security" % WSSE)
        self.sign(security, wire)
        if encrypt:
            self.encrypt(security, wire, *encrypt, key_length=key_length)
        return self.mime(env, wire)

    def sign(self, security, wire):
        bst = self.el(security, "wsse:BinarySecurityToken",
                      ValueType=as4verify.X509_PROFILE + ("X509PKIPathv1" if len(self.token_certs) > 1 else "X509v3"))
        bst.set("{%s}Id" % WSU, "X509-1")
        ders = [c.public_bytes(serialization.Encoding.DER) for c in self.token_certs]
        token = ders[0] if len(ders) == 1 else der_sequence(ders)
        bst.text = base64.b64encode(token).decode()
        sig = self.el(security, "ds:Signature")
        si = self.el(sig, "ds:SignedInfo")
        c14n = self.el(si, "ds:CanonicalizationMethod", Algorithm=EC14N)
        self.el(c14n, "ec:InclusiveNamespaces", PrefixList="env")
        self.el(si, "ds:SignatureMethod", Algorithm=self.method)
        doc = security.getroottree()
        for uri, octets in ([("#_msg", None), ("#_body", None)] +
                            [("cid:" + cid, attachment_octets(mime, data)) for cid, mime, data in wire]):
            ref = self.el(si, "ds:Reference", URI=uri)
            t = self.el(self.el(ref, "ds:Transforms"), "ds:Transform",
                        Algorithm=EC14N if octets is None else SWA + "Attachment-Content-Signature-Transform")
            if octets is None:
                self.el(t, "ec:InclusiveNamespaces", PrefixList="env")
                target = doc.xpath("//*[@wsu:Id=$i]", namespaces=NSMAP, i=uri[1:])[0]
                octets = etree.tostring(target, method="c14n", exclusive=True, inclusive_ns_prefixes=["env"])
            self.el(ref, "ds:DigestMethod", Algorithm=SHA256_URI)
            self.el(ref, "ds:DigestValue", base64.b64encode(hashlib.sha256(octets).digest()).decode())
        signed = etree.tostring(si, method="c14n", exclusive=True, inclusive_ns_prefixes=["env"])
        key = self.sign_key
        if isinstance(key, rsa.RSAPrivateKey):
            value = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            r, s = utils.decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
            size = (key.curve.key_size + 7) // 8
            value = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        else:
            value = key.sign(signed)
        self.el(sig, "ds:SignatureValue", base64.b64encode(value).decode())
        ref = self.el(self.el(self.el(sig, "ds:KeyInfo"), "wsse:SecurityTokenReference"), "wsse:Reference", URI="#X509-1")
        ref.set("ValueType", bst.get("ValueType"))

    def encrypt(self, security, wire, kind, recipient, key_length=None):
        cek = os.urandom(16)
        ek = etree.Element("{%s}EncryptedKey" % XENC, Id="EK-1", nsmap={"xenc": XENC})
        method = self.el(ek, "xenc:EncryptionMethod")
        if kind == "rsa-oaep":
            method.set("Algorithm", XENC11 + "rsa-oaep")
            self.el(method, "ds:DigestMethod", Algorithm=SHA256_URI)
            self.el(method, "xenc11:MGF", Algorithm=XENC11 + "mgf1sha256")
            wrapped = recipient.encrypt(cek, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
        else:
            method.set("Algorithm", XENC + "kw-aes128")
            am = self.el(self.el(ek, "ds:KeyInfo"), "xenc:AgreementMethod")
            params = self.el(self.el(am, "xenc11:KeyDerivationMethod", Algorithm=MORE21 + "hkdf"), "dsig-more:HKDFParams")
            salt, info = os.urandom(32), b"as4verify test"
            self.el(params, "dsig-more:PRF", Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256")
            self.el(params, "dsig-more:Salt", base64.b64encode(salt).decode())
            self.el(params, "dsig-more:Info", base64.b64encode(info).decode())
            self.el(params, "dsig-more:KeyLength", str(key_length or 16))
            originator = self.el(am, "xenc:OriginatorKeyInfo")
            if kind == "x25519":
                am.set("Algorithm", MORE21 + "x25519")
                ephemeral = x25519.X25519PrivateKey.generate()
                spki = ephemeral.public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
                self.el(originator, "dsig11:DEREncodedKeyValue", base64.b64encode(spki).decode())
                shared = ephemeral.exchange(recipient)
            else:
                am.set("Algorithm", XENC11 + "ECDH-ES")
                ephemeral = ec.generate_private_key(ec.SECP256R1())
                point = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                                            serialization.PublicFormat.UncompressedPoint)
                kv = self.el(self.el(originator, "ds:KeyValue"), "dsig11:ECKeyValue")
                self.el(kv, "dsig11:NamedCurve", URI="urn:oid:1.2.840.10045.3.1.7")
                self.el(kv, "dsig11:PublicKey", base64.b64encode(point).decode())
                shared = ephemeral.exchange(ec.ECDH(), recipient)
            self.el(am, "xenc:RecipientKeyInfo")
            kek = HKDF(hashes.SHA256(), 16, salt, info).derive(shared)
            wrapped = keywrap.aes_key_wrap(kek, cek)
        self.el(self.el(ek, "xenc:CipherData"), "xenc:CipherValue", base64.b64encode(wrapped).decode())
        refs = self.el(ek, "xenc:ReferenceList")
        for n, item in enumerate(wire, 1):
            cid, mime, data = item
            self.el(refs, "xenc:DataReference", URI="#ED-%d" % n)
            ed = etree.Element("{%s}EncryptedData" % XENC, Id="ED-%d" % n, MimeType=mime,
                               Type=SWA + "Attachment-Content-Only", nsmap={"xenc": XENC})
            self.el(ed, "xenc:EncryptionMethod", Algorithm=XENC11 + "aes128-gcm")
            str_el = self.el(self.el(ed, "ds:KeyInfo"), "wsse:SecurityTokenReference")
            self.el(str_el, "wsse:Reference", URI="#EK-1")
            cref = self.el(self.el(ed, "xenc:CipherData"), "xenc:CipherReference", URI="cid:" + cid)
            self.el(self.el(cref, "xenc:Transforms"), "ds:Transform", Algorithm=SWA + "Attachment-Ciphertext-Transform")
            security.insert(0, ed)
            iv = os.urandom(12)
            item[1:] = ["application/octet-stream", iv + AESGCM(cek).encrypt(iv, data, None)]
        security.insert(0, ek)

    @staticmethod
    def mime(env, wire):
        out = [b"Content-Type: multipart/related; type=\"application/soap+xml\"; boundary=\"b-1\"; "
               b"start=\"<root@sealer.test>\"\r\n\r\n--b-1\r\nContent-Type: application/soap+xml; "
               b"charset=UTF-8\r\nContent-ID: <root@sealer.test>\r\n\r\n", etree.tostring(env)]
        for cid, mime, data in wire:
            out += [b"\r\n--b-1\r\nContent-Type: %s\r\nContent-Transfer-Encoding: binary\r\n"
                    b"Content-ID: <%s>\r\n\r\n" % (mime.encode(), cid.encode()), data]
        return b"".join(out + [b"\r\n--b-1--\r\n"])


def der_sequence(items):
    body = b"".join(items)
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x30" + length + body


def attachment_octets(mime, data):
    if mime.endswith("/xml"):
        return etree.tostring(etree.fromstring(data).getroottree(), method="c14n", exclusive=True)
    if mime.startswith("text/"):
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data


XML_PAYLOAD = b"""<?xml version="1.0"?>
<order xmlns="urn:example:order" z="2" a='1'>
  <line qty="3">Widgets &amp; gadgets</line><empty/>
</order>"""
PAYLOADS = [("invoice@sealer.test", "application/xml", XML_PAYLOAD, True),
            ("raw/xml@sealer.test", "application/xml", XML_PAYLOAD, False),
            ("notes@sealer.test", "text/plain", b"first line\nsecond line\n", False),
            ("blob@sealer.test", "application/octet-stream", os.urandom(5000), True)]


class SealedMessageTests(TempFiles):
    @classmethod
    def setUpClass(cls):
        cls.ca_key = ed25519.Ed25519PrivateKey.generate()
        cls.ca = self_signed(cls.ca_key, "Test CA", ca=True)
        cls.ed_key = ed25519.Ed25519PrivateKey.generate()
        cls.ed_cert = self_signed(cls.ed_key, "AP Ed25519", issuer=cls.ca, issuer_key=cls.ca_key)
        cls.x_key = x25519.X25519PrivateKey.generate()
        cls.ec_key = ec.generate_private_key(ec.SECP256R1())
        cls.ec_cert = self_signed(cls.ec_key, "AP ECDSA")
        cls.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.rsa_cert = self_signed(cls.rsa_key, "AP RSA")

    def edelivery2(self, **kw):
        sealer = Sealer(self.ed_key, [self.ca, self.ed_cert], as4verify.DSIG_MORE21 + "eddsa-ed25519")
        return sealer.seal(PAYLOADS, ("x25519", self.x_key.public_key()), **kw)

    def check_payloads(self, out, decrypted=True):
        self.assertEqual(len(out["parts"]), len(PAYLOADS))
        for part, (cid, mime, data, compress) in zip(out["parts"], PAYLOADS):
            self.assertEqual((part["contentId"], part["mimeType"], part["compressed"], part["decrypted"]),
                             (cid, mime, compress, decrypted))
            self.assertEqual(part["sha256"], hashlib.sha256(data).hexdigest())

    def test_edelivery2_x25519_ed25519_pkipath(self):
        msg = self.write("m.as4", self.edelivery2())
        key = self.write("x.key.pem", pem(self.x_key))
        trust = self.write("ca.pem", pem(self.ca))
        out_dir = self.tmp / "out"
        rc, out = run(msg, "--decrypt-key", key, "--trust", trust, "--out", out_dir)
        self.assertEqual((rc, out["valid"], out["trusted"], out["signer"]), (0, True, True, "CN=AP Ed25519"), out["reason"])
        self.assertEqual(len(out["references"]), 2 + len(PAYLOADS))
        self.check_payloads(out)
        self.assertEqual((out_dir / "raw_xml@sealer.test").read_bytes(), XML_PAYLOAD)
        self.assertEqual((out_dir / "invoice@sealer.test").read_bytes(), XML_PAYLOAD)

    def test_ecdh_es_and_ecdsa(self):
        sealer = Sealer(self.ec_key, [self.ec_cert], "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256")
        recipient = ec.generate_private_key(ec.SECP256R1())
        msg = self.write("m.as4", sealer.seal(PAYLOADS, ("ecdh-es", recipient.public_key())))
        rc, out = run(msg, "--decrypt-key", self.write("k.pem", pem(recipient)),
                      "--trust", self.write("t.pem", pem(self.ec_cert)))
        self.assertEqual((rc, out["valid"], out["trusted"]), (0, True, True), out["reason"])
        self.check_payloads(out)

    def test_rsa_oaep_and_rsa_sha256(self):
        sealer = Sealer(self.rsa_key, [self.rsa_cert], "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        recipient = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        msg = self.write("m.as4", sealer.seal(PAYLOADS, ("rsa-oaep", recipient.public_key())))
        rc, out = run(msg, "--decrypt-key", self.write("k.pem", pem(recipient)))
        self.assertEqual((rc, out["valid"]), (0, True), out["reason"])
        self.check_payloads(out)

    def test_signed_only_and_tampered_attachment(self):
        sealer = Sealer(self.rsa_key, [self.rsa_cert], "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        sealed = sealer.seal(PAYLOADS)
        rc, out = run(self.write("m.as4", sealed))
        self.assertEqual((rc, out["valid"], out["xmlsec"]), (0, True, None), out["reason"])
        self.check_payloads(out, decrypted=False)
        tampered = sealed.replace(b"second line", b"second lime")
        rc, out = run(self.write("m.as4", tampered))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertEqual(out["reason"], "reference cid:notes@sealer.test: digest mismatch")

    def test_signal_like_messages_cross_checked_by_xmlsec(self):
        """Without attachments xmlsec can judge too: it agrees for RSA and raw r||s ECDSA; its
        libxmlsec1 1.3.9 cannot load Ed25519 keys, which must give null, not a disagreement."""
        for key, cert, method, expected in (
                (self.rsa_key, self.rsa_cert, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", True),
                (self.ec_key, self.ec_cert, "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", True),
                (self.ed_key, self.ed_cert, as4verify.DSIG_MORE21 + "eddsa-ed25519", None)):
            rc, out = run(self.write("m.as4", Sealer(key, [cert], method).seal([])))
            self.assertEqual((rc, out["valid"], out["xmlsec"]), (0, True, expected), method)

    def test_tampered_ciphertext(self):
        sealed = bytearray(self.edelivery2())
        sealed[-20] ^= 1  # inside the last (encrypted) part
        rc, out = run(self.write("m.as4", bytes(sealed)), "--decrypt-key", self.write("k.pem", pem(self.x_key)))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertIn("authentication tag", out["reason"])

    def test_wrong_recipient_key(self):
        other = x25519.X25519PrivateKey.generate()
        rc, out = run(self.write("m.as4", self.edelivery2()), "--decrypt-key", self.write("k.pem", pem(other)))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertIn("unwrap failed", out["reason"])

    def test_hkdf_key_length_in_bits_is_reported(self):
        rc, out = run(self.write("m.as4", self.edelivery2(key_length=128)),
                      "--decrypt-key", self.write("k.pem", pem(self.x_key)))
        self.assertEqual((rc, out["valid"]), (1, False))
        self.assertIn("looks like bits", out["reason"])

    def test_untrusted_signer(self):
        rc, out = run(self.write("m.as4", self.edelivery2()), "--decrypt-key", self.write("k.pem", pem(self.x_key)),
                      "--trust", self.write("t.pem", pem(self.rsa_cert)))
        self.assertEqual((rc, out["valid"], out["trusted"]), (1, False, False))
        self.assertEqual(out["reason"], "signer certificate is not trusted")


# ------------------------------------------------------------------ summary line

class _Summary:
    result = None

    @classmethod
    def print_line(cls):
        r = cls.result
        if r is not None:
            failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
            print("%d passed, %d failed" % (r.testsRun - failed - len(r.skipped), failed), flush=True)


class _SummarySuite(unittest.TestSuite):
    def run(self, result, debug=False):
        _Summary.result = result
        return super().run(result, debug)


def load_tests(loader, tests, pattern):
    """Prints "N passed, M failed" when the process ends, after unittest's own report."""
    atexit.register(_Summary.print_line)
    return _SummarySuite([tests])


if __name__ == "__main__":
    unittest.main(verbosity=2)
