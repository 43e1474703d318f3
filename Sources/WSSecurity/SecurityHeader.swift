import EnvelopeXML

/// How a signature or an encrypted key names its certificate (WSS X.509 Token Profile §3.2).
public enum KeyReference: Equatable, Sendable {
    /// `wsse:Reference URI="#id"` to a BinarySecurityToken in the same header.
    case tokenReference(id: String, valueType: String?)
    case subjectKeyIdentifier([UInt8])
    case thumbprintSHA1([UInt8])
    case issuerSerial(issuer: String, serial: String)
    /// A certificate carried directly in `ds:X509Data/ds:X509Certificate`.
    case embeddedCertificate([UInt8])
    /// `wsse:Reference` to an EncryptedKey (used by EncryptedData).
    case encryptedKey(id: String)
}

public struct BinarySecurityToken: Sendable {
    public var id: String?
    public var valueType: String?
    /// DER bytes: one certificate (X509v3) or a PkiPath sequence (X509PKIPathv1).
    public var der: [UInt8]
}

public struct TransformInfo: Equatable, Sendable {
    public var algorithm: String
    public var inclusivePrefixes: [String]?
}

public struct ReferenceInfo {
    public var element: XMLElement
    public var uri: String
    public var transforms: [TransformInfo]
    public var digestMethod: String
    public var digestValue: [UInt8]
}

public struct SignatureInfo {
    public var element: XMLElement
    public var signedInfo: XMLElement
    public var canonicalizationMethod: String
    public var canonicalizationPrefixes: [String]
    public var signatureMethod: String
    public var references: [ReferenceInfo]
    public var signatureValue: [UInt8]
    public var keyReference: KeyReference?
}

public struct SecurityTimestamp {
    /// The `wsu:Timestamp` itself: it counts as signed only when a reference resolved to this
    /// very node, whatever Id it carries (or lacks).
    public var element: XMLElement
    public var id: String?
    public var created: Timestamp?
    public var expires: Timestamp?
}

/// The parts of a `wsse:Security` header this gateway understands, read without judging them:
/// policy checks happen in the verifier, so every refusal can name the precise rule it broke.
public struct SecurityHeader {
    public var element: XMLElement
    public var tokens: [BinarySecurityToken]
    public var signatures: [SignatureInfo]
    public var timestamp: SecurityTimestamp?
    public var encryptedKeys: [EncryptedKeyInfo]
    public var encryptedData: [EncryptedDataInfo]

    public static func read(_ security: XMLElement) throws(EbmsError) -> SecurityHeader {
        var header = SecurityHeader(element: security, tokens: [], signatures: [], timestamp: nil,
                                    encryptedKeys: [], encryptedData: [])
        for child in security.children {
            switch (child.namespaceURI, child.localName) {
            case (NS.wsse, "BinarySecurityToken"):
                guard let der = Base64.decode(child.text) else { throw policy("BinarySecurityToken is not valid base64") }
                if let enc = child.attribute("EncodingType"), enc != Alg.base64Binary {
                    throw policy("BinarySecurityToken EncodingType \(enc) is not Base64Binary")
                }
                header.tokens.append(BinarySecurityToken(id: wsuId(child), valueType: child.attribute("ValueType"), der: der))
            case (NS.ds, "Signature"):
                header.signatures.append(try readSignature(child))
            case (NS.wsu, "Timestamp"):
                guard header.timestamp == nil else { throw policy("more than one wsu:Timestamp") }
                func time(_ name: String) throws(EbmsError) -> Timestamp? {
                    guard let e = child.firstChild(name, NS.wsu) else { return nil }
                    guard let t = Timestamp(lexical: e.trimmedText) else { throw policy("wsu:\(name) is not an xsd:dateTime") }
                    return t
                }
                header.timestamp = SecurityTimestamp(element: child, id: wsuId(child), created: try time("Created"), expires: try time("Expires"))
            case (NS.xenc, "EncryptedKey"):
                header.encryptedKeys.append(try EncryptedKeyInfo.read(child))
            case (NS.xenc, "EncryptedData"):
                header.encryptedData.append(try EncryptedDataInfo.read(child))
            default:
                continue  // UsernameToken, SignatureConfirmation, ...: not used by AS4, ignored
            }
        }
        return header
    }

    static func readSignature(_ sig: XMLElement) throws(EbmsError) -> SignatureInfo {
        guard let signedInfo = sig.firstChild("SignedInfo", NS.ds) else { throw auth("ds:Signature has no ds:SignedInfo") }
        guard let c14n = signedInfo.firstChild("CanonicalizationMethod", NS.ds),
              let c14nAlg = c14n.attribute("Algorithm") else {
            throw auth("ds:SignedInfo has no CanonicalizationMethod")
        }
        guard let sm = signedInfo.firstChild("SignatureMethod", NS.ds), let smAlg = sm.attribute("Algorithm") else {
            throw auth("ds:SignedInfo has no SignatureMethod")
        }
        var refs: [ReferenceInfo] = []
        for r in signedInfo.children("Reference", NS.ds) {
            guard let uri = r.attribute("URI") else { throw auth("ds:Reference without URI") }
            var transforms: [TransformInfo] = []
            if let ts = r.firstChild("Transforms", NS.ds) {
                for t in ts.children("Transform", NS.ds) {
                    guard let alg = t.attribute("Algorithm") else { throw auth("ds:Transform without Algorithm") }
                    transforms.append(TransformInfo(algorithm: alg, inclusivePrefixes: inclusivePrefixes(t)))
                }
            }
            guard let dm = r.firstChild("DigestMethod", NS.ds)?.attribute("Algorithm") else {
                throw auth("ds:Reference \(uri) has no DigestMethod")
            }
            guard let dvText = r.firstChild("DigestValue", NS.ds)?.text, let dv = Base64.decode(dvText) else {
                throw auth("ds:Reference \(uri) has no valid DigestValue")
            }
            refs.append(ReferenceInfo(element: r, uri: uri, transforms: transforms, digestMethod: dm, digestValue: dv))
        }
        guard let svText = sig.firstChild("SignatureValue", NS.ds)?.text, let sv = Base64.decode(svText) else {
            throw auth("ds:Signature has no valid SignatureValue")
        }
        var keyRef: KeyReference?
        if let keyInfo = sig.firstChild("KeyInfo", NS.ds) {
            keyRef = try readKeyInfo(keyInfo)
        }
        return SignatureInfo(element: sig, signedInfo: signedInfo, canonicalizationMethod: c14nAlg,
                             canonicalizationPrefixes: inclusivePrefixes(c14n) ?? [], signatureMethod: smAlg,
                             references: refs, signatureValue: sv, keyReference: keyRef)
    }

    /// Reads a `ds:KeyInfo` (or `xenc:RecipientKeyInfo`) holding a SecurityTokenReference or X509Data.
    static func readKeyInfo(_ keyInfo: XMLElement) throws(EbmsError) -> KeyReference? {
        if let str = keyInfo.firstChild("SecurityTokenReference", NS.wsse) {
            return try readSTR(str)
        }
        if let data = keyInfo.firstChild("X509Data", NS.ds) {
            return try readX509Data(data)
        }
        return nil
    }

    static func readSTR(_ str: XMLElement) throws(EbmsError) -> KeyReference {
        if let r = str.firstChild("Reference", NS.wsse), let uri = r.attribute("URI") {
            guard uri.hasPrefix("#") else { throw policy("SecurityTokenReference to an external token \(uri)") }
            let id = String(uri.dropFirst())
            if str.attribute("TokenType", NS.wsse11) == Alg.encryptedKeyToken || r.attribute("ValueType") == Alg.encryptedKeyToken {
                return .encryptedKey(id: id)
            }
            return .tokenReference(id: id, valueType: r.attribute("ValueType"))
        }
        if let k = str.firstChild("KeyIdentifier", NS.wsse) {
            guard let value = Base64.decode(k.text) else { throw policy("KeyIdentifier is not valid base64") }
            switch k.attribute("ValueType") {
            case Alg.x509SKI: return .subjectKeyIdentifier(value)
            case Alg.thumbprintSHA1: return .thumbprintSHA1(value)
            case let other: throw policy("unsupported KeyIdentifier ValueType \(other ?? "(none)")")
            }
        }
        if let data = str.firstChild("X509Data", NS.ds) {
            return try readX509Data(data)
        }
        throw policy("SecurityTokenReference names no token this gateway can resolve")
    }

    static func readX509Data(_ data: XMLElement) throws(EbmsError) -> KeyReference {
        if let is_ = data.firstChild("X509IssuerSerial", NS.ds),
           let issuer = is_.firstChild("X509IssuerName", NS.ds)?.trimmedText,
           let serial = is_.firstChild("X509SerialNumber", NS.ds)?.trimmedText {
            return .issuerSerial(issuer: issuer, serial: serial)
        }
        if let ski = data.firstChild("X509SKI", NS.ds), let value = Base64.decode(ski.text) {
            return .subjectKeyIdentifier(value)
        }
        if let cert = data.firstChild("X509Certificate", NS.ds), let der = Base64.decode(cert.text) {
            return .embeddedCertificate(der)
        }
        throw policy("ds:X509Data holds no issuer/serial, SKI or certificate")
    }

    static func inclusivePrefixes(_ e: XMLElement) -> [String]? {
        guard let inc = e.firstChild("InclusiveNamespaces", NS.excC14N) else { return nil }
        return (inc.attribute("PrefixList") ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)
    }

    static func wsuId(_ e: XMLElement) -> String? { e.attribute("Id", NS.wsu) ?? e.attribute("Id") ?? e.attribute("id") }
    static func auth(_ reason: String) -> EbmsError { EbmsError(.failedAuthentication, reason) }
    static func policy(_ reason: String) -> EbmsError { EbmsError(.policyNoncompliance, reason) }
}
