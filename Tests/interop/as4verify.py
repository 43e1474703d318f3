#!/usr/bin/env python3
"""as4verify: an independent second opinion on AS4 messages.

Decrypts (optional), verifies the WS-Security signature, checks trust (optional) and
decompresses the payloads of one AS4 message, using only lxml, xmlsec and cryptography.
It shares no code with the Swift gateway on purpose. Wire rules: shared/spec/AS4-WIRE.md.

    as4verify.py MESSAGE [--content-type CT] [--trust PEM ...] [--cert PEM ...]
                 [--decrypt-key KEY.pem] [--out DIR]

Prints one JSON object. Exit status: 0 signature valid, 1 not valid, 2 usage or I/O error,
3 internal error (a bug in this tool).

    valid            every reference digest and the SignatureValue verify (and, when --trust is
                     given, the signer is trusted)
    reason           first problem found, null when valid
    signatureMethod  SignatureMethod URI
    references       [{uri, ok, error}] in SignedInfo order
    xmlsec           libxmlsec1's own verdict when all references are same-document; null when
                     not applicable (cid: references, no signer key, key type xmlsec can't load)
    signer           subject of the signer certificate (RFC 4514), null if not found
    trusted          null without --trust, else whether the signer chains to a --trust cert
    parts            [{contentId, mimeType, decrypted, compressed, size, sha256, error}] for the
                     attachments in MIME order; size/sha256 of the final (decompressed) payload;
                     mimeType is the PartProperties MimeType of compressed parts
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import zlib
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from lxml import etree

S12 = "http://www.w3.org/2003/05/soap-envelope"
S11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
DSIG11 = "http://www.w3.org/2009/xmldsig11#"
DSIG_MORE21 = "http://www.w3.org/2021/04/xmldsig-more#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
EC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EB = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
SWA = "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#"
X509_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#"
WSS11 = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#"

EXC_C14N = EC14N
CONTENT_TRANSFORM = SWA + "Attachment-Content-Signature-Transform"
CIPHERTEXT_TRANSFORM = SWA + "Attachment-Ciphertext-Transform"

DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
SIGNATURE_METHODS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ecdsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ecdsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ecdsa", hashes.SHA512),
    DSIG_MORE21 + "eddsa-ed25519": ("ed25519", None),
}
# Key transport: OAEP hash (DigestMethod) and MGF1 hash; SHA-1 is the XML Encryption default there.
OAEP_DIGESTS = dict(DIGESTS, **{DS + "sha1": hashes.SHA1})
MGF_HASHES = {XENC11 + "mgf1sha" + n: h for n, h in (
    ("1", hashes.SHA1), ("224", hashes.SHA224), ("256", hashes.SHA256),
    ("384", hashes.SHA384), ("512", hashes.SHA512))}
RSA_OAEP_MGF1P = XENC + "rsa-oaep-mgf1p"
RSA_OAEP = XENC11 + "rsa-oaep"
KEY_WRAPS = {XENC + "kw-aes128": 16, XENC + "kw-aes192": 24, XENC + "kw-aes256": 32}
GCM_KEY_SIZES = {XENC11 + "aes128-gcm": 16, XENC11 + "aes192-gcm": 24, XENC11 + "aes256-gcm": 32}
HKDF_URI = DSIG_MORE21 + "hkdf"
HKDF_PRFS = {"http://www.w3.org/2001/04/xmldsig-more#hmac-sha" + n: h for n, h in (
    ("256", hashes.SHA256), ("384", hashes.SHA384), ("512", hashes.SHA512))}
X25519_URI = DSIG_MORE21 + "x25519"
ECDH_ES_URI = XENC11 + "ECDH-ES"
NAMED_CURVES = {
    "urn:oid:1.2.840.10045.3.1.7": ec.SECP256R1, "urn:oid:1.3.132.0.34": ec.SECP384R1,
    "urn:oid:1.3.132.0.35": ec.SECP521R1, "urn:oid:1.3.36.3.3.2.8.1.1.7": ec.BrainpoolP256R1,
}
MAX_PAYLOAD = 1 << 30  # decompressed bytes per part (gzip bomb cap)


class VerifyError(Exception):
    """The message cannot be (fully) verified; the text is the JSON "reason"."""


def q(ns, name):
    return "{%s}%s" % (ns, name)


def b64(text):
    return base64.b64decode("".join((text or "").split()), validate=True)


# ---------------------------------------------------------------- input and MIME

class Part:
    def __init__(self, headers, body):
        self.headers = headers
        self.body = body
        self.content_id = strip_angles(headers.get("content-id", "")) or None
        self.content_type = headers.get("content-type", "application/octet-stream")
        self.decrypted = False
        self.encrypted = False  # named by an xenc:EncryptedData
        self.error = None


def strip_angles(value):
    value = value.strip()
    return value[1:-1].strip() if value.startswith("<") and value.endswith(">") else value


def parse_headers(block):
    """RFC 822 style header block -> {lower-case name: value}; folded lines are joined."""
    headers, name = {}, None
    for line in block.decode("latin-1").splitlines():
        if line[:1] in (" ", "\t") and name:
            headers[name] += " " + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            name = name.strip().lower()
            headers[name] = value.strip()
    return headers


def parse_media_type(value):
    """'type/sub; a=b; c="d"' -> ('type/sub', {'a': 'b', 'c': 'd'})."""
    head, _, rest = value.partition(";")
    params = {}
    for m in re.finditer(r'([!#$%&\'*+.^`|~\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)', rest):
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        params[m.group(1).lower()] = v
    return head.strip().lower(), params


def split_head(data):
    """Split at the first blank line -> (header bytes, body bytes)."""
    m = re.search(rb"\r?\n\r?\n", data)
    return (data, b"") if m is None else (data[:m.start()], data[m.end():])


def read_message(data, content_type=None):
    """Returns (root XML bytes, [Part]) for HTTP/MIME dumps, bare multipart bodies and SOAP XML."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lead = data.lstrip(b" \t\r\n")
    if not (lead.startswith(b"--") or lead.startswith(b"<")):
        head, data = split_head(lead)
        lines = head.split(b"\n", 1)
        if re.match(rb"HTTP/\d|[A-Z]+ \S+ HTTP/\d", lines[0]):
            head = lines[1] if len(lines) > 1 else b""
        content_type = content_type or parse_headers(head).get("content-type")
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        lead = data.lstrip(b" \t\r\n")
    mtype, params = parse_media_type(content_type or "")
    if mtype.startswith("multipart/") or (not content_type and lead.startswith(b"--")):
        boundary = params.get("boundary") or lead.split(b"\n", 1)[0][2:].strip().decode("latin-1")
        if not boundary:
            raise VerifyError("multipart message without boundary")
        parts = split_multipart(data, boundary.encode("latin-1"))
        start = strip_angles(params.get("start", ""))
        root = next((p for p in parts if start and p.content_id == start), None)
        if start and root is None:
            raise VerifyError("multipart start=<%s> names no part" % start)
        root = root or parts[0]
        return root.body, [p for p in parts if p is not root]
    return data, []


def split_multipart(body, boundary):
    delimiters = list(re.finditer(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$", body, re.M))
    closing = next((i for i, m in enumerate(delimiters) if m.group(1)), None)
    if closing is None:
        raise VerifyError("multipart body has no closing boundary")
    parts = []
    for opening, following in zip(delimiters[:closing], delimiters[1:closing + 1]):
        chunk = body[opening.end():following.start()]
        chunk = chunk[1:] if chunk.startswith(b"\n") else chunk  # the delimiter line's own LF
        for eol in (b"\r\n", b"\n"):  # the line break before the next delimiter belongs to it
            if chunk.endswith(eol):
                chunk = chunk[:-len(eol)]
                break
        if chunk.startswith(b"\r\n") or chunk.startswith(b"\n"):
            head, content = b"", chunk[2:] if chunk.startswith(b"\r\n") else chunk[1:]
        else:
            head, content = split_head(chunk)
        headers = parse_headers(head)
        parts.append(Part(headers, decode_transfer_encoding(headers, content)))
    if not parts:
        raise VerifyError("multipart body has no parts")
    return parts


def decode_transfer_encoding(headers, content):
    cte = headers.get("content-transfer-encoding", "binary").strip().lower()
    if cte in ("binary", "8bit", "7bit"):
        return content
    if cte == "base64":
        return base64.b64decode(b"".join(content.split()))
    if cte == "quoted-printable":
        import binascii
        return binascii.a2b_qp(content)
    raise VerifyError("unsupported Content-Transfer-Encoding %r" % cte)


def cid_key(uri_or_id):
    """Compare Content-IDs and cid: URIs after percent-decoding (RFC 2392)."""
    value = uri_or_id[4:] if uri_or_id[:4].lower() == "cid:" else uri_or_id
    return unquote(value)


# ---------------------------------------------------------------- XML

def parse_xml(data):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             remove_blank_text=False, huge_tree=False)
    try:
        tree = etree.fromstring(data, parser).getroottree()
    except etree.XMLSyntaxError as e:
        raise VerifyError("XML not well-formed: %s" % e)
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise VerifyError("XML with a document type declaration refused")
    return tree


_default_prefix_checked = False


def exc_c14n(node, prefixes=()):
    """Exclusive C14N 1.0 without comments of an element subtree (or a whole ElementTree).

    lxml canonicalizes an element by making it the root of a temporary document that carries
    copies of every namespace declared on its ancestors, so PrefixList prefixes declared outside
    the subtree are rendered on the apex as the spec requires. But lxml hands a PrefixList entry
    to libxml2 only if the string already sits in the parser's name dictionary. The prefixes of
    a parsed document always do (this tool only canonicalizes parsed documents); "#default", not
    being an XML name, never does and would be dropped silently. Interning it once through an
    HTML attribute name fixes that; a probe checks the result and fails loudly otherwise.
    """
    global _default_prefix_checked
    prefixes = [p for p in prefixes if p]
    if "#default" in prefixes and not _default_prefix_checked:
        etree.HTML(b'<p #default="">.</p>')
        probe = parse_xml(b'<r xmlns="urn:probe"><p:e xmlns:p="urn:p"/></r>').getroot()[0]
        out = etree.tostring(probe, method="c14n", exclusive=True, inclusive_ns_prefixes=["#default"])
        if not out.startswith(b'<p:e xmlns="urn:probe"'):
            raise VerifyError("lxml ignores the '#default' InclusiveNamespaces prefix")
        _default_prefix_checked = True
    return escape_namespace_declarations(
        etree.tostring(node, method="c14n", exclusive=True, with_comments=False,
                       inclusive_ns_prefixes=prefixes or None))


# A processing instruction (its data may hold "<" and quotes) or a start tag, whose quoted
# attribute values may hold ">".
_MARKUP = re.compile(rb'<\?.*?\?>|<[^/?!](?:[^>"\']|"[^"]*"|\'[^\']*\')*>', re.S)
_ATTRIBUTE = re.compile(rb' ([^\s=]+)=(?:"([^"]*)"|\'([^\']*)\')')
_ATTRIBUTE_ESCAPES = ((b"&", b"&amp;"), (b"<", b"&lt;"), (b'"', b"&quot;"),
                      (b"\t", b"&#x9;"), (b"\n", b"&#xA;"), (b"\r", b"&#xD;"))


def escape_namespace_declarations(canonical):
    """Namespace declarations of libxml2's canonical output, written as Canonical XML 1.0 writes
    them: like attribute values ("&" as "&amp;", ...), in double quotes.

    libxml2's C14N copies a namespace URI into its output unescaped (xmlns:x="urn:a&b", not
    well-formed), where other implementations write xmlns:x="urn:a&amp;b"; a signature over a
    namespace URI holding "&" would not verify here otherwise. Text and attribute values are
    escaped already, and comments are never rendered here, so only the declarations in start
    tags change; a tag's attributes are read one after the other, so a value that merely looks
    like a declaration is left alone.
    """
    def tag(match):
        text = match.group(0)
        if text.startswith(b"<?"):
            return text
        out = bytearray()
        position = min(i for i in (text.find(b" "), len(text) - 1) if i >= 0)
        out += text[:position]
        while True:
            attribute = _ATTRIBUTE.match(text, position)
            if attribute is None:
                break
            name = attribute.group(1)
            if name == b"xmlns" or name.startswith(b"xmlns:"):
                value = attribute.group(2) if attribute.group(2) is not None else attribute.group(3)
                for char, escaped in _ATTRIBUTE_ESCAPES:
                    value = value.replace(char, escaped)
                out += b' %s="%s"' % (name, value)
            else:
                out += attribute.group(0)
            position = attribute.end()
        return bytes(out + text[position:])

    return _MARKUP.sub(tag, canonical)


def prefix_list(parent):
    inc = parent.find(q(EC14N, "InclusiveNamespaces"))
    return (inc.get("PrefixList") or "").split() if inc is not None else []


ID_ATTRIBUTES = (q(WSU, "Id"), "Id", "id", q(XML_NS, "id"))


def build_id_map(root):
    ids = {}
    for el in root.iter(etree.Element):
        for attr in ID_ATTRIBUTES:
            value = el.get(attr)
            if value is not None:
                ids.setdefault(value, [])
                if el not in ids[value]:
                    ids[value].append(el)
    return ids


def resolve_id(ids, uri):
    if not uri.startswith("#"):
        raise VerifyError("unsupported reference %r (only #id)" % uri)
    found = ids.get(uri[1:], [])
    if len(found) > 1:
        raise VerifyError("Id %r occurs on %d elements" % (uri[1:], len(found)))
    if not found:
        raise VerifyError("no element with Id %r" % uri[1:])
    return found[0]


def find_security(root):
    if root.tag not in (q(S12, "Envelope"), q(S11, "Envelope")):
        raise VerifyError("root element is %s, not a SOAP Envelope" % root.tag)
    soap = etree.QName(root).namespace
    header = root.find(q(soap, "Header"))
    role_attr = q(soap, "role") if soap == S12 else q(soap, "actor")
    ultimate = (None, "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver")
    found = [] if header is None else [
        c for c in header if c.tag == q(WSSE, "Security") and c.get(role_attr) in ultimate]
    if len(found) > 1:
        raise VerifyError("%d wsse:Security headers for the ultimate receiver" % len(found))
    return found[0] if found else None


def attachment_octets(part):
    """Attachment-Content-Signature-Transform (SwA 1.1 §5.4.2) of a part's content."""
    mtype = parse_media_type(part.content_type)[0]
    if mtype in ("text/xml", "application/xml") or mtype.endswith("+xml"):
        return exc_c14n(parse_xml(part.body))
    if mtype.startswith("text/"):
        return part.body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return part.body


# ---------------------------------------------------------------- certificates

def load_pem_certs(path):
    with open(path, "rb") as f:
        data = f.read()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def der_elements(der):
    """Split the content of a DER SEQUENCE into its encoded elements (for PkiPath)."""
    def read_len(buf, pos):
        first = buf[pos]
        if first < 0x80:
            return first, pos + 1
        n = first & 0x7F
        return int.from_bytes(buf[pos + 1:pos + 1 + n], "big"), pos + 1 + n
    if not der or der[0] != 0x30:
        raise VerifyError("PkiPath is not a DER SEQUENCE")
    length, pos = read_len(der, 1)
    end, items = pos + length, []
    while pos < end:
        item_len, body = read_len(der, pos + 1)
        items.append(der[pos:body + item_len])
        pos = body + item_len
    return items


def certs_from_token(bst):
    value_type = bst.get("ValueType", "")
    der = b64(bst.text)
    if value_type.endswith("#X509PKIPathv1"):
        return [x509.load_der_x509_certificate(d) for d in der_elements(der)]
    if value_type.endswith("#X509v3") or not value_type:
        return [x509.load_der_x509_certificate(der)]
    raise VerifyError("unsupported BinarySecurityToken ValueType %s" % value_type)


def leaf_of(certs):
    """The end-entity of a path: the certificate that issued none of the others."""
    issuers = {c.issuer for c in certs}
    leaves = [c for c in certs if c.subject not in issuers or len(certs) == 1]
    return leaves[-1] if leaves else certs[-1]


def subject_key_id(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def dn_key(text):
    """Loose comparison key for a distinguished name string: order and spacing ignored."""
    aliases = {"e": "emailaddress", "1.2.840.113549.1.9.1": "emailaddress", "s": "st"}
    rdns = re.split(r"(?<!\\)[,+]", text)
    pairs = []
    for rdn in rdns:
        name, _, value = rdn.partition("=")
        name = name.strip().lower()
        pairs.append((aliases.get(name, name), value.strip().replace("\\", "").lower()))
    return sorted(pairs)


def find_signer(keyinfo, ids, known):
    """-> (signer certificate, extra certificates from the message for path building)."""
    if keyinfo is None:
        raise VerifyError("ds:Signature has no ds:KeyInfo")
    str_el = keyinfo.find(q(WSSE, "SecurityTokenReference"))
    holder = str_el if str_el is not None else keyinfo
    ref = holder.find(q(WSSE, "Reference"))
    if ref is not None:
        token = resolve_id(ids, ref.get("URI", ""))
        if token.tag != q(WSSE, "BinarySecurityToken"):
            raise VerifyError("signature key reference does not point at a BinarySecurityToken")
        certs = certs_from_token(token)
        return leaf_of(certs), certs
    kid = holder.find(q(WSSE, "KeyIdentifier"))
    if kid is not None:
        value, value_type = b64(kid.text), kid.get("ValueType", "")
        if value_type == X509_PROFILE + "X509SubjectKeyIdentifier":
            match = [c for c in known if subject_key_id(c) == value]
        elif value_type == WSS11 + "ThumbprintSHA1":
            match = [c for c in known if c.fingerprint(hashes.SHA1()) == value]
        elif value_type == X509_PROFILE + "X509v3":
            match = [x509.load_der_x509_certificate(value)]
        else:
            raise VerifyError("unsupported KeyIdentifier ValueType %s" % value_type)
        if not match:
            raise VerifyError("no --cert/--trust certificate matches the KeyIdentifier")
        return match[0], []
    data = holder.find(q(DS, "X509Data"))
    if data is not None:
        serial_el = data.find(q(DS, "X509IssuerSerial"))
        if serial_el is not None:
            issuer = dn_key(serial_el.findtext(q(DS, "X509IssuerName"), ""))
            serial = int(serial_el.findtext(q(DS, "X509SerialNumber"), "-1").strip())
            match = [c for c in known if c.serial_number == serial
                     and dn_key(c.issuer.rfc4514_string()) == issuer]
            if not match:
                raise VerifyError("no --cert/--trust certificate matches the X509IssuerSerial")
            return match[0], []
        embedded = data.find(q(DS, "X509Certificate"))
        if embedded is not None:
            return x509.load_der_x509_certificate(b64(embedded.text)), []
    raise VerifyError("unsupported ds:KeyInfo form")


def issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def is_trusted(signer, anchors, pool):
    """Signer is an anchor, or issued by one, possibly through intermediates from the pool."""
    current = signer
    for _ in range(8):
        if any(current == a or issued_by(current, a) for a in anchors):
            return True
        current = next((c for c in pool if c != current and issued_by(current, c)), None)
        if current is None:
            return False
    return False


# ---------------------------------------------------------------- decryption

def unwrap_key(ek, key):
    """Content encryption key from one xenc:EncryptedKey, with the recipient's private key."""
    method = ek.find(q(XENC, "EncryptionMethod"))
    alg = method.get("Algorithm") if method is not None else None
    wrapped = b64(ek.findtext(q(XENC, "CipherData") + "/" + q(XENC, "CipherValue")))
    if alg in (RSA_OAEP, RSA_OAEP_MGF1P):
        if not isinstance(key, rsa.RSAPrivateKey):
            raise VerifyError("%s needs an RSA --decrypt-key" % alg)
        dm = method.find(q(DS, "DigestMethod"))
        digest = OAEP_DIGESTS.get(dm.get("Algorithm")) if dm is not None else hashes.SHA1
        mgf_el = method.find(q(XENC11, "MGF"))
        mgf = MGF_HASHES.get(mgf_el.get("Algorithm")) if alg == RSA_OAEP and mgf_el is not None \
            else hashes.SHA1
        if digest is None or mgf is None:
            raise VerifyError("unsupported OAEP DigestMethod or MGF")
        params = method.findtext(q(XENC, "OAEPparams"))
        label = b64(params) if params else None
        try:
            return key.decrypt(wrapped, padding.OAEP(padding.MGF1(mgf()), digest(), label))
        except ValueError:
            raise VerifyError("RSA-OAEP decryption of the EncryptedKey failed (wrong key?)")
    if alg in KEY_WRAPS:
        agreement = ek.find(q(DS, "KeyInfo") + "/" + q(XENC, "AgreementMethod"))
        if agreement is None:
            raise VerifyError("%s EncryptedKey without xenc:AgreementMethod" % alg)
        kek = agreed_key(agreement, key, KEY_WRAPS[alg])
        try:
            return keywrap.aes_key_unwrap(kek, wrapped)
        except keywrap.InvalidUnwrap:
            raise VerifyError("AES key unwrap failed (wrong key or KDF parameters?)")
    raise VerifyError("unsupported EncryptedKey algorithm %s" % alg)


def agreed_key(agreement, key, kek_size):
    """KEK from X25519 or ECDH-ES key agreement plus HKDF (eDelivery AS4 2.0)."""
    alg = agreement.get("Algorithm")
    originator = agreement.find(q(XENC, "OriginatorKeyInfo"))
    if originator is None:
        raise VerifyError("AgreementMethod without OriginatorKeyInfo")
    if alg == X25519_URI:
        spki = originator.find(".//" + q(DSIG11, "DEREncodedKeyValue"))
        if spki is None:
            raise VerifyError("x25519 originator key is not a dsig11:DEREncodedKeyValue")
        public = serialization.load_der_public_key(b64(spki.text))
        if not isinstance(public, x25519.X25519PublicKey) or \
                not isinstance(key, x25519.X25519PrivateKey):
            raise VerifyError("x25519 agreement needs X25519 keys on both sides")
        shared = key.exchange(public)
    elif alg == ECDH_ES_URI:
        value = originator.find(".//" + q(DSIG11, "ECKeyValue"))
        curve_el = value.find(q(DSIG11, "NamedCurve")) if value is not None else None
        curve = NAMED_CURVES.get(curve_el.get("URI")) if curve_el is not None else None
        if curve is None:
            raise VerifyError("ECDH-ES originator key without a supported dsig11:NamedCurve")
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            curve(), b64(value.findtext(q(DSIG11, "PublicKey"))))
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != curve.name:
            raise VerifyError("ECDH-ES needs an EC --decrypt-key on curve %s" % curve.name)
        shared = key.exchange(ec.ECDH(), public)
    else:
        raise VerifyError("unsupported AgreementMethod %s" % alg)
    kdm = agreement.find(q(XENC11, "KeyDerivationMethod"))
    if kdm is None or kdm.get("Algorithm") != HKDF_URI:
        raise VerifyError("unsupported KeyDerivationMethod %s" % (kdm.get("Algorithm") if kdm is not None else None))
    params = kdm.find(q(DSIG_MORE21, "HKDFParams"))
    params = params if params is not None else etree.Element("none")
    prf_el = params.find(q(DSIG_MORE21, "PRF"))
    prf = HKDF_PRFS.get(prf_el.get("Algorithm")) if prf_el is not None else hashes.SHA256
    if prf is None:
        raise VerifyError("unsupported HKDF PRF %s" % prf_el.get("Algorithm"))
    salt, info = params.findtext(q(DSIG_MORE21, "Salt")), params.findtext(q(DSIG_MORE21, "Info"))
    length = int((params.findtext(q(DSIG_MORE21, "KeyLength")) or str(kek_size)).strip())
    if length != kek_size:
        hint = " (looks like bits; KeyLength is in bytes)" if length == kek_size * 8 else ""
        raise VerifyError("HKDF KeyLength %d does not fit the key wrap's %d bytes%s" % (length, kek_size, hint))
    return HKDF(prf(), length, b64(salt) if salt else None, b64(info) if info else b"").derive(shared)


def decrypt_parts(root, security, ids, parts_by_cid, key):
    """Decrypts every EncryptedData whose CipherReference names a MIME part (in place)."""
    ceks, problems = {}, []
    for ek in security.findall(q(XENC, "EncryptedKey")):
        try:
            ceks[id(ek)] = (ek, unwrap_key(ek, key) if key is not None else None)
        except (VerifyError, ValueError, TypeError, UnsupportedAlgorithm) as e:
            ceks[id(ek)] = (ek, None)
            problems.append(str(e))
    for ed in root.iter(q(XENC, "EncryptedData")):
        ref = ed.find(q(XENC, "CipherData") + "/" + q(XENC, "CipherReference"))
        if ref is None or not ref.get("URI", "").lower().startswith("cid:"):
            continue
        part = parts_by_cid.get(cid_key(ref.get("URI")))
        if part is None:
            continue
        part.encrypted = True
        if key is None:
            part.error = "encrypted; no --decrypt-key given"
            continue
        try:
            cek = content_key(ed, ids, ceks)
            method = ed.find(q(XENC, "EncryptionMethod"))
            alg = method.get("Algorithm") if method is not None else None
            if GCM_KEY_SIZES.get(alg) != len(cek):
                raise VerifyError("unsupported EncryptedData algorithm %s for a %d-byte key" % (alg, len(cek)))
            for t in ref.iter(q(DS, "Transform")):
                if t.get("Algorithm") != CIPHERTEXT_TRANSFORM:
                    raise VerifyError("unsupported CipherReference transform %s" % t.get("Algorithm"))
            if len(part.body) < 28:
                raise VerifyError("ciphertext shorter than IV and tag")
            part.body = AESGCM(cek).decrypt(part.body[:12], part.body[12:], None)
            part.content_type = ed.get("MimeType") or part.content_type
            part.decrypted, part.error = True, None
        except InvalidTag:
            part.error = "AES-GCM authentication tag mismatch"
        except VerifyError as e:
            part.error = str(e)
    return problems


def content_key(ed, ids, ceks):
    target = None
    str_ref = ed.find(q(DS, "KeyInfo") + "/" + q(WSSE, "SecurityTokenReference") + "/" + q(WSSE, "Reference"))
    if str_ref is not None:
        target = resolve_id(ids, str_ref.get("URI", ""))
    else:
        ed_id = ed.get("Id") or ed.get(q(WSU, "Id"))
        for ek, _ in ceks.values():
            uris = [d.get("URI") for d in ek.iter(q(XENC, "DataReference"))]
            if ed_id and "#" + ed_id in uris:
                target = ek
        if target is None and len(ceks) == 1:
            target = next(iter(ceks.values()))[0]
    if target is None or id(target) not in ceks:
        raise VerifyError("no EncryptedKey for EncryptedData %s" % ed.get("Id"))
    cek = ceks[id(target)][1]
    if cek is None:
        raise VerifyError("its EncryptedKey could not be decrypted")
    return cek


# ---------------------------------------------------------------- signature

def digest_reference(ref, ids, parts_by_cid):
    uri = ref.get("URI", "")
    algs = [t.get("Algorithm") for t in ref.findall(q(DS, "Transforms") + "/" + q(DS, "Transform"))]
    dm = ref.find(q(DS, "DigestMethod"))
    digest = DIGESTS.get(dm.get("Algorithm") if dm is not None else None)
    if digest is None:
        raise VerifyError("unsupported DigestMethod %s" % (dm.get("Algorithm") if dm is not None else None))
    if uri.startswith("#"):
        if algs != [EXC_C14N]:
            raise VerifyError("same-document reference needs exactly one exc-c14n transform, got %s" % algs)
        octets = exc_c14n(resolve_id(ids, uri), prefix_list(ref.find(q(DS, "Transforms"))[0]))
    elif uri.lower().startswith("cid:"):
        if algs != [CONTENT_TRANSFORM]:
            raise VerifyError("cid: reference needs exactly the Attachment-Content-Signature-Transform, got %s" % algs)
        part = parts_by_cid.get(cid_key(uri))
        if part is None:
            raise VerifyError("attachment not present")
        octets = attachment_octets(part)
    else:
        raise VerifyError("unsupported reference URI")
    h = hashes.Hash(digest())
    h.update(octets)
    if not hmac.compare_digest(h.finalize(), b64(ref.findtext(q(DS, "DigestValue")))):
        hint = "; part not decrypted: %s" % parts_by_cid[cid_key(uri)].error \
            if uri.lower().startswith("cid:") and parts_by_cid[cid_key(uri)].error else ""
        raise VerifyError("digest mismatch" + hint)


def check_signature_value(method, public_key, signature, data):
    kind, digest = SIGNATURE_METHODS[method]
    try:
        if kind == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), digest())
        elif kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            size = (public_key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                return "ECDSA SignatureValue is not r||s for this curve"
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            public_key.verify(utils.encode_dss_signature(r, s), data, ec.ECDSA(digest()))
        elif kind == "ed25519" and isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return "signer key type does not fit %s" % method
    except InvalidSignature:
        return "SignatureValue does not verify"
    return None


def verify_signature(security, ids, parts_by_cid, known, result):
    """Fills result (references, signatureMethod, signer) and returns (reason, signer, path)."""
    sigs = [c for c in security if c.tag == q(DS, "Signature")] if security is not None else []
    if len(sigs) != 1:
        return "expected exactly one ds:Signature in wsse:Security, found %d" % len(sigs), None, []
    sig = sigs[0]
    signed_info = sig.find(q(DS, "SignedInfo"))
    if signed_info is None:
        return "ds:Signature without ds:SignedInfo", None, []
    method_el = signed_info.find(q(DS, "SignatureMethod"))
    method = method_el.get("Algorithm") if method_el is not None else None
    result["signatureMethod"] = method
    reason = None
    for ref in signed_info.findall(q(DS, "Reference")):
        entry = {"uri": ref.get("URI"), "ok": False, "error": None}
        try:
            digest_reference(ref, ids, parts_by_cid)
            entry["ok"] = True
        except (VerifyError, ValueError) as e:
            entry["error"] = str(e)
            reason = reason or "reference %s: %s" % (entry["uri"], e)
        result["references"].append(entry)
    if not result["references"]:
        reason = reason or "ds:SignedInfo has no ds:Reference"
    try:
        signer, path = find_signer(sig.find(q(DS, "KeyInfo")), ids, known)
    except (VerifyError, ValueError) as e:
        return reason or "signer key: %s" % e, None, []
    result["signer"] = signer.subject.rfc4514_string()
    c14n_el = signed_info.find(q(DS, "CanonicalizationMethod"))
    if c14n_el is None or c14n_el.get("Algorithm") != EXC_C14N:
        return reason or "unsupported CanonicalizationMethod", signer, path
    if method not in SIGNATURE_METHODS:
        return reason or "unsupported SignatureMethod %s" % method, signer, path
    value = b64(sig.findtext(q(DS, "SignatureValue")))
    problem = check_signature_value(method, signer.public_key(), value,
                                     exc_c14n(signed_info, prefix_list(c14n_el)))
    return reason or problem, signer, path


def xmlsec_verdict(xml_bytes, signer):
    """Second verdict from libxmlsec1 (same-document references only); None if not applicable."""
    import xmlsec
    root = parse_xml(xml_bytes).getroot()
    security = find_security(root)
    sig = security.find(q(DS, "Signature"))
    xmlsec.tree.add_ids(root, ["Id", "id"])
    ctx = xmlsec.SignatureContext()
    pem = signer.public_bytes(serialization.Encoding.PEM)
    try:
        ctx.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
    except xmlsec.Error:
        return None  # a key type this libxmlsec1 cannot load (Ed25519 in 1.3.9)
    try:
        ctx.verify(sig)
        return True
    except xmlsec.Error:
        return False


# ---------------------------------------------------------------- payloads

def part_properties(root):
    props = {}
    for info in root.iter(q(EB, "PartInfo")):
        href = info.get("href") or ""
        if href.lower().startswith("cid:"):
            props[cid_key(href)] = {p.get("name"): (p.text or "").strip()
                                    for p in info.iter(q(EB, "Property"))}
    return props


def gunzip(data):
    out, data = [], data
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.append(d.decompress(data, MAX_PAYLOAD + 1 - sum(map(len, out))))
        if sum(map(len, out)) > MAX_PAYLOAD:
            raise VerifyError("decompressed size exceeds %d bytes" % MAX_PAYLOAD)
        if not d.eof:
            raise VerifyError("truncated gzip stream")
        data = d.unused_data
    return b"".join(out)


def finish_parts(parts, props, out_dir):
    report, used_names = [], set()
    for part in parts:
        p = props.get(cid_key(part.content_id or ""), {})
        compression = p.get("CompressionType")
        payload, mime = part.body, parse_media_type(part.content_type)[0]
        if compression:
            mime = p.get("MimeType")
            if part.encrypted and not part.decrypted:
                pass  # still ciphertext: nothing to decompress
            elif compression != "application/gzip":
                part.error = part.error or "unsupported CompressionType %s" % compression
            else:
                try:
                    payload = gunzip(part.body)
                except (VerifyError, zlib.error) as e:
                    part.error = part.error or "decompression failed: %s" % e
        if out_dir and not (part.encrypted and not part.decrypted):
            name = re.sub(r"[^A-Za-z0-9._@-]", "_", part.content_id or "part")
            name = "part_" + name if name.startswith(".") else name
            while name in used_names:
                name += "_"
            used_names.add(name)
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(payload)
        report.append({"contentId": part.content_id, "mimeType": mime, "decrypted": part.decrypted,
                       "compressed": bool(compression), "size": len(payload),
                       "sha256": hashlib.sha256(payload).hexdigest(), "error": part.error})
    return report


# ---------------------------------------------------------------- command line

def verify(data, content_type=None, trust=(), certs=(), decrypt_key=None, out_dir=None):
    result = {"valid": False, "reason": None, "signatureMethod": None, "references": [],
              "xmlsec": None, "signer": None, "trusted": None, "parts": []}
    try:
        xml_bytes, parts = read_message(data, content_type)
        parts_by_cid = {cid_key(p.content_id): p for p in parts if p.content_id}
        if len(parts_by_cid) != sum(1 for p in parts if p.content_id):
            raise VerifyError("two MIME parts share a Content-ID")
        root = parse_xml(xml_bytes).getroot()
        security = find_security(root)
        ids = build_id_map(root)
        problems = []
        if security is not None:
            problems = decrypt_parts(root, security, ids, parts_by_cid, decrypt_key)
        reason, signer, path = verify_signature(security, ids, parts_by_cid,
                                                list(certs) + list(trust), result)
        if problems and reason:
            reason += " (decryption: %s)" % "; ".join(problems)
        if signer is not None and result["references"] and \
                all((r["uri"] or "").startswith("#") for r in result["references"]):
            result["xmlsec"] = xmlsec_verdict(xml_bytes, signer)
        if signer is not None and trust:
            result["trusted"] = is_trusted(signer, list(trust), list(path) + list(certs))
            if not result["trusted"] and reason is None:
                reason = "signer certificate is not trusted"
        result["valid"], result["reason"] = reason is None, reason
        result["parts"] = finish_parts(parts, part_properties(root), out_dir)
    except VerifyError as e:
        result["reason"] = str(e)
    except ValueError as e:  # malformed base64, certificates, keys or numbers in the message
        result["reason"] = "malformed message: %s" % e
    return result


class UsageError(Exception):
    pass


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def main(argv=None):
    ap = ArgumentParser(prog="as4verify.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("message", help="message file: HTTP/MIME dump, multipart body or SOAP XML")
    ap.add_argument("--content-type", help="Content-Type of the body when the file has no headers")
    ap.add_argument("--trust", action="append", default=[], metavar="CERT.pem",
                    help="trust anchor(s); the signer must be one or be issued by one")
    ap.add_argument("--cert", action="append", default=[], metavar="CERT.pem",
                    help="certificate(s) for SKI / IssuerSerial look-up and path building")
    ap.add_argument("--decrypt-key", metavar="KEY.pem", help="recipient private key (PKCS#8 PEM)")
    ap.add_argument("--out", metavar="DIR", help="write the final payloads here, named by content id")
    try:
        args = ap.parse_args(argv)
        with open(args.message, "rb") as f:
            data = f.read()
        trust = [c for path in args.trust for c in load_pem_certs(path)]
        certs = [c for path in args.cert for c in load_pem_certs(path)]
        key = None
        if args.decrypt_key:
            with open(args.decrypt_key, "rb") as f:
                key = serialization.load_pem_private_key(f.read(), password=None)
        if args.out:
            os.makedirs(args.out, exist_ok=True)
    except (UsageError, OSError, ValueError, TypeError) as e:
        print(json.dumps({"valid": False, "reason": "usage: %s" % e}, indent=2))
        return 2
    try:
        result = verify(data, args.content_type, trust, certs, key, args.out)
    except Exception as e:  # a bug here must not pass for an invalid message
        import traceback
        traceback.print_exc()
        print(json.dumps({"valid": False, "reason": "internal error: %r" % e}, indent=2))
        return 3
    print(json.dumps(result, indent=2))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
