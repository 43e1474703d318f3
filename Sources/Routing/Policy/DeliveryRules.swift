import Foundation

/// A natural person's entry in the non-digital persons register as the rules need it: valid now.
public struct NonDigitalStatus: Sendable, Equatable {
    public var reason: String
    public var validUntil: Date?

    public init(reason: String, validUntil: Date?) {
        self.reason = reason
        self.validUntil = validUntil
    }
}

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

/// The rules of issue 6 over one sender and one recipient, in a fixed order so the answer gives
/// the sender the most useful reason: a non-digital recipient first (the sender must go on
/// paper whatever else holds), then the company register for sender and recipient, then who
/// may write to whom (not asked between two addresses of the same owner).
public struct DeliveryRules: Sendable {
    public var policy: MessagingPolicy

    public init(policy: MessagingPolicy) {
        self.policy = policy
    }

    public func check(sender: DeliveryParty, recipient: DeliveryParty, recipientOptIn: MessagingPolicy.OptIn,
                      recipientNonDigital: NonDigitalStatus?) -> DeliveryRefusal? {
        if let entry = recipientNonDigital {
            let until = entry.validUntil.map { " until \(RFC3339.format($0))" } ?? ""
            return DeliveryRefusal(outcome: "RecipientNonDigital",
                                   reason: "\(recipient.address) belongs to a person in the non-digital persons register\(until) (\(entry.reason)); send it on paper")
        }
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
