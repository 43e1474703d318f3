import AS4Crypto
import EnvelopeXML
import Foundation

/// A `ds:Reference` as sent: kept with the outbound message so the receipt's
/// NonRepudiationInformation can be checked against it (AS4-WIRE §5.3).
public struct SentReference: Equatable, Sendable, Codable {
    public var uri: String
    public var transforms: [String]
    public var digestMethod: String
    public var digestValue: [UInt8]

    public init(uri: String, transforms: [String], digestMethod: String, digestValue: [UInt8]) {
        self.uri = uri
        self.transforms = transforms
        self.digestMethod = digestMethod
        self.digestValue = digestValue
    }
}

/// Our key and certificate for signing.
public struct SigningIdentity: Sendable {
    public var privateKey: PrivateKey
    public var certificate: Certificate

    public init(privateKey: PrivateKey, certificate: Certificate) {
        self.privateKey = privateKey
        self.certificate = certificate
    }

    /// The eDelivery algorithm for this key: RSA-SHA256 (profile 1.15), Ed25519 or ECDSA-SHA256 (2.0).
    public var defaultAlgorithm: SignatureAlgorithm {
        switch privateKey.keyType {
        case .ed25519: return .ed25519
        case .ec(.p384): return .ecdsaSHA384
        case .ec: return .ecdsaSHA256
        default: return .rsaSHA256
        }
    }

    /// The algorithm to sign with where only `allowed` URIs are accepted (a leg's policy): the
    /// default when allowed, else the first allowed one this key can make. eDelivery 2.0 names
    /// ecdsa-sha256 whatever the curve, so a P-384 key must not sign with its default
    /// ecdsa-sha384 there (a 2.0 receiver refuses it). Nil when no allowed algorithm fits the key.
    public func algorithm(allowedBy allowed: Set<String>) -> SignatureAlgorithm? {
        if allowed.contains(defaultAlgorithm.uri) { return defaultAlgorithm }
        return SignatureAlgorithm.allCases.first { !$0.isLegacy && allowed.contains($0.uri) && $0.accepts(privateKey.keyType) }
    }
}

/// Signs an AS4 envelope: the Body, the `eb:Messaging` header and every attachment (with the
/// Attachment-Content-Signature-Transform), exclusive C14N, SHA-256 digests.
///
/// The SignedInfo is written directly in its canonical form and those very bytes are signed
/// and embedded, so no second parse is needed; the verifier's canonicalisation of the embedded
/// element yields the same bytes (tests hold us to it).
public final class SignatureBuilder {
    public let identity: SigningIdentity
    public let algorithm: SignatureAlgorithm
    public let keyReference: KeyReferenceStyle
    public let digest: DigestAlgorithm
    private let context: SigningContext

    public init(identity: SigningIdentity, algorithm: SignatureAlgorithm? = nil,
                keyReference: KeyReferenceStyle = .binarySecurityToken, digest: DigestAlgorithm = .sha256) throws {
        self.identity = identity
        self.algorithm = algorithm ?? identity.defaultAlgorithm
        self.keyReference = keyReference
        self.digest = digest
        self.context = try SigningContext(key: identity.privateKey, algorithm: self.algorithm)
        if keyReference == .subjectKeyIdentifier, identity.certificate.subjectKeyIdentifier == nil {
            throw EbmsError(.other, "the signing certificate has no Subject Key Identifier; use a BST or issuer/serial reference")
        }
    }

    public struct Attachment {
        public var contentID: String
        public var mediaType: MediaType?
        public var body: PartBody

        public init(contentID: String, mediaType: MediaType?, body: PartBody) {
            self.contentID = contentID
            self.mediaType = mediaType
            self.body = body
        }
    }

    public struct Output {
        /// The `wsse:BinarySecurityToken` (if any) and `ds:Signature`, to go into `wsse:Security`.
        public var headerElements: [UInt8]
        public var references: [SentReference]
    }

    /// - Parameter envelope: the envelope as built without a Security header; `messagingId` and
    ///   `bodyId` are the `wsu:Id` values it carries. The builder's canonical ranges are digested
    ///   as they stand; foreign header content (receipts) is canonicalised through libxml2.
    public func sign(envelope: BuiltEnvelope, messagingId: String, bodyId: String, attachments: [Attachment]) throws -> Output {
        var messagingCanonical = Array(envelope.bytes[envelope.messagingRange])
        if !envelope.messagingIsCanonical {
            let document = try XMLDocument(parsing: envelope.bytes)
            guard let messaging = try IdentifierIndex(document: document).element(for: messagingId) else {
                throw EbmsError(.other, "the envelope lacks the eb:Messaging to sign")
            }
            messagingCanonical = try Canonicalizer.exclusive(messaging)
        }
        let c14n = Alg.excC14N
        var references: [SentReference] = []
        for (id, bytes) in [(bodyId, Array(envelope.bytes[envelope.bodyRange])), (messagingId, messagingCanonical)] {
            references.append(SentReference(uri: "#\(id)", transforms: [c14n], digestMethod: digest.xmlURI,
                                            digestValue: try Digest.hash(bytes, algorithm: digest)))
        }
        for a in attachments {
            let value = try AttachmentDigest.digest(a.body, mediaType: a.mediaType, algorithm: digest)
            references.append(SentReference(uri: "cid:\(a.contentID)", transforms: [Alg.attachmentContentSignature],
                                            digestMethod: digest.xmlURI, digestValue: value))
        }

        let signedInfo = Self.canonicalSignedInfo(references: references, signatureMethod: algorithm.uri)
        let signatureValue = try context.sign(signedInfo)

        var w = XMLWriter(capacity: 4096 + signedInfo.count)
        let tokenId = "X509-" + Identifier.uuid()
        if keyReference == .binarySecurityToken {
            w.open("wsse:BinarySecurityToken", [("EncodingType", Alg.base64Binary), ("ValueType", Alg.x509v3), ("wsu:Id", tokenId)])
            w.text(Base64.encode(identity.certificate.derBytes))
            w.close("wsse:BinarySecurityToken")
        }
        w.open("ds:Signature", [("xmlns:ds", NS.ds), ("Id", "SIG-" + Identifier.uuid())])
        w.raw(signedInfo)
        w.element("ds:SignatureValue", text: Base64.encode(signatureValue))
        w.open("ds:KeyInfo")
        Self.writeSecurityTokenReference(for: identity.certificate, style: keyReference, tokenId: tokenId, into: &w)
        w.close("ds:KeyInfo")
        w.close("ds:Signature")
        return Output(headerElements: w.bytes, references: references)
    }

    /// `ds:SignedInfo` in exclusive-canonical form: namespace declared on the apex, empty
    /// elements written as start/end pairs, no whitespace between elements.
    static func canonicalSignedInfo(references: [SentReference], signatureMethod: String) -> [UInt8] {
        var w = XMLWriter(capacity: 2048)
        w.raw("<ds:SignedInfo xmlns:ds=\"\(NS.ds)\">")
        w.raw("<ds:CanonicalizationMethod Algorithm=\"\(Alg.excC14N)\"></ds:CanonicalizationMethod>")
        w.raw("<ds:SignatureMethod Algorithm=\"\(signatureMethod)\"></ds:SignatureMethod>")
        for r in references {
            w.raw("<ds:Reference URI=\"")
            w.canonicalAttributeValue(r.uri)
            w.raw("\"><ds:Transforms>")
            for t in r.transforms { w.raw("<ds:Transform Algorithm=\"\(t)\"></ds:Transform>") }
            w.raw("</ds:Transforms><ds:DigestMethod Algorithm=\"\(r.digestMethod)\"></ds:DigestMethod><ds:DigestValue>")
            w.raw(Base64.encode(r.digestValue))
            w.raw("</ds:DigestValue></ds:Reference>")
        }
        w.raw("</ds:SignedInfo>")
        return w.bytes
    }

    /// A SecurityTokenReference naming `certificate` in the chosen style (a BST reference
    /// needs the token written under `tokenId`).
    static func writeSecurityTokenReference(for certificate: Certificate, style: KeyReferenceStyle, tokenId: String,
                                            into w: inout XMLWriter) {
        w.open("wsse:SecurityTokenReference")
        switch style {
        case .binarySecurityToken:
            w.open("wsse:Reference", [("URI", "#" + tokenId), ("ValueType", Alg.x509v3)], selfClosing: true)
        case .subjectKeyIdentifier:
            w.element("wsse:KeyIdentifier", [("EncodingType", Alg.base64Binary), ("ValueType", Alg.x509SKI)],
                      text: Base64.encode(certificate.subjectKeyIdentifier ?? []))
        case .issuerSerial:
            w.open("ds:X509Data", [("xmlns:ds", NS.ds)])
            w.open("ds:X509IssuerSerial")
            w.element("ds:X509IssuerName", text: certificate.issuer)
            w.element("ds:X509SerialNumber", text: certificate.serialNumber)
            w.close("ds:X509IssuerSerial")
            w.close("ds:X509Data")
        }
        w.close("wsse:SecurityTokenReference")
    }

    /// The complete `wsse:Security` header block: encryption elements first (a receiver
    /// processes them in document order: decrypt, then verify), then token and signature.
    public static func securityHeader(signature: Output?, encryption: [UInt8]?, soapPrefix: String = "env") -> [UInt8] {
        var w = XMLWriter(capacity: 8192)
        w.open("wsse:Security", [("xmlns:wsse", NS.wsse), ("xmlns:wsu", NS.wsu), ("xmlns:wsse11", NS.wsse11),
                                 ("\(soapPrefix):mustUnderstand", "true")])
        if let encryption { w.raw(encryption) }
        if let signature { w.raw(signature.headerElements) }
        w.close("wsse:Security")
        return w.bytes
    }
}

extension XMLWriter {
    /// Attribute escaping of Canonical XML: `&`, `<`, `"` and the whitespace characters as
    /// character references; `>` stays literal.
    mutating func canonicalAttributeValue(_ s: String) {
        for b in s.utf8 {
            switch b {
            case 0x26: raw("&amp;")
            case 0x3C: raw("&lt;")
            case 0x22: raw("&quot;")
            case 0x09: raw("&#x9;")
            case 0x0A: raw("&#xA;")
            case 0x0D: raw("&#xD;")
            default: raw([b])
            }
        }
    }
}
