import Foundation

/// What the company register says about a registration number.
public enum CompanyStanding: Sendable, Equatable {
    case registered
    case liquidated(status: String, on: Date?)
    case notRegistered
    /// No register was ever imported: the company check is not enforced.
    case registerEmpty
}

/// One side of a message as the rules see it.
public struct DeliveryParty: Sendable, Equatable {
    public var address: EAddress
    public var kind: OwnerKind
    /// Only read for a company.
    public var company: CompanyStanding
    /// Who owns the address (the directory entry's owner id, else the address's registration
    /// number or personal code); nil when unknown.
    public var ownerId: String?

    public init(address: EAddress, kind: OwnerKind, company: CompanyStanding = .registerEmpty, ownerId: String? = nil) {
        self.address = address
        self.kind = kind
        self.company = company
        self.ownerId = ownerId ?? address.latvianIdentifier
    }
}

/// Why a message may not go to a recipient at all, before any route is looked at.
public struct DeliveryRefusal: Sendable, Equatable, Error {
    /// `RecipientNonDigital`, `CompanyNotRegistered`, `CompanyLiquidated` or `PolicyForbidden`.
    public var outcome: String
    public var reason: String

    public init(outcome: String, reason: String) {
        self.outcome = outcome
        self.reason = reason
    }
}

/// The rules of issue 6 over one sender and one recipient, in a fixed order. First what reveals
/// nothing of the non-digital persons register: the company register for sender and
/// recipient, then who may write to whom (not asked between two addresses of the same owner).
/// Only a sender that passed those learns that the recipient is in the register (before any
/// route: it must go on paper whatever else holds), and only that: the register's reason is the
/// person's own business and is never part of a refusal (`ChannelAnswer`, for the systems
/// entitled to ask, gives more).
public struct DeliveryRules: Sendable {
    public var policy: MessagingPolicy

    public init(policy: MessagingPolicy) {
        self.policy = policy
    }

    /// Every rule in order; `recipientNonDigital`: the register holds the recipient now.
    public func check(sender: DeliveryParty, recipient: DeliveryParty, recipientOptIn: MessagingPolicy.OptIn,
                      recipientNonDigital: Bool) -> DeliveryRefusal? {
        if let refusal = checkBeforeRegister(sender: sender, recipient: recipient, recipientOptIn: recipientOptIn) { return refusal }
        return recipientNonDigital ? Self.nonDigitalRefusal(recipient) : nil
    }

    /// The rules that come before the non-digital register, so that a caller asks the register
    /// only for a sender that passed them.
    public func checkBeforeRegister(sender: DeliveryParty, recipient: DeliveryParty, recipientOptIn: MessagingPolicy.OptIn) -> DeliveryRefusal? {
        for (party, role) in [(sender, "sender"), (recipient, "recipient")] where party.kind == .company {
            if let refusal = Self.companyRefusal(party, role: role) { return refusal }
        }
        // Between two addresses of one owner (a company's departments, its own mailbox) nobody
        // writes to anybody else: the policy is about correspondence between parties.
        if let owner = sender.ownerId, owner == recipient.ownerId, sender.kind == recipient.kind { return nil }
        if case .forbidden(_, let reason) = policy.decide(from: sender.kind, to: recipient.kind, recipientOptIn: recipientOptIn) {
            return DeliveryRefusal(outcome: "PolicyForbidden", reason: "\(sender.address) → \(recipient.address): \(reason)")
        }
        return nil
    }

    /// A recipient in the non-digital persons register: that it receives no e-address mail, and
    /// nothing of its entry.
    public static func nonDigitalRefusal(_ recipient: DeliveryParty) -> DeliveryRefusal {
        DeliveryRefusal(outcome: "RecipientNonDigital",
                        reason: "\(recipient.address) belongs to a person who receives no e-address mail (non-digital persons register); send it on paper")
    }

    static func companyRefusal(_ party: DeliveryParty, role: String) -> DeliveryRefusal? {
        let number = party.address.latvianIdentifier ?? party.address.canonical
        switch party.company {
        case .registered, .registerEmpty:
            return nil
        case .notRegistered:
            return DeliveryRefusal(outcome: "CompanyNotRegistered",
                                   reason: "the \(role) \(party.address) is a company address, but \(number) is not in the company register")
        case .liquidated(let status, let on):
            let when = on.map { " on \(RFC3339.format($0))" } ?? ""
            return DeliveryRefusal(outcome: "CompanyLiquidated",
                                   reason: "the \(role) \(party.address) belongs to company \(number), liquidated\(when) (register status \(status.isEmpty ? "-" : status))")
        }
    }
}
