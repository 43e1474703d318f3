import Foundation

/// An entry of the non-digital persons register: a natural person with a lawful reason not to
/// use an e-address. Ending an entry keeps it (with who ended it and when) for the record.
public struct NonDigitalPerson: Sendable, Equatable {
    public var id: Int64
    /// 11 digits.
    public var personCode: String
    public var reason: String
    public var validFrom: Date
    /// Exclusive; nil: until further notice.
    public var validUntil: Date?
    public var recordedBy: String
    public var recordedAt: Date
    public var endedBy: String?
    public var endedAt: Date?

    /// Whether the entry makes the person non-digital at `time`: from `validFrom` (inclusive)
    /// until `validUntil` or its ending, whichever comes first (both exclusive).
    public func isValid(at time: Date) -> Bool {
        validFrom <= time && (validUntil.map { time < $0 } ?? true) && (endedAt.map { time < $0 } ?? true)
    }
}

public struct NewNonDigitalPerson: Sendable, Equatable {
    public var personCode: String
    public var reason: String
    public var validFrom: Date
    public var validUntil: Date?

    public init(personCode: String, reason: String, validFrom: Date, validUntil: Date?) {
        self.personCode = personCode
        self.reason = reason
        self.validFrom = validFrom
        self.validUntil = validUntil
    }
}

/// One change of the register, append-only: `added` or `ended`.
public struct NonDigitalHistoryItem: Sendable, Equatable {
    public var id: Int64
    public var entryId: Int64
    public var personCode: String
    public var action: String
    public var by: String
    public var at: Date
    public var detail: String
}

/// One channel lookup, append-only: who asked about which personal codes, when, and how.
public struct ChannelLookupRecord: Sendable, Equatable {
    public var id: Int64
    public var connection: String
    public var at: Date
    public var personCodes: [String]
    public var purpose: ChannelLookupPurpose
}

/// How a connection came to read the non-digital register.
public enum ChannelLookupPurpose: String, Sendable, CaseIterable {
    /// The channel lookup of the systems entitled to ask.
    case lookup
    /// A submission refused with an answer that told the sender who is in the register.
    case refusedSubmission
}

/// What an address agreed to receive beyond the e-address law.
public struct MessagingOptInRecord: Sendable, Equatable {
    public var address: String
    public var fromCompanies: Bool
    public var fromPersons: Bool
    public var setBy: String
    public var setAt: Date

    public init(address: String, fromCompanies: Bool, fromPersons: Bool, setBy: String, setAt: Date) {
        self.address = address
        self.fromCompanies = fromCompanies
        self.fromPersons = fromPersons
        self.setBy = setBy
        self.setAt = setAt
    }
}

/// One company of the imported company register (flat, as stored).
public struct CompanyRecord: Sendable, Equatable {
    public var registrationNumber: String
    public var name: String
    public var legalForm: String
    public var status: String
    public var liquidatedOn: Date?

    public init(registrationNumber: String, name: String, legalForm: String, status: String, liquidatedOn: Date?) {
        self.registrationNumber = registrationNumber
        self.name = name
        self.legalForm = legalForm
        self.status = status
        self.liquidatedOn = liquidatedOn
    }

    /// The fields that differ from `other`, by name.
    public func changedFields(from other: CompanyRecord) -> [String] {
        var fields: [String] = []
        if name != other.name { fields.append("name") }
        if legalForm != other.legalForm { fields.append("legalForm") }
        if status != other.status { fields.append("status") }
        if liquidatedOn?.storeMilliseconds != other.liquidatedOn?.storeMilliseconds { fields.append("liquidationDate") }
        return fields
    }
}

/// What a register import changed: each list holds registration numbers in file order
/// (`removed` in number order); `changed` names the fields of each.
public struct CompanyImportReport: Sendable, Equatable {
    public var added: [String] = []
    public var changed: [(registrationNumber: String, fields: [String])] = []
    /// Companies that were not liquidated before this import and are now (new or changed).
    public var liquidated: [String] = []
    public var removed: [String] = []
    public var unchanged = 0

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.added == b.added && a.liquidated == b.liquidated && a.removed == b.removed && a.unchanged == b.unchanged
            && a.changed.map { "\($0.registrationNumber) \($0.fields)" } == b.changed.map { "\($0.registrationNumber) \($0.fields)" }
    }
}

/// The non-digital persons register, its history, and the log of channel lookups.
public protocol NonDigitalRegisterStore: AnyObject, Sendable {
    func close()
    /// Adds an entry and its `added` history item in one transaction.
    func addNonDigitalPerson(_ entry: NewNonDigitalPerson, by: String, at: Date) throws -> NonDigitalPerson
    /// Ends an entry (its `ended` history item in the same transaction); nil when there is no such
    /// entry. Throws `StoreError.invalidArgument` when it was already ended.
    func endNonDigitalPerson(id: Int64, by: String, reason: String, at: Date) throws -> NonDigitalPerson?
    func nonDigitalPerson(id: Int64) throws -> NonDigitalPerson?
    /// Entries by id, after `afterId`; `personCode` and `validAt` narrow the list.
    func nonDigitalPersons(personCode: String?, validAt: Date?, afterId: Int64, limit: Int) throws -> [NonDigitalPerson]
    func nonDigitalHistory(personCode: String?, afterId: Int64, limit: Int) throws -> [NonDigitalHistoryItem]
    /// For each code with an entry valid at `at`, that entry (the one ending last if several):
    /// one query for the whole list.
    func validNonDigitalPersons(personCodes: [String], at: Date) throws -> [String: NonDigitalPerson]
    func logChannelLookup(connection: String, personCodes: [String], purpose: ChannelLookupPurpose, at: Date) throws
    /// Lookups newest first; with `personCode`, those that asked about it.
    func channelLookups(personCode: String?, limit: Int) throws -> [ChannelLookupRecord]
}

extension NonDigitalRegisterStore {
    /// A channel lookup (`purpose` .lookup).
    public func logChannelLookup(connection: String, personCodes: [String], at now: Date) throws {
        try logChannelLookup(connection: connection, personCodes: personCodes, purpose: .lookup, at: now)
    }
}

/// The company register imported from its open data.
public protocol CompanyRegisterStore: AnyObject, Sendable {
    func company(registrationNumber: String) throws -> CompanyRecord?
    func companyCount() throws -> Int
    /// Whether any company was imported (cheaper than counting: the check asks per message).
    func hasCompanies() throws -> Bool
    /// Replaces the whole register with `records` in one transaction and reports the difference.
    /// Registration numbers must be unique (`StoreError.invalidArgument` otherwise).
    func replaceCompanies(_ records: [CompanyRecord], at now: Date) throws -> CompanyImportReport
}

/// Per-address consent to messages beyond the law (docs/API.md, "Who may write to whom").
public protocol MessagingOptInStore: AnyObject, Sendable {
    func optIn(address: String) throws -> MessagingOptInRecord?
    /// Sets the given flags of `address` in one statement, keeping a flag given as nil as it is
    /// stored (false for an address without a record), so that two changes of different flags
    /// at the same moment both stay; returns the record as stored.
    func updateOptIn(address: String, fromCompanies: Bool?, fromPersons: Bool?, setBy: String, at: Date) throws -> MessagingOptInRecord
}

/// The three registers of issue 6 live in one store beside the messages.
public typealias RecipientRegisters = NonDigitalRegisterStore & CompanyRegisterStore & MessagingOptInStore

/// Checks and comparisons both backends share.
enum RecipientRegisterRules {
    /// A stored purpose; the column's CHECK admits no other value than the enum's.
    static func purpose(_ text: String) -> ChannelLookupPurpose { ChannelLookupPurpose(rawValue: text) ?? .lookup }

    static func validate(_ e: NewNonDigitalPerson) throws {
        guard e.personCode.utf8.count == 11, e.personCode.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw StoreError.invalidArgument("person code \(e.personCode) is not 11 digits")
        }
        guard !e.reason.isEmpty else { throw StoreError.invalidArgument("the reason is empty") }
        if let until = e.validUntil, until <= e.validFrom { throw StoreError.invalidArgument("validUntil is not after validFrom") }
    }

    static func validate(_ records: [CompanyRecord]) throws -> [String: CompanyRecord] {
        var byNumber: [String: CompanyRecord] = [:]
        byNumber.reserveCapacity(records.count)
        for r in records {
            guard !r.registrationNumber.isEmpty else { throw StoreError.invalidArgument("a company without registration number") }
            guard byNumber.updateValue(r, forKey: r.registrationNumber) == nil else {
                throw StoreError.invalidArgument("registration number \(r.registrationNumber) is given twice")
            }
        }
        return byNumber
    }

    static func isLiquidated(_ r: CompanyRecord, at now: Date) -> Bool {
        if let on = r.liquidatedOn, on <= now { return true }
        let word = r.status.trimmingCharacters(in: .whitespaces).lowercased()
        return !["", "active", "registered"].contains(word)
    }

    /// The report of replacing `stored` by `records`.
    static func report(stored: [String: CompanyRecord], records: [CompanyRecord], at now: Date) -> CompanyImportReport {
        var report = CompanyImportReport()
        let incoming = Set(records.map(\.registrationNumber))
        for r in records {
            guard let old = stored[r.registrationNumber] else {
                report.added.append(r.registrationNumber)
                if isLiquidated(r, at: now) { report.liquidated.append(r.registrationNumber) }
                continue
            }
            let fields = r.changedFields(from: old)
            if fields.isEmpty { report.unchanged += 1; continue }
            report.changed.append((r.registrationNumber, fields))
            if isLiquidated(r, at: now) && !isLiquidated(old, at: now) { report.liquidated.append(r.registrationNumber) }
        }
        report.removed = stored.keys.filter { !incoming.contains($0) }.sorted()
        return report
    }

    /// Per person code, of its valid entries the one ending last (open-ended first).
    static func latestEnding(_ entries: [NonDigitalPerson]) -> [String: NonDigitalPerson] {
        var byCode: [String: NonDigitalPerson] = [:]
        for e in entries {
            if let other = byCode[e.personCode], endsLater(other, than: e) { continue }
            byCode[e.personCode] = e
        }
        return byCode
    }

    private static func endsLater(_ a: NonDigitalPerson, than b: NonDigitalPerson) -> Bool {
        let end = { (e: NonDigitalPerson) in [e.validUntil, e.endedAt].compactMap { $0 }.min() ?? .distantFuture }
        return end(a) >= end(b)
    }

    /// Personal codes of a lookup as stored: comma-separated, so a search by code is a LIKE on
    /// `,code,` of the column wrapped in commas.
    static func joined(_ codes: [String]) -> String { codes.joined(separator: ",") }
    static func split(_ text: String) -> [String] { text.isEmpty ? [] : text.split(separator: ",").map(String.init) }
}
