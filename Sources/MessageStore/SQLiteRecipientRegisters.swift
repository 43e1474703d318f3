import Foundation

/// The recipient registers in the node's `messages.sqlite` (migration 6), beside the directory
/// they are checked with. One connection, one caller at a time; each write is one transaction.
public final class SQLiteRecipientRegisters: NonDigitalRegisterStore, CompanyRegisterStore, MessagingOptInStore {
    private let database: SQLiteDatabaseConnection

    public init(dataDirectory: String, now: Date = Date()) throws {
        database = try SQLiteDatabaseConnection(dataDirectory: dataDirectory, now: now)
    }

    public func close() { database.close() }

    private func withConnection<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withConnection(body)
    }

    // MARK: Non-digital persons

    public func addNonDigitalPerson(_ e: NewNonDigitalPerson, by: String, at now: Date) throws -> NonDigitalPerson {
        try RecipientRegisterRules.validate(e)
        return try withConnection { c in
            try c.immediateTransaction {
                try c.run("""
                    INSERT INTO non_digital_persons (person_code, reason, valid_from, valid_until, recorded_by, recorded_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, [e.personCode, e.reason, e.validFrom, e.validUntil, by, now])
                let id = try c.queryFirst("SELECT last_insert_rowid() AS id") { $0.int64("id") } ?? 0
                try c.run("INSERT INTO non_digital_history (entry_id, person_code, action, by_connection, at, detail) VALUES (?, ?, 'added', ?, ?, ?)",
                          [id, e.personCode, by, now, e.reason])
                return try c.queryFirst("SELECT * FROM non_digital_persons WHERE id = ?", [id], row: Self.readPerson)!
            }
        }
    }

    public func endNonDigitalPerson(id: Int64, by: String, reason: String, at now: Date) throws -> NonDigitalPerson? {
        try withConnection { c in
            try c.immediateTransaction {
                guard let entry = try c.queryFirst("SELECT * FROM non_digital_persons WHERE id = ?", [id], row: Self.readPerson) else { return nil }
                guard entry.endedAt == nil else { throw StoreError.invalidArgument("entry \(id) was already ended") }
                try c.run("UPDATE non_digital_persons SET ended_by = ?, ended_at = ? WHERE id = ?", [by, now, id])
                try c.run("INSERT INTO non_digital_history (entry_id, person_code, action, by_connection, at, detail) VALUES (?, ?, 'ended', ?, ?, ?)",
                          [id, entry.personCode, by, now, reason])
                return try c.queryFirst("SELECT * FROM non_digital_persons WHERE id = ?", [id], row: Self.readPerson)
            }
        }
    }

    public func nonDigitalPerson(id: Int64) throws -> NonDigitalPerson? {
        try withConnection { c in try c.queryFirst("SELECT * FROM non_digital_persons WHERE id = ?", [id], row: Self.readPerson) }
    }

    public func nonDigitalPersons(personCode: String?, validAt: Date?, afterId: Int64, limit: Int) throws -> [NonDigitalPerson] {
        try withConnection { c in
            try c.query("""
                SELECT * FROM non_digital_persons WHERE id > ? AND (? IS NULL OR person_code = ?)
                    AND (? IS NULL OR (valid_from <= ? AND (valid_until IS NULL OR ? < valid_until) AND (ended_at IS NULL OR ? < ended_at)))
                ORDER BY id LIMIT ?
                """, [afterId, personCode, personCode, validAt, validAt, validAt, validAt, limit], row: Self.readPerson)
        }
    }

    public func nonDigitalHistory(personCode: String?, afterId: Int64, limit: Int) throws -> [NonDigitalHistoryItem] {
        try withConnection { c in
            try c.query("SELECT * FROM non_digital_history WHERE id > ? AND (? IS NULL OR person_code = ?) ORDER BY id LIMIT ?",
                        [afterId, personCode, personCode, limit]) { s in
                NonDigitalHistoryItem(id: s.int64("id"), entryId: s.int64("entry_id"), personCode: s.string("person_code"), action: s.string("action"),
                                      by: s.string("by_connection"), at: s.date("at"), detail: s.string("detail"))
            }
        }
    }

    public func validNonDigitalPersons(personCodes: [String], at now: Date) throws -> [String: NonDigitalPerson] {
        guard !personCodes.isEmpty else { return [:] }
        let rows = try withConnection { c in
            try c.query("""
                SELECT * FROM non_digital_persons WHERE person_code IN ({keys})
                    AND valid_from <= ? AND (valid_until IS NULL OR ? < valid_until) AND (ended_at IS NULL OR ? < ended_at)
                """, keys: personCodes, arguments: [now, now, now], row: Self.readPerson)
        }
        return RecipientRegisterRules.latestEnding(rows)
    }

    public func logChannelLookup(connection: String, personCodes: [String], purpose: ChannelLookupPurpose, at now: Date) throws {
        try withConnection { c in
            try c.run("INSERT INTO channel_lookups (connection, at, person_count, person_codes, purpose) VALUES (?, ?, ?, ?, ?)",
                      [connection, now, personCodes.count, RecipientRegisterRules.joined(personCodes), purpose.rawValue])
        }
    }

    public func channelLookups(personCode: String?, limit: Int) throws -> [ChannelLookupRecord] {
        try withConnection { c in
            try c.query("""
                SELECT * FROM channel_lookups WHERE ? IS NULL OR (',' || person_codes || ',') LIKE ('%,' || ? || ',%')
                ORDER BY id DESC LIMIT ?
                """, [personCode, personCode, limit]) { s in
                ChannelLookupRecord(id: s.int64("id"), connection: s.string("connection"), at: s.date("at"),
                                    personCodes: RecipientRegisterRules.split(s.string("person_codes")),
                                    purpose: RecipientRegisterRules.purpose(s.string("purpose")))
            }
        }
    }

    // MARK: Companies

    public func company(registrationNumber: String) throws -> CompanyRecord? {
        try withConnection { c in
            try c.queryFirst("SELECT * FROM companies WHERE registration_number = ?", [registrationNumber], row: Self.readCompany)
        }
    }

    public func companyCount() throws -> Int {
        try withConnection { c in try c.queryFirst("SELECT COUNT(*) AS n FROM companies") { $0.int("n") } ?? 0 }
    }

    public func hasCompanies() throws -> Bool {
        try withConnection { c in try c.queryFirst("SELECT EXISTS (SELECT 1 FROM companies) AS e") { $0.int("e") == 1 } ?? false }
    }

    public func replaceCompanies(_ records: [CompanyRecord], at now: Date) throws -> CompanyImportReport {
        _ = try RecipientRegisterRules.validate(records)
        return try withConnection { c in
            try c.immediateTransaction {
                var stored: [String: CompanyRecord] = [:]
                for r in try c.query("SELECT * FROM companies", row: Self.readCompany) { stored[r.registrationNumber] = r }
                let report = RecipientRegisterRules.report(stored: stored, records: records, at: now)
                // Statements are cached by text: one prepared INSERT for the whole file.
                for r in records where stored[r.registrationNumber].map({ !r.changedFields(from: $0).isEmpty }) ?? true {
                    try c.run("""
                        INSERT OR REPLACE INTO companies (registration_number, name, legal_form, status, liquidated_on, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """, [r.registrationNumber, r.name, r.legalForm, r.status, r.liquidatedOn, now])
                }
                for number in report.removed { try c.run("DELETE FROM companies WHERE registration_number = ?", [number]) }
                return report
            }
        }
    }

    // MARK: Opt-ins

    public func optIn(address: String) throws -> MessagingOptInRecord? {
        try withConnection { c in
            try c.queryFirst("SELECT * FROM messaging_opt_ins WHERE address = ?", [address], row: Self.readOptIn)
        }
    }

    public func updateOptIn(address: String, fromCompanies: Bool?, fromPersons: Bool?, setBy: String, at: Date) throws -> MessagingOptInRecord {
        try withConnection { c in
            let stored = try c.queryFirst("""
                INSERT INTO messaging_opt_ins (address, from_companies, from_persons, set_by, set_at)
                VALUES (?1, COALESCE(?2, 0), COALESCE(?3, 0), ?4, ?5)
                ON CONFLICT (address) DO UPDATE SET from_companies = COALESCE(?2, from_companies),
                    from_persons = COALESCE(?3, from_persons), set_by = ?4, set_at = ?5
                RETURNING *
                """, [address, fromCompanies.map { $0 ? 1 : 0 }, fromPersons.map { $0 ? 1 : 0 }, setBy, at], row: Self.readOptIn)
            guard let stored else { throw StoreError.invalidArgument("opt-in of \(address) was not stored") }
            return stored
        }
    }

    private static func readOptIn(_ s: SQLiteStatement) -> MessagingOptInRecord {
        MessagingOptInRecord(address: s.string("address"), fromCompanies: s.int("from_companies") == 1, fromPersons: s.int("from_persons") == 1,
                             setBy: s.string("set_by"), setAt: s.date("set_at"))
    }

    // MARK: Rows

    private static func readPerson(_ s: SQLiteStatement) -> NonDigitalPerson {
        NonDigitalPerson(id: s.int64("id"), personCode: s.string("person_code"), reason: s.string("reason"), validFrom: s.date("valid_from"),
                         validUntil: s.optionalDate("valid_until"), recordedBy: s.string("recorded_by"), recordedAt: s.date("recorded_at"),
                         endedBy: s.optionalString("ended_by"), endedAt: s.optionalDate("ended_at"))
    }

    private static func readCompany(_ s: SQLiteStatement) -> CompanyRecord {
        CompanyRecord(registrationNumber: s.string("registration_number"), name: s.string("name"), legalForm: s.string("legal_form"),
                      status: s.string("status"), liquidatedOn: s.optionalDate("liquidated_on"))
    }
}
