import Foundation

/// The e-address directory on PostgreSQL (table `directory_addresses`, migration 2 of
/// `PostgresSchema`), shared by every node of the store. An import is one transaction under an
/// advisory lock, so imports started on two nodes at once take turns; readers see the directory
/// before or after an import, never half of it.
public final class PostgresAddressDirectory: AddressDirectoryStore {
    private let pool: PostgresConnectionPool

    public init(url: String, poolSize: Int = 2, schema: SchemaAccess, now: Date = Date()) throws {
        pool = PostgresConnectionPool(url: url, size: poolSize)
        try pool.withConnection { try PostgresSchema.prepare($0, schema, at: now) }
    }

    public func close() { pool.close() }

    public func record(for address: String) throws -> AddressRecord? {
        try pool.withConnection { c in
            try c.execute("SELECT * FROM directory_addresses WHERE address = $1", [address]).first.map(Self.readRecord)
        }
    }

    public func records(for addresses: [String]) throws -> [AddressRecord] {
        guard !addresses.isEmpty else { return [] }
        return try pool.withConnection { c in
            try c.execute("SELECT * FROM directory_addresses WHERE address = ANY($1::text[])", [PostgresArray(addresses)]).rows.map(Self.readRecord)
        }
    }

    public func addresses(servedBy partyIds: [String]) throws -> [String: [String]] {
        guard !partyIds.isEmpty else { return [:] }
        let rows = try pool.withConnection { c in
            try c.execute("SELECT address, party_id FROM directory_addresses WHERE access_point = 'remote' AND party_id = ANY($1::text[]) "
                          + "ORDER BY address COLLATE \"C\"", [PostgresArray(partyIds)]).rows
                .map { AddressByParty(address: $0.string("address"), partyId: $0.string("party_id")) }
        }
        return Dictionary(grouping: rows, by: \.partyId).mapValues { $0.map(\.address) }
    }

    public func allRecords() throws -> [AddressRecord] {
        try pool.withConnection { c in
            try c.execute("SELECT * FROM directory_addresses ORDER BY address COLLATE \"C\"").rows.map(Self.readRecord)
        }
    }

    public func modifyRecord(_ address: String, missing: AddressRecord?, at now: Date,
                             _ change: (inout AddressRecord) throws -> Void) throws -> AddressRecord? {
        try pool.withConnection { c in
            try c.transaction { () throws -> AddressRecord? in
                // An import holds this lock for its whole transaction: a change waits for it.
                _ = try c.execute("SELECT pg_advisory_xact_lock($1::integer, $2::integer)",
                                  [Int(PostgresSchema.lockNamespace), Int(PostgresSchema.directoryImportLock)])
                guard var record = try c.execute("SELECT * FROM directory_addresses WHERE address = $1 FOR UPDATE", [address]).first
                    .map(Self.readRecord) ?? missing else { return nil }
                try change(&record)
                try AddressRecordRules.validate(record)
                try Self.upsert(c, record, at: now)
                return record
            }
        }
    }

    private static func upsert(_ c: PostgresConnection, _ record: AddressRecord, at now: Date) throws {
        _ = try c.execute("""
            INSERT INTO directory_addresses (address, owner_id, owner_kind, max_message_bytes, mailbox_bytes,
                retention_days, active_from, suspended_from, suspended_until, blocked_from, access_point, party_id,
                party_id_type, endpoint, certificates, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            ON CONFLICT (address) DO UPDATE SET
                owner_id = EXCLUDED.owner_id, owner_kind = EXCLUDED.owner_kind, max_message_bytes = EXCLUDED.max_message_bytes,
                mailbox_bytes = EXCLUDED.mailbox_bytes, retention_days = EXCLUDED.retention_days,
                active_from = EXCLUDED.active_from, suspended_from = EXCLUDED.suspended_from,
                suspended_until = EXCLUDED.suspended_until, blocked_from = EXCLUDED.blocked_from,
                access_point = EXCLUDED.access_point, party_id = EXCLUDED.party_id, party_id_type = EXCLUDED.party_id_type,
                endpoint = EXCLUDED.endpoint, certificates = EXCLUDED.certificates, updated_at = EXCLUDED.updated_at
            """, [record.address, record.ownerId, record.ownerKind, record.maxMessageBytes, record.mailboxBytes,
                  record.retentionDays, record.activeFrom, record.suspendedFrom, record.suspendedUntil, record.blockedFrom,
                  record.remote ? "remote" : "local", record.partyId, record.partyIdType, record.endpoint,
                  AddressRecordRules.joined(record.certificates), now])
    }

    public func count() throws -> Int {
        try pool.withConnection { c in try c.execute("SELECT COUNT(*) AS n FROM directory_addresses").first?.int("n") ?? 0 }
    }

    public func importRecords(_ records: [AddressRecord], replace: Bool, at now: Date) throws -> AddressImportResult {
        let seen = try AddressRecordRules.validate(records)
        return try pool.withConnection { c in
            try c.transaction {
                try c.execute("SELECT pg_advisory_xact_lock($1::integer, $2::integer)",
                              [Int(PostgresSchema.lockNamespace), Int(PostgresSchema.directoryImportLock)])
                var result = AddressImportResult()
                for record in records {
                    let stored = try c.execute("SELECT * FROM directory_addresses WHERE address = $1", [record.address]).first.map(Self.readRecord)
                    if let stored, stored.sameAsStored(record) {
                        result.unchanged += 1
                        continue
                    }
                    if stored == nil { result.added += 1 } else { result.changed += 1 }
                    try Self.upsert(c, record, at: now)
                }
                if replace {
                    let stale = try c.execute("SELECT address FROM directory_addresses").rows.map { $0.string("address") }
                        .filter { !seen.contains($0) }
                    if !stale.isEmpty {
                        try c.execute("DELETE FROM directory_addresses WHERE address = ANY($1::text[])", [PostgresArray(stale)])
                    }
                    result.removed = stale.count
                }
                return result
            }
        }
    }

    private static func readRecord(_ r: PostgresRow) -> AddressRecord {
        AddressRecord(
            address: r.string("address"), ownerId: r.string("owner_id"), ownerKind: r.string("owner_kind"),
            maxMessageBytes: r.optionalInt64("max_message_bytes").map(Int.init), mailboxBytes: r.optionalInt64("mailbox_bytes").map(Int.init),
            retentionDays: r.optionalInt64("retention_days").map(Int.init), activeFrom: r.optionalDate("active_from"),
            suspendedFrom: r.optionalDate("suspended_from"), suspendedUntil: r.optionalDate("suspended_until"),
            blockedFrom: r.optionalDate("blocked_from"), remote: r.string("access_point") == "remote",
            partyId: r.optionalString("party_id"), partyIdType: r.optionalString("party_id_type"), endpoint: r.optionalString("endpoint"),
            certificates: AddressRecordRules.split(r.optionalString("certificates")))
    }
}
