import MessageStore
import Routing

/// The Routing module's directory lookup on the store's address directory. Routing and MessageStore
/// do not know each other; this is where their two views of an entry meet.
struct StoreAddressLookup: AddressLookup {
    let store: any AddressDirectoryStore

    func entry(for address: EAddress) throws -> DirectoryEntry? {
        guard let record = try store.record(for: address.canonical) else { return nil }
        return try DirectoryRecordConversion.entry(record)
    }
}

/// Conversion between `DirectoryEntry` and the store's `AddressRecord`.
enum DirectoryRecordConversion {
    /// A stored row that no longer passes the directory's checks (edited by hand, or written by
    /// a build with other rules): reported rather than routed on.
    struct InvalidStoredEntry: Error, CustomStringConvertible {
        var address: String
        var problems: [String]
        var description: String { "stored directory entry \(address) is invalid: \(problems.joined(separator: "; "))" }
    }

    static func record(_ entry: DirectoryEntry) -> AddressRecord {
        let f = DirectoryEntryFields(entry)
        return AddressRecord(address: f.address, ownerId: f.ownerId, ownerKind: f.ownerKind.rawValue, maxMessageBytes: f.maxMessageBytes,
                             mailboxBytes: f.mailboxBytes, retentionDays: f.retentionDays, activeFrom: f.activeFrom,
                             suspendedFrom: f.suspendedFrom, suspendedUntil: f.suspendedUntil, blockedFrom: f.blockedFrom,
                             remote: f.remote, partyId: f.partyId, partyIdType: f.partyIdType, endpoint: f.endpoint,
                             certificates: f.certificates)
    }

    static func entry(_ r: AddressRecord) throws -> DirectoryEntry {
        guard let kind = OwnerKind(rawValue: r.ownerKind) else {
            throw InvalidStoredEntry(address: r.address, problems: ["unknown owner kind \(r.ownerKind)"])
        }
        let fields = DirectoryEntryFields(
            address: r.address, ownerId: r.ownerId, ownerKind: kind, maxMessageBytes: r.maxMessageBytes, mailboxBytes: r.mailboxBytes,
            retentionDays: r.retentionDays, activeFrom: r.activeFrom, suspendedFrom: r.suspendedFrom, suspendedUntil: r.suspendedUntil,
            blockedFrom: r.blockedFrom, remote: r.remote, partyId: r.partyId, partyIdType: r.partyIdType, endpoint: r.endpoint,
            certificates: r.certificates)
        var problems: [String] = []
        // http endpoints were refused at import unless the operator allowed them; not again here.
        let entry = fields.entry(allowInsecureEndpoints: true) { column, message in problems.append("\(column.rawValue) \(message)") }
        guard let entry, entry.address.canonical == r.address else {
            if problems.isEmpty { problems.append("the address is not stored in its canonical spelling") }
            throw InvalidStoredEntry(address: r.address, problems: problems)
        }
        return entry
    }
}
