import Foundation
import MessageStore
import Routing

/// The rules of issue 6 on a live gateway: gathers from the stores what `DeliveryRules` decides
/// on (directory entries for owner kinds, the company register, the recipient's opt-in, then the
/// non-digital register) for one sender and one recipient. Used by submissions (SubmitRoute) and by
/// documents arriving by AS4 (DocumentExchange), so both refuse alike.
struct RecipientRules {
    let context: GatewayContext

    /// What the rules decided for one recipient, and whose entry in the non-digital register
    /// was read to decide it: the answer tells the sender about that person (a refusal as
    /// `RecipientNonDigital`, any other outcome as "not in the register"), so a submission
    /// refused with it is recorded as a register lookup (`SubmitRoute`).
    struct Judgement {
        var refusal: DeliveryRefusal?
        /// The personal code whose register status was read, if it was.
        var registerRead: String?
    }

    /// Why a message from `sender` may not go to `recipient`, or nil.
    func refusal(from senderText: String, to recipientText: String, at now: Date) throws -> DeliveryRefusal? {
        try judge(from: senderText, to: recipientText, at: now).refusal
    }

    /// The rules for one recipient. Addresses in canonical spelling; one that does not parse is
    /// left to the router to refuse. The register is read only for a sender the other rules let
    /// through (`DeliveryRules`): a sender not allowed to write to the person learns nothing of it.
    func judge(from senderText: String, to recipientText: String, at now: Date) throws -> Judgement {
        guard let sender = try? EAddress(senderText), let recipient = try? EAddress(recipientText) else { return Judgement() }
        let lookup = StoreAddressLookup(store: context.addresses)
        // An entry that no longer passes the directory's checks counts as absent here: the
        // router reports it on its own. A store failure is not swallowed.
        func entry(_ address: EAddress) throws -> DirectoryEntry? {
            do { return try lookup.entry(for: address) } catch is DirectoryRecordConversion.InvalidStoredEntry { return nil }
        }
        let senderEntry = try entry(sender), recipientEntry = try entry(recipient)
        let senderKind = MessagingPolicy.kind(of: sender, entry: senderEntry)
        let recipientKind = MessagingPolicy.kind(of: recipient, entry: recipientEntry)
        let registerHasCompanies = try context.registers.hasCompanies()
        // The Latvian register answers for Latvian registration numbers only: another network's
        // participant is not checked against it.
        func standing(_ address: EAddress, _ kind: OwnerKind) throws -> CompanyStanding {
            guard kind == .company, registerHasCompanies, let number = address.latvianIdentifier else { return .registerEmpty }
            guard let c = try context.registers.company(registrationNumber: number) else { return .notRegistered }
            return Self.company(c).standing(at: now)
        }
        // An opt-in is kept where the address is served: for a recipient of another access
        // point this gateway applies its switches only, and that access point checks the
        // consent when the document arrives (this same code, on its side).
        var optIn = MessagingPolicy.OptIn(fromCompanies: true, fromPersons: true)
        if case .remote = recipientEntry?.accessPoint {} else {
            let stored = try context.registers.optIn(address: recipient.canonical)
            optIn = MessagingPolicy.OptIn(fromCompanies: stored?.fromCompanies ?? false, fromPersons: stored?.fromPersons ?? false)
        }
        let rules = DeliveryRules(policy: context.config.messagingPolicy)
        let senderParty = DeliveryParty(address: sender, kind: senderKind, company: try standing(sender, senderKind), ownerId: senderEntry?.owner.id)
        let recipientParty = DeliveryParty(address: recipient, kind: recipientKind, company: try standing(recipient, recipientKind),
                                           ownerId: recipientEntry?.owner.id)
        if let refusal = rules.checkBeforeRegister(sender: senderParty, recipient: recipientParty, recipientOptIn: optIn) {
            return Judgement(refusal: refusal)
        }
        guard let code = Self.personalCode(recipient, kind: recipientKind, entry: recipientEntry) else { return Judgement() }
        let nonDigital = try context.registers.validNonDigitalPersons(personCodes: [code], at: now)[code] != nil
        return Judgement(refusal: nonDigital ? DeliveryRules.nonDigitalRefusal(recipientParty) : nil, registerRead: code)
    }

    /// The personal code behind a person's address: the `_PRIVATE@` code, or the owner id of a
    /// natural person's entry under another address form.
    static func personalCode(_ address: EAddress, kind: OwnerKind, entry: DirectoryEntry?) -> String? {
        if case .privatePerson(let code) = address.form { return code }
        guard kind == .naturalPerson, let id = entry?.owner.id, case .success(let code) = ChannelAnswer.personalCode(id) else { return nil }
        return code
    }

    static func company(_ c: CompanyRecord) -> RegisteredCompany {
        RegisteredCompany(registrationNumber: c.registrationNumber, name: c.name, legalForm: c.legalForm, status: c.status, liquidatedOn: c.liquidatedOn)
    }
}

/// The channel lookup of state and municipal systems: per personal code, e-address or paper.
/// The route and `as4gw bench channel` both answer through it: two queries per batch (register
/// and directory), whatever its size.
struct ChannelLookup {
    let registers: any NonDigitalRegisterStore
    let addresses: any AddressDirectoryStore

    enum Answer: Equatable {
        case answered(personalCode: String, ChannelAnswer)
        case invalid(text: String, reason: String)
    }

    func answer(_ texts: [String], at now: Date) throws -> [Answer] {
        let parsed = texts.map { ChannelAnswer.personalCode($0) }
        let codes = parsed.compactMap { try? $0.get() }
        let register = try registers.validNonDigitalPersons(personCodes: codes, at: now)
        var entries: [String: DirectoryEntry] = [:]
        for record in try addresses.records(for: codes.map { "_PRIVATE@" + $0 }) {
            // A row that no longer passes the directory's checks is no active address.
            if let entry = try? DirectoryRecordConversion.entry(record) { entries[record.address] = entry }
        }
        return zip(texts, parsed).map { text, result in
            switch result {
            case .failure(let e): return .invalid(text: text, reason: e.reason)
            case .success(let code):
                let status = register[code].map { NonDigitalStatus(reason: $0.reason, validFrom: $0.validFrom, validUntil: $0.validUntil) }
                return .answered(personalCode: code, ChannelAnswer.decide(personalCode: code, nonDigital: status, entry: entries["_PRIVATE@" + code], at: now))
            }
        }
    }
}

extension MessagingPolicy: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable { case companyToPerson, personToCompany, personToPerson, companyToCompany }

    /// `messagingPolicy` of the configuration: every switch optional, off unless given.
    public init(from decoder: Decoder) throws {
        try decoder.refuseUnknownSettings(CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(companyToPerson: try c.decodeIfPresent(Bool.self, forKey: .companyToPerson) ?? false,
                  personToCompany: try c.decodeIfPresent(Bool.self, forKey: .personToCompany) ?? false,
                  personToPerson: try c.decodeIfPresent(Bool.self, forKey: .personToPerson) ?? false,
                  companyToCompany: try c.decodeIfPresent(Bool.self, forKey: .companyToCompany) ?? false)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(companyToPerson, forKey: .companyToPerson)
        try c.encode(personToCompany, forKey: .personToCompany)
        try c.encode(personToPerson, forKey: .personToPerson)
        try c.encode(companyToCompany, forKey: .companyToCompany)
    }
}
