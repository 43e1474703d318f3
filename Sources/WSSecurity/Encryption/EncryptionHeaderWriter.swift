import AS4Crypto
import EnvelopeXML

/// Writes the encryption elements of a `wsse:Security` header (AS4-WIRE §3.5, §3.6, §3.8).
///
/// The fragment is spliced verbatim into a header whose declarations we do not control, so each
/// top-level element (BinarySecurityToken, EncryptedKey, EncryptedData) declares every namespace
/// used in its own subtree.
struct EncryptionHeaderWriter {
    /// The key-agreement half of an eDelivery 2.0 EncryptedKey.
    struct Agreement {
        var algorithm: String
        var salt: [UInt8]
        var keyLength: Int
        var originator: OriginatorKey
    }

    /// One encrypted attachment, as its EncryptedData describes it.
    struct DataEntry {
        var id: String
        var contentID: String
        var mimeType: String
    }

    var recipient: Certificate
    var keyReference: KeyReferenceStyle
    /// `wsu:Id` of the BinarySecurityToken (used with `.binarySecurityToken` only).
    var tokenId: String

    /// `wsse:BinarySecurityToken` carrying the recipient certificate (X509v3).
    func writeToken(into w: inout XMLWriter) {
        w.open("wsse:BinarySecurityToken", [("xmlns:wsse", NS.wsse), ("xmlns:wsu", NS.wsu),
                                            ("EncodingType", Alg.base64Binary), ("ValueType", Alg.x509v3), ("wsu:Id", tokenId)])
        w.text(recipient.base64DER)
        w.close("wsse:BinarySecurityToken")
    }

    /// `xenc:EncryptedKey` with RSA-OAEP (SHA-256, MGF1-SHA256) or, when `agreement` is given,
    /// AES-128 key wrap under a key agreed by X25519 / ECDH-ES + HKDF.
    func writeEncryptedKey(id: String, cipherValue: [UInt8], agreement: Agreement?, dataIds: [String], into w: inout XMLWriter) {
        var declarations: [(String, String?)] = [("xmlns:xenc", NS.xenc), ("xmlns:ds", NS.ds), ("xmlns:wsse", NS.wsse),
                                                 ("xmlns:xenc11", NS.xenc11)]
        if agreement != nil {
            declarations += [("xmlns:dsig-more", NS.dsigMore2021), ("xmlns:dsig11", NS.dsig11)]
        }
        w.open("xenc:EncryptedKey", declarations + [("Id", id)])
        if let agreement {
            w.open("xenc:EncryptionMethod", [("Algorithm", Alg.kwAES128)], selfClosing: true)
            w.open("ds:KeyInfo")
            writeAgreement(agreement, into: &w)
            w.close("ds:KeyInfo")
        } else {
            w.open("xenc:EncryptionMethod", [("Algorithm", Alg.rsaOAEP11)])
            w.open("ds:DigestMethod", [("Algorithm", Alg.sha256)], selfClosing: true)
            w.open("xenc11:MGF", [("Algorithm", Alg.mgf1SHA256)], selfClosing: true)
            w.close("xenc:EncryptionMethod")
            w.open("ds:KeyInfo")
            writeRecipientReference(into: &w)
            w.close("ds:KeyInfo")
        }
        w.open("xenc:CipherData")
        w.element("xenc:CipherValue", text: Base64.encode(cipherValue))
        w.close("xenc:CipherData")
        w.open("xenc:ReferenceList")
        for dataId in dataIds { w.open("xenc:DataReference", [("URI", "#" + dataId)], selfClosing: true) }
        w.close("xenc:ReferenceList")
        w.close("xenc:EncryptedKey")
    }

    /// `xenc:AgreementMethod`: the mixed namespaces are deliberate (AS4-WIRE §3.8).
    private func writeAgreement(_ agreement: Agreement, into w: inout XMLWriter) {
        w.open("xenc:AgreementMethod", [("Algorithm", agreement.algorithm)])
        w.open("xenc11:KeyDerivationMethod", [("Algorithm", Alg.hkdf)])
        w.open("dsig-more:HKDFParams")
        w.open("dsig-more:PRF", [("Algorithm", Alg.hmacSHA256)], selfClosing: true)
        w.element("dsig-more:Salt", text: Base64.encode(agreement.salt))
        w.element("dsig-more:KeyLength", text: String(agreement.keyLength))
        w.close("dsig-more:HKDFParams")
        w.close("xenc11:KeyDerivationMethod")
        w.open("xenc:OriginatorKeyInfo")
        switch agreement.originator {
        case .subjectPublicKeyInfo(let der):
            w.element("dsig11:DEREncodedKeyValue", text: Base64.encode(der))
        case .ecPoint(let curve, let point):
            w.open("ds:KeyValue")
            w.open("dsig11:ECKeyValue")
            w.open("dsig11:NamedCurve", [("URI", curve)], selfClosing: true)
            w.element("dsig11:PublicKey", text: Base64.encode(point))
            w.close("dsig11:ECKeyValue")
            w.close("ds:KeyValue")
        }
        w.close("xenc:OriginatorKeyInfo")
        w.open("xenc:RecipientKeyInfo")
        writeRecipientReference(into: &w)
        w.close("xenc:RecipientKeyInfo")
        w.close("xenc:AgreementMethod")
    }

    /// The SecurityTokenReference naming the recipient certificate in the chosen style. A
    /// certificate without the SKI extension gets a ThumbprintSHA1 instead (BSP R5206/R5210).
    private func writeRecipientReference(into w: inout XMLWriter) {
        w.open("wsse:SecurityTokenReference")
        switch keyReference {
        case .binarySecurityToken:
            w.open("wsse:Reference", [("URI", "#" + tokenId), ("ValueType", Alg.x509v3)], selfClosing: true)
        case .subjectKeyIdentifier:
            let (valueType, value) = recipient.subjectKeyIdentifier.map { (Alg.x509SKI, $0) }
                ?? (Alg.thumbprintSHA1, recipient.sha1Thumbprint)
            w.element("wsse:KeyIdentifier", [("EncodingType", Alg.base64Binary), ("ValueType", valueType)], text: Base64.encode(value))
        case .issuerSerial:
            w.open("ds:X509Data")
            w.open("ds:X509IssuerSerial")
            w.element("ds:X509IssuerName", text: recipient.issuer)
            w.element("ds:X509SerialNumber", text: recipient.serialNumber)
            w.close("ds:X509IssuerSerial")
            w.close("ds:X509Data")
        }
        w.close("wsse:SecurityTokenReference")
    }

    /// `xenc:EncryptedData` for one attachment: Content-Only, AES-128-GCM, keyed by the EncryptedKey.
    func writeEncryptedData(_ entry: DataEntry, keyId: String, into w: inout XMLWriter) {
        w.open("xenc:EncryptedData", [("xmlns:xenc", NS.xenc), ("xmlns:ds", NS.ds), ("xmlns:wsse", NS.wsse),
                                      ("xmlns:wsse11", NS.wsse11), ("Id", entry.id), ("MimeType", entry.mimeType),
                                      ("Type", Alg.attachmentContentOnly)])
        w.open("xenc:EncryptionMethod", [("Algorithm", Alg.aes128GCM)], selfClosing: true)
        w.open("ds:KeyInfo")
        w.open("wsse:SecurityTokenReference", [("wsse11:TokenType", Alg.encryptedKeyToken)])
        w.open("wsse:Reference", [("URI", "#" + keyId)], selfClosing: true)
        w.close("wsse:SecurityTokenReference")
        w.close("ds:KeyInfo")
        w.open("xenc:CipherData")
        w.open("xenc:CipherReference", [("URI", Self.cidURI(entry.contentID))])
        w.open("xenc:Transforms")
        w.open("ds:Transform", [("Algorithm", Alg.attachmentCiphertext)], selfClosing: true)
        w.close("xenc:Transforms")
        w.close("xenc:CipherReference")
        w.close("xenc:CipherData")
        w.close("xenc:EncryptedData")
    }

    /// `cid:` URL of a Content-ID (RFC 2392): bytes outside the URL-safe set are percent-encoded,
    /// so the receiver's percent-decoding gives back the exact id.
    static func cidURI(_ contentID: String) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = Array("cid:".utf8)
        for b in contentID.utf8 {
            let safe = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || "-._~@!$&'()*+,;=:/".utf8.contains(b)
            if safe {
                out.append(b)
            } else {
                out += [UInt8(ascii: "%"), digits[Int(b >> 4)], digits[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
