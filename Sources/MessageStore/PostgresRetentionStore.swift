import Foundation

/// `RetentionStore` on PostgreSQL (migration 7 of `PostgresSchema`), shared by every node.
/// A purge and a hold being placed take turns (one advisory transaction lock), so a hold that
/// commits is seen by any purge that commits after it; a purge also takes the document's own
/// lock, as `PostgresMailboxStore.insertDocument` does, so a recipient arriving for the same
/// document waits for it.
public final class PostgresRetentionStore: RetentionStore {
    private let pool: PostgresConnectionPool

    public init(url: String, poolSize: Int = 2, schema: SchemaAccess, now: Date = Date()) throws {
        pool = PostgresConnectionPool(url: url, size: poolSize)
        try pool.withConnection { try PostgresSchema.prepare($0, schema, at: now) }
    }

    public func close() { pool.close() }

    private func read<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection(body)
    }

    private func write<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection { c in try c.transaction { try body(c) } }
    }

    private static func lockHolds(_ c: PostgresConnection) throws {
        try c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["retention:legal-holds"])
    }

    // MARK: Legal holds

    public func placeHold(_ target: LegalHoldTarget, reason: String, by: String, at: Date) throws -> LegalHold {
        try RetentionRules.checkReason(reason)
        return try write { c in
            try Self.lockHolds(c)
            var messageId: String?, address: String?
            switch target {
            case .message(let id):
                guard try c.execute("SELECT 1 FROM documents WHERE message_id = $1", [id]).first != nil else {
                    throw MailboxStoreError.notFound("no document \(id)")
                }
                messageId = id
            case .address(let a): address = a
            }
            let id = try c.execute("""
                INSERT INTO legal_holds (message_id, address, reason, placed_by, placed_at) VALUES ($1, $2, $3, $4, $5) RETURNING id
                """, [messageId, address, reason, by, at]).first?.int64("id") ?? 0
            return LegalHold(id: id, target: target, reason: reason, placedBy: by, placedAt: Date(storeMilliseconds: at.storeMilliseconds))
        }
    }

    public func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold {
        try write { c in
            guard let hold = try c.execute("SELECT * FROM legal_holds WHERE id = $1 FOR UPDATE", [id]).first?.legalHold() else {
                throw MailboxStoreError.notFound("no legal hold \(id)")
            }
            guard hold.isActive else { throw MailboxStoreError.conflict("legal hold \(id) was released already") }
            let databaseNow = try c.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now").first?.date("now") ?? Date()
            if let problem = RetentionRules.releaseProblem(hold, by: by, at: at, databaseNow: databaseNow) { throw problem }
            return try c.execute("UPDATE legal_holds SET released_by = $1, released_at = $2 WHERE id = $3 RETURNING *", [by, at, id])
                .first?.legalHold() ?? hold
        }
    }

    public func hold(id: Int64) throws -> LegalHold? {
        try read { c in try c.execute("SELECT * FROM legal_holds WHERE id = $1", [id]).first?.legalHold() }
    }

    public func holds(activeOnly: Bool) throws -> [LegalHold] {
        try read { c in
            try c.execute(activeOnly ? "SELECT * FROM legal_holds WHERE released_at IS NULL ORDER BY id" : "SELECT * FROM legal_holds ORDER BY id")
                .rows.map { $0.legalHold() }
        }
    }

    // MARK: Purge

    public func dueDocuments(now: Date, after: DueDocument?, limit: Int) throws -> [DueDocument] {
        try read { c in
            let due = try c.execute("""
                SELECT message_id, retain_until FROM documents d
                WHERE retain_until IS NOT NULL AND retain_until <= $1
                  AND ($3::bigint IS NULL OR retain_until > $3 OR (retain_until = $3 AND message_id COLLATE "C" > $4))
                  AND NOT EXISTS (SELECT 1 FROM document_recipients r WHERE r.message_id = d.message_id
                                  AND r.route = 'remote' AND r.status = 'Submitted')
                  AND NOT EXISTS (SELECT 1 FROM owed_reports o WHERE o.message_id = d.message_id)
                ORDER BY retain_until, message_id COLLATE "C" LIMIT $2
                """, [now, limit, after?.retainUntil, after?.messageId]).rows.map { ($0.string("message_id"), $0.date("retain_until")) }
            return try due.map { DueDocument(messageId: $0.0, retainUntil: $0.1, holds: try Self.activeHolds(c, $0.0)) }
        }
    }

    public func purgeDocument(messageId: String, by: String, now: Date, carrier: DocumentCarrier?) throws -> PurgeOutcome {
        try write { c in
            try Self.lockHolds(c)
            try c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["mailbox:document:" + messageId])
            guard let row = try c.execute("SELECT sender, retain_until FROM documents WHERE message_id = $1 FOR UPDATE", [messageId]).first else {
                throw MailboxStoreError.notFound("no document \(messageId)")
            }
            let sender = row.string("sender"), retainUntil = row.optionalDate("retain_until")
            if let refusal = RetentionRules.notRetained(messageId, retainUntil: retainUntil, now: now) { throw refusal }
            let holds = try Self.activeHolds(c, messageId)
            guard holds.isEmpty else { throw RetentionRules.held(messageId, by: holds) }
            let recipients = try c.execute("SELECT address, route, status FROM document_recipients WHERE message_id = $1 ORDER BY id", [messageId])
                .rows.map { (address: $0.string("address"), sending: $0.string("route") == "remote" && $0.string("status") == "Submitted") }
            guard !recipients.contains(where: \.sending) else { throw RetentionRules.stillSending(messageId) }
            guard try c.execute("SELECT 1 FROM owed_reports WHERE message_id = $1", [messageId]).first == nil else {
                throw RetentionRules.reportOwed(messageId)
            }
            let files = try c.execute("SELECT path, size, sha256 FROM document_files WHERE message_id = $1 ORDER BY position", [messageId])
                .rows.map { (path: $0.string("path"), size: $0.int64("size"), sha256: $0.string("sha256")) }
            let bytes = files.reduce(Int64(0)) { $0 + $1.size }
            let erased = try carrier.map { try Self.eraseCarriers(c, messageId, $0) } ?? (ids: [], paths: [])
            let id = try c.execute("""
                INSERT INTO purges (message_id, sender, recipients, file_digests, bytes, as4_messages, retain_until, purged_at, purged_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
                """, [messageId, sender, RetentionRules.lines(recipients.map(\.address)), RetentionRules.lines(files.map(\.sha256)), bytes,
                      RetentionRules.lines(erased.ids), retainUntil, now, by]).first?.int64("id") ?? 0
            // The events' places in the hash chain stay (EventChain), then children first (foreign
            // keys); each delete is checked again by the triggers.
            _ = try c.execute(EventChainSQL.tombstones(placeholders: ("$1", "$2")), [id, messageId])
            for table in ["document_events", "document_files", "document_recipients", "documents"] {
                try c.execute("DELETE FROM \(table) WHERE message_id = $1", [messageId])
            }
            // The uploads the document was made of (their files became its files): names and digests go too.
            try c.execute("DELETE FROM uploads WHERE used_by = $1", [messageId])
            let record = PurgeRecord(id: id, messageId: messageId, sender: sender, recipients: recipients.map(\.address),
                                     fileDigests: files.map(\.sha256), bytes: bytes, as4Messages: erased.ids, retainUntil: retainUntil ?? now,
                                     purgedAt: Date(storeMilliseconds: now.storeMilliseconds), purgedBy: by)
            let paths = Array(Set(files.map(\.path) + erased.paths).filter { !$0.isEmpty }).sorted()
            for path in paths {
                _ = try c.execute("INSERT INTO purge_files (purge_id, path) VALUES ($1, $2)", [id, path])
            }
            return PurgeOutcome(record: record, filePaths: paths)
        }
    }

    public func purges(messageId: String) throws -> [PurgeRecord] {
        try read { c in try c.execute("SELECT * FROM purges WHERE message_id = $1 ORDER BY id", [messageId]).rows.map { $0.purgeRecord() } }
    }

    public func unremovedPurgeFiles(limit: Int) throws -> [(purgeId: Int64, path: String)] {
        try read { c in
            try c.execute("SELECT purge_id, path FROM purge_files ORDER BY purge_id, path LIMIT $1", [limit]).rows.map { ($0.int64("purge_id"), $0.string("path")) }
        }
    }

    public func purgeFileRemoved(purgeId: Int64, path: String) throws {
        try write { c in _ = try c.execute("DELETE FROM purge_files WHERE purge_id = $1 AND path = $2", [purgeId, path]) }
    }

    public func purges(after: Int64, limit: Int) throws -> [PurgeRecord] {
        try read { c in try c.execute("SELECT * FROM purges WHERE id > $1 ORDER BY id LIMIT $2", [after, limit]).rows.map { $0.purgeRecord() } }
    }

    public func checkPurgeClock(_ check: PurgeClockCheck) throws -> PurgeClearance {
        let decide = { (c: PostgresConnection) throws -> PurgeClockRule.Decision in
            let last = try c.execute("SELECT * FROM purge_runs ORDER BY id DESC LIMIT 1").first?.purgeRun()
            let newest = last != nil ? nil : try c.execute("""
                SELECT GREATEST((SELECT at FROM document_events ORDER BY id DESC LIMIT 1),
                                (SELECT purged_at FROM purges ORDER BY id DESC LIMIT 1)) AS t
                """).first?.optionalDate("t")
            return PurgeClockRule.decide(check, last: last, newestWrite: newest)
        }
        guard check.record else { return try read { c in try decide(c).clearance } }
        return try write { c in
            // Nodes and operators' commands take turns: each judges against the run before it.
            try c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["retention:purge-runs"])
            let d = try decide(c)
            try c.execute("INSERT INTO purge_runs (run_at, run_by, outcome, deferred_until, detail) VALUES ($1, $2, $3, $4, $5)",
                          [check.now, check.by, d.outcome.rawValue, d.deferredUntil, d.detail])
            return d.clearance
        }
    }

    public func purgeRuns(limit: Int) throws -> [PurgeRun] {
        try read { c in try c.execute("SELECT * FROM purge_runs ORDER BY id DESC LIMIT $1", [limit]).rows.map { $0.purgeRun() } }
    }

    // MARK: Mailboxes

    public func mailboxBytes(address: String) throws -> Int64 {
        try read { c in
            try c.execute("""
                SELECT COALESCE(SUM(f.size), 0) AS n FROM document_recipients r JOIN document_files f ON f.message_id = r.message_id
                WHERE r.address = $1 AND r.route = 'mailbox'
                """, [address]).first?.int64("n") ?? 0
        }
    }

    public func retainUntil(messageId: String) throws -> Date?? {
        try read { c in
            try c.execute("SELECT retain_until FROM documents WHERE message_id = $1", [messageId]).first.map { $0.optionalDate("retain_until") }
        }
    }

    /// Erases the payloads of the final AS4 messages that carried document `messageId` (see
    /// `RetentionStore.purgeDocument`); returns their ids and the files to remove after the commit.
    /// Each message row is locked first, as the message store's own status changes do. (The
    /// PostgreSQL message store keeps every payload and sealed message in a file.)
    private static func eraseCarriers(_ c: PostgresConnection, _ messageId: String, _ carrier: DocumentCarrier) throws -> (ids: [String], paths: [String]) {
        let rows = try c.execute("""
            SELECT row_id, message_id, direction, message_path FROM messages
            WHERE service = $2 AND action = $3
              AND (message_id IN (SELECT origin_message_id FROM documents WHERE message_id = $1)
                   OR message_id IN (SELECT as4_message_id FROM document_recipients WHERE message_id = $1 AND as4_message_id IS NOT NULL))
              AND ((direction = 'in' AND status IN ('Delivered', 'Retrieved')) OR (direction = 'out' AND status = 'Delivered'))
            ORDER BY row_id FOR UPDATE
            """, [messageId, carrier.service, carrier.action]).rows.map {
            (row: $0.int64("row_id"), id: $0.string("message_id"), outbound: $0.string("direction") == "out", path: $0.string("message_path"))
        }
        var paths: [String] = []
        // As SQLite's: no part row may go on naming a file the purge removes.
        _ = try c.execute("UPDATE parts SET path = '' WHERE path <> '' AND path IN (SELECT path FROM document_files WHERE message_id = $1)", [messageId])
        for m in rows {
            paths += try c.execute("SELECT path FROM parts WHERE message_row = $1", [m.row]).rows.map { $0.string("path") }
            try c.execute("UPDATE parts SET path = '' WHERE message_row = $1", [m.row])
            // Properties name the sender and recipients (finalRecipient: a person's address):
            // they go with the payloads; the purge record keeps who was involved.
            try c.execute("UPDATE parts SET properties = NULL WHERE message_row = $1", [m.row])
            try c.execute("UPDATE messages SET properties = NULL WHERE row_id = $1", [m.row])
            if m.outbound {
                paths.append(m.path)
                try c.execute("UPDATE messages SET message_path = '' WHERE row_id = $1", [m.row])
            }
        }
        return (Array(Set(rows.map(\.id))).sorted(), paths)
    }

    /// Active holds on the document, its sender or one of its recipients.
    private static func activeHolds(_ c: PostgresConnection, _ messageId: String) throws -> [Int64] {
        try c.execute("""
            SELECT id FROM legal_holds h WHERE h.released_at IS NULL
              AND (h.message_id = $1
                   OR h.address IN (SELECT sender FROM documents WHERE message_id = $1)
                   OR h.address IN (SELECT address FROM document_recipients WHERE message_id = $1))
            ORDER BY id
            """, [messageId]).rows.map { $0.int64("id") }
    }
}
