import Foundation

/// The e-address directory in the node's SQLite database (`<dataDir>/messages.sqlite`, table
/// `directory_addresses`, migration 2), beside the messages so one backup holds both.
///
/// Lookups go by the canonical address (the primary key). An import runs in one `BEGIN
/// IMMEDIATE` transaction: a reader sees the directory before or after it, never half of it,
/// and a failure leaves it as it was.
public final class SQLiteAddressDirectory: AddressDirectoryStore {
    public var databasePath: String { database.databasePath }
    private let database: SQLiteDatabaseConnection

    /// Opens (creating if needed) the database in `dataDirectory` and applies pending migrations.
    public init(dataDirectory: String, now: Date = Date()) throws {
        database = try SQLiteDatabaseConnection(dataDirectory: dataDirectory, now: now)
    }

    public func close() { database.close() }

    private func withConnection<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withConnection(body)
    }

    // MARK: Reading

    public func record(for address: String) throws -> AddressRecord? {
        try withConnection { c in
            try c.queryFirst("SELECT * FROM directory_addresses WHERE address = ?", [address], row: Self.readRecord)
        }
    }

    public func records(for addresses: [String]) throws -> [AddressRecord] {
        try withConnection { c in
            try c.query("SELECT * FROM directory_addresses WHERE address IN ({keys})", keys: addresses, row: Self.readRecord)
        }
    }

    /// Every record, ordered by address (byte order of the canonical spelling).
    public func allRecords() throws -> [AddressRecord] {
        try withConnection { c in
            try c.query("SELECT * FROM directory_addresses ORDER BY address", row: Self.readRecord)
        }
    }

    public func addresses(servedBy partyIds: [String]) throws -> [String: [String]] {
        guard !partyIds.isEmpty else { return [:] }
        let rows = try withConnection { c in
            try c.query("SELECT address, party_id FROM directory_addresses WHERE access_point = 'remote' AND party_id IN ({keys}) ORDER BY address",
                        keys: partyIds) { AddressByParty(address: $0.string("address"), partyId: $0.string("party_id")) }
        }
        return Dictionary(grouping: rows, by: \.partyId).mapValues { $0.map(\.address) }
    }

    public func modifyRecord(_ address: String, missing: AddressRecord?, at now: Date,
                             _ change: (inout AddressRecord) throws -> Void) throws -> AddressRecord? {
        try withConnection { c in
            try c.immediateTransaction { () throws -> AddressRecord? in
                guard var record = try c.queryFirst("SELECT * FROM directory_addresses WHERE address = ?", [address], row: Self.readRecord) ?? missing else {
                    return nil
                }
                try change(&record)
                try AddressRecordRules.validate(record)
                try Self.upsert(c, record, at: now)
                return record
            }
        }
    }

    private static func upsert(_ c: SQLiteConnection, _ record: AddressRecord, at now: Date) throws {
        try c.run("""
            INSERT OR REPLACE INTO directory_addresses (address, owner_id, owner_kind, max_message_bytes, mailbox_bytes,
                retention_days, active_from, suspended_from, suspended_until, blocked_from, access_point, party_id,
                party_id_type, endpoint, certificates, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [record.address, record.ownerId, record.ownerKind, record.maxMessageBytes, record.mailboxBytes,
                  record.retentionDays, record.activeFrom, record.suspendedFrom, record.suspendedUntil, record.blockedFrom,
                  record.remote ? "remote" : "local", record.partyId, record.partyIdType, record.endpoint,
                  AddressRecordRules.joined(record.certificates), now])
    }

    public func count() throws -> Int {
        try withConnection { c in
            try c.queryFirst("SELECT COUNT(*) AS n FROM directory_addresses") { $0.int("n") } ?? 0
        }
    }

    // MARK: Importing

    public func importRecords(_ records: [AddressRecord], replace: Bool, at now: Date) throws -> AddressImportResult {
        let seen = try AddressRecordRules.validate(records)
        return try withConnection { c in
            try c.immediateTransaction {
                var result = AddressImportResult()
                for record in records {
                    let stored = try c.queryFirst("SELECT * FROM directory_addresses WHERE address = ?", [record.address], row: Self.readRecord)
                    if let stored, stored.sameAsStored(record) {
                        result.unchanged += 1
                        continue
                    }
                    if stored == nil { result.added += 1 } else { result.changed += 1 }
                    try Self.upsert(c, record, at: now)
                }
                if replace {
                    let stale = try c.query("SELECT address FROM directory_addresses") { $0.string("address") }.filter { !seen.contains($0) }
                    for address in stale {
                        try c.run("DELETE FROM directory_addresses WHERE address = ?", [address])
                    }
                    result.removed = stale.count
                }
                return result
            }
        }
    }

    // MARK: Rows

    private static func readRecord(_ s: SQLiteStatement) -> AddressRecord {
        AddressRecord(
            address: s.string("address"), ownerId: s.string("owner_id"), ownerKind: s.string("owner_kind"),
            maxMessageBytes: s.optionalInt64("max_message_bytes").map(Int.init), mailboxBytes: s.optionalInt64("mailbox_bytes").map(Int.init),
            retentionDays: s.optionalInt64("retention_days").map(Int.init), activeFrom: s.optionalDate("active_from"),
            suspendedFrom: s.optionalDate("suspended_from"), suspendedUntil: s.optionalDate("suspended_until"),
            blockedFrom: s.optionalDate("blocked_from"), remote: s.string("access_point") == "remote",
            partyId: s.optionalString("party_id"), partyIdType: s.optionalString("party_id_type"), endpoint: s.optionalString("endpoint"),
            certificates: AddressRecordRules.split(s.optionalString("certificates")))
    }
}
