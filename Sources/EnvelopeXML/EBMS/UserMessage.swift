/// The ebMS3 message model (ebMS 3.0 Core §5.2). Plain values: what the wire says, nothing else.

public struct MessageInfo: Equatable, Hashable, Sendable {
    public var timestamp: Timestamp
    /// RFC 2822 msg-id without angle brackets.
    public var messageId: String
    public var refToMessageId: String?

    public init(timestamp: Timestamp = Timestamp(), messageId: String, refToMessageId: String? = nil) {
        self.timestamp = timestamp
        self.messageId = messageId
        self.refToMessageId = refToMessageId
    }
}

public struct PartyId: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var value: String
    /// Absent means the value itself must be a URI (ebMS3 §5.2.2.4).
    public var type: String?

    public init(_ value: String, type: String? = nil) {
        self.value = value
        self.type = type
    }

    public var description: String { type.map { "\($0)::\(value)" } ?? value }
}

public struct Party: Equatable, Hashable, Sendable {
    public var ids: [PartyId]
    public var role: String

    public init(ids: [PartyId], role: String = EbmsConstants.defaultRole) {
        self.ids = ids
        self.role = role
    }

    public init(_ id: PartyId, role: String = EbmsConstants.defaultRole) {
        self.init(ids: [id], role: role)
    }

    /// The id the store and the logs keep for the party: its only one, or of several (which
    /// P-Mode selection takes only when they all name one party) the least by description, so
    /// a sender that lists them in another order (a retry built anew) is still the same sender
    /// to duplicate detection.
    public var recordedId: PartyId? {
        ids.count > 1 ? ids.min { $0.description < $1.description } : ids.first
    }
}

public struct AgreementRef: Equatable, Hashable, Sendable {
    public var value: String
    public var type: String?
    /// The P-Mode id (`@pmode`).
    public var pmode: String?

    public init(_ value: String, type: String? = nil, pmode: String? = nil) {
        self.value = value
        self.type = type
        self.pmode = pmode
    }
}

public struct Service: Equatable, Hashable, Sendable {
    public var value: String
    public var type: String?

    public init(_ value: String, type: String? = nil) {
        self.value = value
        self.type = type
    }
}

public struct CollaborationInfo: Equatable, Hashable, Sendable {
    public var agreementRef: AgreementRef?
    public var service: Service
    public var action: String
    public var conversationId: String

    public init(agreementRef: AgreementRef? = nil, service: Service, action: String, conversationId: String) {
        self.agreementRef = agreementRef
        self.service = service
        self.action = action
        self.conversationId = conversationId
    }
}

public struct Property: Equatable, Hashable, Sendable {
    public var name: String
    public var value: String
    public var type: String?

    public init(_ name: String, _ value: String, type: String? = nil) {
        self.name = name
        self.value = value
        self.type = type
    }
}

extension Array where Element == Property {
    public subscript(name: String) -> String? { first { $0.name == name }?.value }
}

public struct PartSchema: Equatable, Hashable, Sendable {
    public var location: String
    public var version: String?
    public var namespace: String?

    public init(location: String, version: String? = nil, namespace: String? = nil) {
        self.location = location
        self.version = version
        self.namespace = namespace
    }
}

public struct PartDescription: Equatable, Hashable, Sendable {
    public var text: String
    public var lang: String?

    public init(_ text: String, lang: String? = nil) {
        self.text = text
        self.lang = lang
    }
}

public struct PartInfo: Equatable, Hashable, Sendable {
    /// `cid:...` for a MIME part; nil means the SOAP Body (not allowed by eDelivery).
    public var href: String?
    public var schemas: [PartSchema]
    public var description: PartDescription?
    public var properties: [Property]

    public init(href: String?, schemas: [PartSchema] = [], description: PartDescription? = nil, properties: [Property] = []) {
        self.href = href
        self.schemas = schemas
        self.description = description
        self.properties = properties
    }

    /// The Content-ID this part refers to, when `href` is a `cid:` URI. Decoded as the MIME
    /// side decodes its Content-ID headers, so both name a part alike.
    public var contentID: String? {
        guard let href, href.hasPrefix("cid:") else { return nil }
        return ContentID.percentDecode(String(href.dropFirst(4)))
    }

    public var isCompressed: Bool { properties[EbmsConstants.compressionType] != nil }
    public var mimeType: String? { properties[EbmsConstants.mimeType] }
}

public struct UserMessage: Equatable, Hashable, Sendable {
    /// nil = the default MPC.
    public var mpc: String?
    public var messageInfo: MessageInfo
    public var from: Party
    public var to: Party
    public var collaboration: CollaborationInfo
    public var properties: [Property]
    public var payloads: [PartInfo]

    public init(mpc: String? = nil, messageInfo: MessageInfo, from: Party, to: Party,
                collaboration: CollaborationInfo, properties: [Property] = [], payloads: [PartInfo] = []) {
        self.mpc = mpc
        self.messageInfo = messageInfo
        self.from = from
        self.to = to
        self.collaboration = collaboration
        self.properties = properties
        self.payloads = payloads
    }

    public var originalSender: String? { properties[EbmsConstants.originalSender] }
    public var finalRecipient: String? { properties[EbmsConstants.finalRecipient] }
}

