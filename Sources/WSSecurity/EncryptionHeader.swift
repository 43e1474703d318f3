import EnvelopeXML

/// HKDF parameters of the eDelivery AS4 2.0 key agreement (AS4-WIRE §3.8).
public struct HKDFParameters: Equatable, Sendable {
    public var prf: String
    public var salt: [UInt8]
    public var info: [UInt8]
    /// In bytes.
    public var keyLength: Int
}

/// The originator's ephemeral public key of a key agreement.
public enum OriginatorKey: Equatable, Sendable {
    /// `dsig11:DEREncodedKeyValue`: a DER SubjectPublicKeyInfo (X25519 in eDelivery 2.0).
    case subjectPublicKeyInfo([UInt8])
    /// `dsig11:ECKeyValue`: named curve OID URI and uncompressed point.
    case ecPoint(curve: String, point: [UInt8])
}

public struct KeyAgreementInfo: Equatable, Sendable {
    public var algorithm: String
    public var keyDerivation: String
    public var hkdf: HKDFParameters?
    public var originator: OriginatorKey
    public var recipient: KeyReference?
}

/// An `xenc:EncryptedKey`: the content encryption key, transported (RSA-OAEP) or wrapped under
/// a key agreed with the recipient (X25519 / ECDH-ES + HKDF + AES key wrap).
public struct EncryptedKeyInfo {
    public var element: XMLElement
    public var id: String?
    public var algorithm: String
    /// OAEP digest (`ds:DigestMethod` inside EncryptionMethod); nil means the algorithm's default.
    public var oaepDigest: String?
    /// `xenc11:MGF`; nil means the algorithm's default (MGF1 with SHA-1).
    public var mgf: String?
    public var hasOAEPParams: Bool
    public var recipient: KeyReference?
    public var agreement: KeyAgreementInfo?
    public var cipherValue: [UInt8]
    public var dataReferences: [String]

    static func read(_ e: XMLElement) throws(EbmsError) -> EncryptedKeyInfo {
        guard let method = e.firstChild("EncryptionMethod", NS.xenc), let alg = method.attribute("Algorithm") else {
            throw decryption("xenc:EncryptedKey has no EncryptionMethod")
        }
        guard let cv = e.firstChild("CipherData", NS.xenc)?.firstChild("CipherValue", NS.xenc)?.text,
              let cipher = Base64.decode(cv) else {
            throw decryption("xenc:EncryptedKey has no valid CipherValue")
        }
        var recipient: KeyReference?
        var agreement: KeyAgreementInfo?
        if let keyInfo = e.firstChild("KeyInfo", NS.ds) {
            if let am = keyInfo.firstChild("AgreementMethod", NS.xenc) {
                agreement = try readAgreement(am)
            } else {
                recipient = try SecurityHeader.readKeyInfo(keyInfo)
            }
        }
        let refs = e.firstChild("ReferenceList", NS.xenc)?.children("DataReference", NS.xenc).compactMap { $0.attribute("URI") } ?? []
        return EncryptedKeyInfo(element: e, id: SecurityHeader.wsuId(e), algorithm: alg,
                                oaepDigest: method.firstChild("DigestMethod", NS.ds)?.attribute("Algorithm"),
                                mgf: method.firstChild("MGF", NS.xenc11)?.attribute("Algorithm"),
                                hasOAEPParams: method.firstChild("OAEPparams", NS.xenc) != nil,
                                recipient: recipient, agreement: agreement, cipherValue: cipher, dataReferences: refs)
    }

    static func readAgreement(_ am: XMLElement) throws(EbmsError) -> KeyAgreementInfo {
        guard let alg = am.attribute("Algorithm") else { throw decryption("xenc:AgreementMethod has no Algorithm") }
        guard let kdm = am.firstChild("KeyDerivationMethod", NS.xenc11), let kdAlg = kdm.attribute("Algorithm") else {
            throw decryption("xenc:AgreementMethod has no KeyDerivationMethod")
        }
        var hkdf: HKDFParameters?
        if let p = kdm.firstChild("HKDFParams", NS.dsigMore2021) {
            let prf = p.firstChild("PRF", NS.dsigMore2021)?.attribute("Algorithm") ?? ""
            // Absent means empty (RFC 5869 defaults); present but not base64 is an error, not an
            // empty value: it would derive another key and fail later as an unexplained GCM failure.
            func octets(_ name: String) throws(EbmsError) -> [UInt8] {
                guard let e = p.firstChild(name, NS.dsigMore2021) else { return [] }
                guard let bytes = Base64.decode(e.text) else { throw decryption("HKDFParams \(name) is not valid base64") }
                return bytes
            }
            let salt = try octets("Salt")
            let info = try octets("Info")
            guard let lengthText = p.firstChild("KeyLength", NS.dsigMore2021)?.trimmedText, let length = Int(lengthText) else {
                throw decryption("HKDFParams has no valid KeyLength")
            }
            hkdf = HKDFParameters(prf: prf, salt: salt, info: info, keyLength: length)
        }
        guard let originatorInfo = am.firstChild("OriginatorKeyInfo", NS.xenc) else {
            throw decryption("xenc:AgreementMethod has no OriginatorKeyInfo")
        }
        let originator: OriginatorKey
        if let der = originatorInfo.firstChild("DEREncodedKeyValue", NS.dsig11), let bytes = Base64.decode(der.text) {
            originator = .subjectPublicKeyInfo(bytes)
        } else if let kv = originatorInfo.firstChild("KeyValue", NS.ds)?.firstChild("ECKeyValue", NS.dsig11),
                  let curve = kv.firstChild("NamedCurve", NS.dsig11)?.attribute("URI"),
                  let pointText = kv.firstChild("PublicKey", NS.dsig11)?.text, let point = Base64.decode(pointText) {
            originator = .ecPoint(curve: curve, point: point)
        } else {
            throw decryption("OriginatorKeyInfo holds no DEREncodedKeyValue or ECKeyValue")
        }
        var recipient: KeyReference?
        if let rki = am.firstChild("RecipientKeyInfo", NS.xenc) { recipient = try SecurityHeader.readKeyInfo(rki) }
        return KeyAgreementInfo(algorithm: alg, keyDerivation: kdAlg, hkdf: hkdf, originator: originator, recipient: recipient)
    }

    static func decryption(_ reason: String) -> EbmsError { EbmsError(.failedDecryption, reason) }
}

/// An `xenc:EncryptedData` for an attachment (SwA Attachment-Content-Only).
public struct EncryptedDataInfo {
    public var element: XMLElement
    public var id: String?
    public var type: String?
    /// The part's media type before encryption.
    public var mimeType: String?
    public var algorithm: String
    public var keyReference: KeyReference?
    /// `cid:...` of the MIME part holding the ciphertext.
    public var cipherReference: String?
    public var cipherTransforms: [String]

    static func read(_ e: XMLElement) throws(EbmsError) -> EncryptedDataInfo {
        guard let alg = e.firstChild("EncryptionMethod", NS.xenc)?.attribute("Algorithm") else {
            throw EncryptedKeyInfo.decryption("xenc:EncryptedData has no EncryptionMethod")
        }
        var keyRef: KeyReference?
        if let keyInfo = e.firstChild("KeyInfo", NS.ds) { keyRef = try SecurityHeader.readKeyInfo(keyInfo) }
        let cr = e.firstChild("CipherData", NS.xenc)?.firstChild("CipherReference", NS.xenc)
        let transforms = cr?.firstChild("Transforms", NS.xenc)?.children("Transform", NS.ds).compactMap { $0.attribute("Algorithm") } ?? []
        return EncryptedDataInfo(element: e, id: SecurityHeader.wsuId(e), type: e.attribute("Type"), mimeType: e.attribute("MimeType"),
                                 algorithm: alg, keyReference: keyRef, cipherReference: cr?.attribute("URI"),
                                 cipherTransforms: transforms)
    }
}
