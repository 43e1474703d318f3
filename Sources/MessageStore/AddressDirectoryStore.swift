import Foundation

/// The e-address directory the router reads and `as4gw directory` fills: one record per
/// canonical address. `SQLiteAddressDirectory` and `PostgresAddressDirectory` implement it
/// (`StoreLocation.openAddressDirectory` picks the one beside the message store).
public protocol AddressDirectoryStore: AnyObject, Sendable {
    func record(for address: String) throws -> AddressRecord?
    /// The records of those addresses that exist, in one query (batch channel lookups).
    func records(for addresses: [String]) throws -> [AddressRecord]
    /// Every record, ordered by address (byte order of the canonical spelling).
    func allRecords() throws -> [AddressRecord]
    func count() throws -> Int
    /// The addresses whose rows name an access point by one of these party ids (compared by
    /// value, whatever the type: routing matches a party by value too), keyed by party id. A
    /// scan (party_id has no index): it answers when a self-service registration is submitted,
    /// approved or built into the P-Modes, never per message.
    func addresses(servedBy partyIds: [String]) throws -> [String: [String]]
    /// Adds the records and overwrites those whose address exists; with `replace`, also deletes
    /// every address not among them. All in one transaction: a reader sees the directory before
    /// or after it, never half of it, and a failure leaves it as it was. Counts compare each
    /// record with the stored one (dates at millisecond precision). Addresses must be unique
    /// within `records` (`StoreError.invalidArgument` otherwise, as for an invalid record).
    func importRecords(_ records: [AddressRecord], replace: Bool, at now: Date) throws -> AddressImportResult
    /// Reads, changes and writes one record in one transaction (the row locked on PostgreSQL),
    /// so two changes of different fields at once (limits and an approval) both stay. `missing`
    /// is the record to start from when there is none; nil then changes nothing and returns nil.
    func modifyRecord(_ address: String, missing: AddressRecord?, at now: Date,
                      _ change: (inout AddressRecord) throws -> Void) throws -> AddressRecord?
    func close()
}

/// One row of `addresses(servedBy:)`.
struct AddressByParty: Sendable {
    var address: String
    var partyId: String
}

/// The checks both directories make before an import, and the text form of a certificate list.
enum AddressRecordRules {
    /// PEM blocks hold no blank line, fingerprints no line break: a blank line separates items.
    static let certificateSeparator = "\n\n"

    /// Validates every record and that no address comes twice; returns the addresses.
    static func validate(_ records: [AddressRecord]) throws -> Set<String> {
        var seen = Set<String>(minimumCapacity: records.count)
        for record in records {
            try validate(record)
            guard seen.insert(record.address).inserted else {
                throw StoreError.invalidArgument("address \(record.address) is given twice")
            }
        }
        return seen
    }

    static func validate(_ r: AddressRecord) throws {
        guard !r.address.isEmpty, !r.ownerId.isEmpty else { throw StoreError.invalidArgument("empty address or owner id") }
        guard ["institution", "company", "naturalPerson"].contains(r.ownerKind) else {
            throw StoreError.invalidArgument("\(r.address): unknown owner kind \(r.ownerKind)")
        }
        for limit in [r.maxMessageBytes, r.mailboxBytes, r.retentionDays] {
            if let limit, limit < 1 { throw StoreError.invalidArgument("\(r.address): limits are at least 1") }
        }
        if r.remote && (r.partyId == nil || r.endpoint == nil || r.certificates.isEmpty) {
            throw StoreError.invalidArgument("\(r.address): a remote access point needs a party id, an endpoint and certificates")
        }
        if r.certificates.contains(where: { $0.isEmpty || $0.contains(certificateSeparator) }) {
            throw StoreError.invalidArgument("\(r.address): a certificate text is empty or holds a blank line")
        }
    }

    static func joined(_ certificates: [String]) -> String? {
        certificates.isEmpty ? nil : certificates.joined(separator: certificateSeparator)
    }

    static func split(_ text: String?) -> [String] {
        text.map { $0.components(separatedBy: certificateSeparator) } ?? []
    }
}
