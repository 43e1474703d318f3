/// An `eb:Error` element (ebMS3 §6.2).
public struct ErrorDetail: Equatable, Hashable, Sendable {
    public var errorCode: String
    public var severity: String
    public var origin: String?
    public var category: String?
    public var refToMessageInError: String?
    public var shortDescription: String?
    public var description: PartDescription?
    public var detail: String?

    public init(errorCode: String, severity: String, origin: String? = nil, category: String? = nil,
                refToMessageInError: String? = nil, shortDescription: String? = nil,
                description: PartDescription? = nil, detail: String? = nil) {
        self.errorCode = errorCode
        self.severity = severity
        self.origin = origin
        self.category = category
        self.refToMessageInError = refToMessageInError
        self.shortDescription = shortDescription
        self.description = description
        self.detail = detail
    }

    /// The wire form of one of our own errors.
    public init(_ error: EbmsError) {
        self.init(errorCode: error.code.rawValue, severity: error.code.severity.rawValue,
                  origin: error.code.origin, category: error.code.category,
                  refToMessageInError: error.refToMessageId, shortDescription: error.code.shortDescription,
                  description: PartDescription(error.reason, lang: "en"), detail: error.detail)
    }

    public var knownCode: EbmsError.Code? { EbmsError.Code(rawValue: errorCode) }
}

/// The body of an `eb:Receipt`. Its children are foreign-namespace XML (ebMS3 §5.2.3.3), kept as
/// their exclusive-canonical form so a parsed receipt rebuilds to the same bytes.
public struct Receipt: Equatable, Hashable, Sendable {
    public var content: [String]

    public init(content: [String]) {
        self.content = content
    }
}

public struct PullRequest: Equatable, Hashable, Sendable {
    /// nil = the default MPC.
    public var mpc: String?

    public init(mpc: String? = nil) {
        self.mpc = mpc
    }
}

public struct SignalMessage: Equatable, Hashable, Sendable {
    public enum Kind: Equatable, Hashable, Sendable {
        case receipt(Receipt)
        case errors([ErrorDetail])
        case pullRequest(PullRequest)

        public var name: String {
            switch self {
            case .receipt: return "Receipt"
            case .errors: return "Error"
            case .pullRequest: return "PullRequest"
            }
        }
    }

    public var messageInfo: MessageInfo
    public var kind: Kind

    public init(messageInfo: MessageInfo, kind: Kind) {
        self.messageInfo = messageInfo
        self.kind = kind
    }
}

/// One ebMS message unit of an `eb:Messaging` header.
public enum MessageUnit: Equatable, Hashable, Sendable {
    case user(UserMessage)
    case signal(SignalMessage)

    public var messageInfo: MessageInfo {
        switch self {
        case .user(let u): return u.messageInfo
        case .signal(let s): return s.messageInfo
        }
    }
}

/// The `eb:Messaging` header: its message units (signals first, as the schema orders them) and
/// the id the signature references it by.
public struct Messaging: Equatable, Hashable, Sendable {
    public var units: [MessageUnit]
    /// `wsu:Id` (or `id`) of the header.
    public var id: String?

    public init(units: [MessageUnit], id: String? = nil) {
        self.units = units
        self.id = id
    }

    public init(_ user: UserMessage, id: String? = nil) { self.init(units: [.user(user)], id: id) }
    public init(_ signal: SignalMessage, id: String? = nil) { self.init(units: [.signal(signal)], id: id) }

    public var userMessage: UserMessage? {
        for case .user(let u) in units { return u }
        return nil
    }

    public var signals: [SignalMessage] {
        units.compactMap { if case .signal(let s) = $0 { return s } else { return nil } }
    }

    /// The unit that names the message: the user message if any, else the first signal.
    public var primary: MessageUnit? { units.first { if case .user = $0 { return true } else { return false } } ?? units.first }
}
