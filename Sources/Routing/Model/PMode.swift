import EnvelopeXML

/// One processing mode (ebMS 3.0 Core §4, eDelivery AS4 §1.4.5): who exchanges what with whom,
/// and how. Built only by `PModeLoader` (after validation) or by tests; immutable afterwards.
public struct PMode: Sendable, Equatable {
    public var id: String
    public var description: String?
    /// `eb:AgreementRef`; nil when messages carry none.
    public var agreement: Agreement?
    public var mep: MEP
    public var binding: MEPBinding
    public var initiator: PModeParticipant
    public var responder: PModeParticipant
    /// One leg for `oneWay`, two for `twoWay` (request, then reply).
    public var legs: [Leg]
    /// Where the P-Mode was defined, for log lines and diagnostics.
    public var source: SourceLocation
    /// The id messages name in `AgreementRef/@pmode` when it is not `id`: a P-Mode the gateway
    /// made for a self-service access point from a template carries the template's id, the one
    /// its operator published, while `id` stays unique in the set. Nil for loaded P-Modes.
    public var agreementRefId: String?

    public init(id: String, description: String? = nil, agreement: Agreement? = nil, mep: MEP = .oneWay,
                binding: MEPBinding = .push, initiator: PModeParticipant, responder: PModeParticipant, legs: [Leg],
                source: SourceLocation = SourceLocation(file: "", line: 0, column: 0)) {
        self.id = id
        self.description = description
        self.agreement = agreement
        self.mep = mep
        self.binding = binding
        self.initiator = initiator
        self.responder = responder
        self.legs = legs
        self.source = source
    }

    public func participant(_ side: PModeSide) -> PModeParticipant {
        side == .initiator ? initiator : responder
    }

    /// Which side sends the user message of leg `index`. The initiator starts the MEP; with
    /// One-Way/Pull the initiator starts it with a PullRequest, so the user message travels from
    /// the responder to the initiator (ebMS 3.0 Core §2.2.3). The second leg of a Two-Way MEP is
    /// the responder's reply.
    public func sendingSide(ofLeg index: Int) -> PModeSide {
        if index > 0 { return .responder }
        return binding == .pull ? .responder : .initiator
    }

    public func receivingSide(ofLeg index: Int) -> PModeSide {
        sendingSide(ofLeg: index) == .initiator ? .responder : .initiator
    }

    /// How the user message of leg `index` reaches its receiver.
    public func delivery(ofLeg index: Int) -> LegDelivery {
        switch (binding, index) {
        case (.pull, _): return .pull
        case (.push, 0), (.pushAndPush, _): return .push
        case (.push, _): return .backChannel
        }
    }
}

/// Where a definition was written: a file of the P-Mode directory, 1-based line and column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A party of the MEP by name (see `parties.json`) and the `eb:Role` it plays.
public struct PModeParticipant: Sendable, Hashable {
    public var party: String
    public var role: String

    public init(party: String, role: String) {
        self.party = party
        self.role = role
    }
}

public enum PModeSide: String, Sendable, Hashable {
    case initiator, responder
}

/// `eb:AgreementRef` value and optional type (without it the value must be a URI).
public struct Agreement: Sendable, Hashable, CustomStringConvertible {
    public var value: String
    public var type: String?

    public init(_ value: String, type: String? = nil) {
        self.value = value
        self.type = type
    }

    public var description: String { type.map { "\($0)::\(value)" } ?? value }
}

/// PMode.MEP. eDelivery uses both.
public enum MEP: String, Sendable, CaseIterable {
    case oneWay, twoWay

    public var uri: String { "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/\(rawValue)" }
    public var legCount: Int { self == .oneWay ? 1 : 2 }
}

/// PMode.MEPBinding. `push` with `twoWay` is Two-Way/Sync (the reply rides on the HTTP response);
/// `pull` is One-Way/Pull only (the eDelivery pull enhancement).
public enum MEPBinding: String, Sendable, CaseIterable {
    case push, pull, pushAndPush

    public var uri: String { "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/\(rawValue)" }

    public func isAllowed(with mep: MEP) -> Bool {
        switch (mep, self) {
        case (.oneWay, .push), (.oneWay, .pull), (.twoWay, .push), (.twoWay, .pushAndPush): return true
        default: return false
        }
    }
}

/// How a leg's user message travels.
public enum LegDelivery: String, Sendable {
    /// An HTTP request to the receiving party's endpoint.
    case push
    /// Kept on the leg's MPC until the receiving party pulls it.
    case pull
    /// The HTTP response to the request of the first leg (Two-Way/Sync).
    case backChannel
}
