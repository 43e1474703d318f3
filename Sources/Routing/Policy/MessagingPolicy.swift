import Foundation

/// Who may write to whom. The e-address law covers the state's correspondence: institution ↔
/// institution, institution → company or person, company or person → institution are always
/// allowed. The platform's extensions between private parties are off unless the gateway's
/// configuration switches them on (`messagingPolicy`), one switch per direction, and even then
/// a message goes through only when the receiving address opted in to messages from that kind
/// of sender (`OptIn`): a person or company is never reached by private senders unasked.
public struct MessagingPolicy: Sendable, Equatable {
    public var companyToPerson: Bool
    public var personToCompany: Bool
    public var personToPerson: Bool
    public var companyToCompany: Bool

    /// The law alone: every extension off.
    public init(companyToPerson: Bool = false, personToCompany: Bool = false, personToPerson: Bool = false, companyToCompany: Bool = false) {
        self.companyToPerson = companyToPerson
        self.personToCompany = personToCompany
        self.personToPerson = personToPerson
        self.companyToCompany = companyToCompany
    }

    /// What a receiving address agreed to receive beyond the law (set by the address's own
    /// connection). Nothing by default.
    public struct OptIn: Sendable, Equatable {
        public var fromCompanies: Bool
        public var fromPersons: Bool

        public init(fromCompanies: Bool = false, fromPersons: Bool = false) {
            self.fromCompanies = fromCompanies
            self.fromPersons = fromPersons
        }

        public static let none = OptIn()
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        /// `rule` names the direction (e.g. `personToPerson`), `reason` says which condition failed.
        case forbidden(rule: String, reason: String)
    }

    public func decide(from sender: OwnerKind, to recipient: OwnerKind, recipientOptIn optIn: OptIn) -> Decision {
        if sender == .institution || recipient == .institution { return .allowed }
        let rule: String, switchedOn: Bool, optedIn: Bool, senders: String
        switch (sender, recipient) {
        case (.company, .naturalPerson): (rule, switchedOn, optedIn, senders) = ("companyToPerson", companyToPerson, optIn.fromCompanies, "companies")
        case (.naturalPerson, .company): (rule, switchedOn, optedIn, senders) = ("personToCompany", personToCompany, optIn.fromPersons, "persons")
        case (.naturalPerson, .naturalPerson): (rule, switchedOn, optedIn, senders) = ("personToPerson", personToPerson, optIn.fromPersons, "persons")
        default: (rule, switchedOn, optedIn, senders) = ("companyToCompany", companyToCompany, optIn.fromCompanies, "companies")
        }
        let direction = "\(Self.noun(sender)) → \(Self.noun(recipient))"
        guard switchedOn else {
            return .forbidden(rule: rule, reason: "\(direction) messages are outside the e-address law and this gateway does not allow them "
                              + "(messagingPolicy.\(rule) is off)")
        }
        guard optedIn else {
            return .forbidden(rule: rule, reason: "\(direction) messages need the recipient's consent, and the recipient has not opted in to messages "
                              + "from \(senders) (opt-in from\(senders.prefix(1).uppercased())\(senders.dropFirst()))")
        }
        return .allowed
    }

    static func noun(_ kind: OwnerKind) -> String {
        switch kind {
        case .institution: return "institution"
        case .company: return "company"
        case .naturalPerson: return "person"
        }
    }

    /// The owner kind of an address: its directory entry's when it has one; otherwise what the
    /// address itself says: `_PRIVATE@` is a natural person, a registration number starting
    /// with 9 (the range of state and municipal institutions) an institution, any other
    /// registration number or another network's participant a company.
    public static func kind(of address: EAddress, entry: DirectoryEntry?) -> OwnerKind {
        if let entry { return entry.owner.kind }
        switch address.form {
        case .privatePerson: return .naturalPerson
        case .defaultMailbox(let number), .alias(_, let number): return number.hasPrefix("9") ? .institution : .company
        case .participant: return .company
        }
    }
}
