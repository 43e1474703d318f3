/// A SOAP envelope carrying an `eb:Messaging` header, parsed and structurally validated.
///
/// Keeps the parsed tree and the exact `eb:Messaging`, Header and Body elements that the model
/// was read from: the security layer must verify those very nodes (signature-wrapping defence),
/// never re-query the document.
public struct ParsedEnvelope {
    public let document: XMLDocument
    public let soapVersion: SOAPVersion
    public let messaging: Messaging
    public let envelopeElement: XMLElement
    public let headerElement: XMLElement
    public let messagingElement: XMLElement
    public let bodyElement: XMLElement
    /// `wsse:Security` header blocks aimed at us, the ultimate receiver (no role, `next` or
    /// `ultimateReceiver`); blocks for other roles are left out. The profile allows exactly one;
    /// the security layer checks.
    public let securityHeaders: [XMLElement]
    /// Deviations from the eDelivery AS4 profile that ebMS3 Core tolerates. A strict receiver
    /// turns them into the error each one names; `inspect` reports them.
    public let profileFindings: [ProfileFinding]
    /// Header blocks aimed at us with mustUnderstand set that we do not process: SOAP 1.2 Part 1
    /// §5.2.3 forbids processing such a message; it gets an env:MustUnderstand fault naming them.
    public var notUnderstood: [HeaderBlockName] = []

    public var hasSignature: Bool {
        securityHeaders.contains { $0.firstChild("Signature", NS.ds) != nil }
    }

    public var hasEncryptedParts: Bool {
        securityHeaders.contains { sec in
            sec.children.contains { $0.isElement("EncryptedData", NS.xenc) || $0.isElement("EncryptedKey", NS.xenc) }
        }
    }

    /// True when the SOAP Body has content (a payload in the Body, or a SOAP Fault).
    public var bodyHasContent: Bool { !bodyElement.children.isEmpty || bodyElement.hasNonWhitespaceText }
}

/// Which header blocks a receiving MSH acts on (SOAP 1.2 Part 1 §2.2): the ultimate receiver
/// acts in the `next` and `ultimateReceiver` roles, and a block without a role is for the ultimate
/// receiver. SOAP 1.1's `actor` has only `next` besides the default.
public enum SOAPRole {
    public static let next12 = "http://www.w3.org/2003/05/soap-envelope/role/next"
    public static let ultimateReceiver12 = "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
    public static let next11 = "http://schemas.xmlsoap.org/soap/actor/next"

    public static func targetsUltimateReceiver(_ block: XMLElement, _ version: SOAPVersion) -> Bool {
        let role = (version == .soap12 ? block.attribute("role", NS.soap12) : block.attribute("actor", NS.soap11))?.trimmingXMLWhitespace()
        guard let role, !role.isEmpty else { return true }
        return version == .soap12 ? [next12, ultimateReceiver12].contains(role) : role == next11
    }

    /// Whether the block's mustUnderstand says it must be processed ("true"/"1").
    public static func mustUnderstand(_ block: XMLElement, _ version: SOAPVersion) -> Bool {
        let value = block.attribute("mustUnderstand", version.namespace)?.trimmingXMLWhitespace()
        return value == "true" || value == "1"
    }
}

/// One way a message departs from the eDelivery AS4 profile while still being valid ebMS3.
public struct ProfileFinding: Equatable, Sendable, CustomStringConvertible {
    public var code: EbmsError.Code
    public var message: String

    public init(_ code: EbmsError.Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
    public var error: EbmsError { EbmsError(code, message) }
}

extension ParsedEnvelope {
    /// Content-IDs of the MIME parts that `xenc:EncryptedData` elements in the Security header
    /// point at: those parts travel as ciphertext.
    public var encryptedContentIDs: Set<String> {
        var out: Set<String> = []
        for sec in securityHeaders {
            for data in sec.children("EncryptedData", NS.xenc) {
                guard let uri = data.firstChild("CipherData", NS.xenc)?.firstChild("CipherReference", NS.xenc)?.attribute("URI"),
                      uri.hasPrefix("cid:") else { continue }
                out.insert(ContentID.normalize(uri))
            }
        }
        return out
    }

    /// The original media type an `xenc:EncryptedData` records for an encrypted part.
    public func encryptedMimeType(contentID: String) -> String? {
        for sec in securityHeaders {
            for data in sec.children("EncryptedData", NS.xenc) {
                if let uri = data.firstChild("CipherData", NS.xenc)?.firstChild("CipherReference", NS.xenc)?.attribute("URI"),
                   ContentID.normalize(uri) == contentID {
                    return data.attribute("MimeType")
                }
            }
        }
        return nil
    }
}
