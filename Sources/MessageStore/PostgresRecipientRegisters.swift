import Foundation

/// The recipient registers on PostgreSQL (migration 5), shared by every node of the store. A
/// company import locks the table, so imports started on two nodes at once take turns and
/// readers see the register before or after one, never half of it.
public final class PostgresRecipientRegisters: NonDigitalRegisterStore, CompanyRegisterStore, MessagingOptInStore {
    private let pool: PostgresConnectionPool

    public init(url: String, poolSize: Int = 2, schema: SchemaAccess, now: Date = Date()) throws {
        pool = PostgresConnectionPool(url: url, size: poolSize)
        try pool.withConnection { try PostgresSchema.prepare($0, schema, at: now) }
    }

    public func close() { pool.close() }

    // MARK: Non-digital persons

    public func addNonDigitalPerson(_ e: NewNonDigitalPerson, by: String, at now: Date) throws -> NonDigitalPerson {
        try RecipientRegisterRules.validate(e)
        return try pool.withConnection { c in
            try c.transaction {
                let row = try c.execute("""
                    INSERT INTO non_digital_persons (person_code, reason, valid_from, valid_until, recorded_by, recorded_at)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING *
                    """, [e.personCode, e.reason, e.validFrom, e.validUntil, by, now]).first.map(Self.readPerson)!
                try c.execute("INSERT INTO non_digital_history (entry_id, person_code, action, by_connection, at, detail) VALUES ($1, $2, 'added', $3, $4, $5)",
                              [row.id, e.personCode, by, now, e.reason])
                return row
            }
        }
    }

    public func endNonDigitalPerson(id: Int64, by: String, reason: String, at now: Date) throws -> NonDigitalPerson? {
        try pool.withConnection { c in
            try c.transaction {
                guard let entry = try c.execute("SELECT * FROM non_digital_persons WHERE id = $1 FOR UPDATE", [id]).first.map(Self.readPerson) else { return nil }
                guard entry.endedAt == nil else { throw StoreError.invalidArgument("entry \(id) was already ended") }
                let ended = try c.execute("UPDATE non_digital_persons SET ended_by = $1, ended_at = $2 WHERE id = $3 RETURNING *", [by, now, id])
                    .first.map(Self.readPerson)
                try c.execute("INSERT INTO non_digital_history (entry_id, person_code, action, by_connection, at, detail) VALUES ($1, $2, 'ended', $3, $4, $5)",
                              [id, entry.personCode, by, now, reason])
                return ended
            }
        }
    }

    public func nonDigitalPerson(id: Int64) throws -> NonDigitalPerson? {
        try pool.withConnection { c in try c.execute("SELECT * FROM non_digital_persons WHERE id = $1", [id]).first.map(Self.readPerson) }
    }

    public func nonDigitalPersons(personCode: String?, validAt: Date?, afterId: Int64, limit: Int) throws -> [NonDigitalPerson] {
        try pool.withConnection { c in
            try c.execute("""
                SELECT * FROM non_digital_persons WHERE id > $1 AND ($2::text IS NULL OR person_code = $2)
                    AND ($3::bigint IS NULL OR (valid_from <= $3 AND (valid_until IS NULL OR $3 < valid_until) AND (ended_at IS NULL OR $3 < ended_at)))
                ORDER BY id LIMIT $4
                """, [afterId, personCode, validAt, limit]).rows.map(Self.readPerson)
        }
    }

    public func nonDigitalHistory(personCode: String?, afterId: Int64, limit: Int) throws -> [NonDigitalHistoryItem] {
        try pool.withConnection { c in
            try c.execute("SELECT * FROM non_digital_history WHERE id > $1 AND ($2::text IS NULL OR person_code = $2) ORDER BY id LIMIT $3",
                          [afterId, personCode, limit]).rows.map { r in
                NonDigitalHistoryItem(id: r.int64("id"), entryId: r.int64("entry_id"), personCode: r.string("person_code"), action: r.string("action"),
                                      by: r.string("by_connection"), at: r.date("at"), detail: r.string("detail"))
            }
        }
    }

    public func validNonDigitalPersons(personCodes: [String], at now: Date) throws -> [String: NonDigitalPerson] {
        guard !personCodes.isEmpty else { return [:] }
        let rows = try pool.withConnection { c in
            try c.execute("""
                SELECT * FROM non_digital_persons WHERE person_code = ANY($1::text[])
                    AND valid_from <= $2 AND (valid_until IS NULL OR $2 < valid_until) AND (ended_at IS NULL OR $2 < ended_at)
                """, [PostgresArray(personCodes), now]).rows.map(Self.readPerson)
        }
        return RecipientRegisterRules.latestEnding(rows)
    }

    public func logChannelLookup(connection: String, personCodes: [String], purpose: ChannelLookupPurpose, at now: Date) throws {
        try pool.withConnection { c in
            _ = try c.execute("INSERT INTO channel_lookups (connection, at, person_count, person_codes, purpose) VALUES ($1, $2, $3, $4, $5)",
                              [connection, now, personCodes.count, RecipientRegisterRules.joined(personCodes), purpose.rawValue])
        }
    }

    public func channelLookups(personCode: String?, limit: Int) throws -> [ChannelLookupRecord] {
        try pool.withConnection { c in
            try c.execute("""
                SELECT * FROM channel_lookups WHERE $1::text IS NULL OR (',' || person_codes || ',') LIKE ('%,' || $1 || ',%')
                ORDER BY id DESC LIMIT $2
                """, [personCode, limit]).rows.map { r in
                ChannelLookupRecord(id: r.int64("id"), connection: r.string("connection"), at: r.date("at"),
                                    personCodes: RecipientRegisterRules.split(r.string("person_codes")),
                                    purpose: RecipientRegisterRules.purpose(r.string("purpose")))
            }
        }
    }

    // MARK: Companies

    public func company(registrationNumber: String) throws -> CompanyRecord? {
        try pool.withConnection { c in
            try c.execute("SELECT * FROM companies WHERE registration_number = $1", [registrationNumber]).first.map(Self.readCompany)
        }
    }

    public func companyCount() throws -> Int {
        try pool.withConnection { c in try c.execute("SELECT COUNT(*) AS n FROM companies").first?.int("n") ?? 0 }
    }

    public func hasCompanies() throws -> Bool {
        try pool.withConnection { c in try c.execute("SELECT EXISTS (SELECT 1 FROM companies) AS e").first?.string("e") == "t" }
    }

    public func replaceCompanies(_ records: [CompanyRecord], at now: Date) throws -> CompanyImportReport {
        _ = try RecipientRegisterRules.validate(records)
        return try pool.withConnection { c in
            try c.transaction {
                try c.execute("LOCK TABLE companies IN EXCLUSIVE MODE")
                var stored: [String: CompanyRecord] = [:]
                for r in try c.execute("SELECT * FROM companies").rows.map(Self.readCompany) { stored[r.registrationNumber] = r }
                let report = RecipientRegisterRules.report(stored: stored, records: records, at: now)
                let writes = records.filter { r in stored[r.registrationNumber].map { !r.changedFields(from: $0).isEmpty } ?? true }
                // In batches of arrays: one statement per thousand companies, not one per company.
                for start in stride(from: 0, to: writes.count, by: 1000) {
                    let batch = writes[start..<min(start + 1000, writes.count)]
                    try c.execute("""
                        INSERT INTO companies (registration_number, name, legal_form, status, liquidated_on, updated_at)
                        SELECT r, n, f, s, l, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS t(r, n, f, s, l)
                        ON CONFLICT (registration_number) DO UPDATE SET name = EXCLUDED.name, legal_form = EXCLUDED.legal_form,
                            status = EXCLUDED.status, liquidated_on = EXCLUDED.liquidated_on, updated_at = EXCLUDED.updated_at
                        """, [PostgresArray(batch.map(\.registrationNumber)), PostgresArray(batch.map(\.name)), PostgresArray(batch.map(\.legalForm)),
                              PostgresArray(batch.map(\.status)), PostgresArray(batch.map { $0.liquidatedOn.map { String($0.storeMilliseconds) } }), now])
                }
                if !report.removed.isEmpty {
                    try c.execute("DELETE FROM companies WHERE registration_number = ANY($1::text[])", [PostgresArray(report.removed)])
                }
                return report
            }
        }
    }

    // MARK: Opt-ins

    public func optIn(address: String) throws -> MessagingOptInRecord? {
        try pool.withConnection { c in
            try c.execute("SELECT * FROM messaging_opt_ins WHERE address = $1", [address]).first.map(Self.readOptIn)
        }
    }

    public func updateOptIn(address: String, fromCompanies: Bool?, fromPersons: Bool?, setBy: String, at: Date) throws -> MessagingOptInRecord {
        try pool.withConnection { c in
            guard let row = try c.execute("""
                INSERT INTO messaging_opt_ins (address, from_companies, from_persons, set_by, set_at)
                VALUES ($1, COALESCE($2::integer, 0), COALESCE($3::integer, 0), $4, $5)
                ON CONFLICT (address) DO UPDATE SET from_companies = COALESCE($2::integer, messaging_opt_ins.from_companies),
                    from_persons = COALESCE($3::integer, messaging_opt_ins.from_persons), set_by = $4, set_at = $5
                RETURNING *
                """, [address, fromCompanies.map { $0 ? 1 : 0 }, fromPersons.map { $0 ? 1 : 0 }, setBy, at]).first else {
                throw StoreError.invalidArgument("opt-in of \(address) was not stored")
            }
            return Self.readOptIn(row)
        }
    }

    private static func readOptIn(_ r: PostgresRow) -> MessagingOptInRecord {
        MessagingOptInRecord(address: r.string("address"), fromCompanies: r.int("from_companies") == 1, fromPersons: r.int("from_persons") == 1,
                             setBy: r.string("set_by"), setAt: r.date("set_at"))
    }

    // MARK: Rows

    private static func readPerson(_ r: PostgresRow) -> NonDigitalPerson {
        NonDigitalPerson(id: r.int64("id"), personCode: r.string("person_code"), reason: r.string("reason"), validFrom: r.date("valid_from"),
                         validUntil: r.optionalDate("valid_until"), recordedBy: r.string("recorded_by"), recordedAt: r.date("recorded_at"),
                         endedBy: r.optionalString("ended_by"), endedAt: r.optionalDate("ended_at"))
    }

    private static func readCompany(_ r: PostgresRow) -> CompanyRecord {
        CompanyRecord(registrationNumber: r.string("registration_number"), name: r.string("name"), legalForm: r.string("legal_form"),
                      status: r.string("status"), liquidatedOn: r.optionalDate("liquidated_on"))
    }
}
