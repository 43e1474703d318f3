import Foundation

/// `RetentionStore` in the node's SQLite database (`messages.sqlite`, migration 8), beside the
/// documents it purges. Its own connection, like the directory's and the mailboxes'; writes are
/// `BEGIN IMMEDIATE` transactions.
public final class SQLiteRetentionStore: RetentionStore {
    private let database: SQLiteDatabaseConnection

    public init(dataDirectory: String, now: Date = Date()) throws {
        database = try SQLiteDatabaseConnection(dataDirectory: dataDirectory, now: now)
    }

    public func close() { database.close() }

    private func read<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withConnection(body)
    }

    private func write<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withConnection { c in try c.immediateTransaction { try body(c) } }
    }

    // MARK: Legal holds

    public func placeHold(_ target: LegalHoldTarget, reason: String, by: String, at: Date) throws -> LegalHold {
        try RetentionRules.checkReason(reason)
        return try write { c in
            var messageId: String?, address: String?
            switch target {
            case .message(let id):
                guard try c.queryFirst("SELECT 1 FROM documents WHERE message_id = ?", [id], row: { _ in true }) != nil else {
                    throw MailboxStoreError.notFound("no document \(id)")
                }
                messageId = id
            case .address(let a): address = a
            }
            try c.run("INSERT INTO legal_holds (message_id, address, reason, placed_by, placed_at) VALUES (?, ?, ?, ?, ?)",
                      [messageId, address, reason, by, at])
            let id = try c.queryFirst("SELECT last_insert_rowid() AS id") { $0.int64("id") } ?? 0
            return LegalHold(id: id, target: target, reason: reason, placedBy: by, placedAt: Date(storeMilliseconds: at.storeMilliseconds))
        }
    }

    public func releaseHold(id: Int64, by: String, at: Date) throws -> LegalHold {
        try write { c in
            guard let hold = try c.queryFirst("SELECT * FROM legal_holds WHERE id = ?", [id], row: { $0.legalHold() }) else {
                throw MailboxStoreError.notFound("no legal hold \(id)")
            }
            guard hold.isActive else { throw MailboxStoreError.conflict("legal hold \(id) was released already") }
            let databaseNow = try c.queryFirst("SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) AS now") { $0.date("now") } ?? Date()
            if let problem = RetentionRules.releaseProblem(hold, by: by, at: at, databaseNow: databaseNow) { throw problem }
            try c.run("UPDATE legal_holds SET released_by = ?, released_at = ? WHERE id = ?", [by, at, id])
            return try c.queryFirst("SELECT * FROM legal_holds WHERE id = ?", [id], row: { $0.legalHold() }) ?? hold
        }
    }

    public func hold(id: Int64) throws -> LegalHold? {
        try read { c in try c.queryFirst("SELECT * FROM legal_holds WHERE id = ?", [id], row: { $0.legalHold() }) }
    }

    public func holds(activeOnly: Bool) throws -> [LegalHold] {
        try read { c in
            try c.query(activeOnly ? "SELECT * FROM legal_holds WHERE released_at IS NULL ORDER BY id" : "SELECT * FROM legal_holds ORDER BY id") {
                $0.legalHold()
            }
        }
    }

    // MARK: Purge

    public func dueDocuments(now: Date, after: DueDocument?, limit: Int) throws -> [DueDocument] {
        try read { c in
            let due = try c.query("""
                SELECT message_id, retain_until FROM documents d
                WHERE retain_until IS NOT NULL AND retain_until <= ?
                  AND (? IS NULL OR retain_until > ? OR (retain_until = ? AND message_id > ?))
                  AND NOT EXISTS (SELECT 1 FROM document_recipients r WHERE r.message_id = d.message_id
                                  AND r.route = 'remote' AND r.status = 'Submitted')
                  AND NOT EXISTS (SELECT 1 FROM owed_reports o WHERE o.message_id = d.message_id)
                ORDER BY retain_until, message_id LIMIT ?
                """, [now, after?.retainUntil, after?.retainUntil, after?.retainUntil, after?.messageId, limit]) { ($0.string("message_id"), $0.date("retain_until")) }
            return try due.map { DueDocument(messageId: $0.0, retainUntil: $0.1, holds: try Self.activeHolds(c, $0.0)) }
        }
    }

    public func purgeDocument(messageId: String, by: String, now: Date, carrier: DocumentCarrier?) throws -> PurgeOutcome {
        try write { c in
            guard let (sender, retainUntil) = try c.queryFirst("SELECT sender, retain_until FROM documents WHERE message_id = ?", [messageId],
                                                               row: { ($0.string("sender"), $0.optionalDate("retain_until")) }) else {
                throw MailboxStoreError.notFound("no document \(messageId)")
            }
            if let refusal = RetentionRules.notRetained(messageId, retainUntil: retainUntil, now: now) { throw refusal }
            let holds = try Self.activeHolds(c, messageId)
            guard holds.isEmpty else { throw RetentionRules.held(messageId, by: holds) }
            let recipients = try c.query("SELECT address, route, status FROM document_recipients WHERE message_id = ? ORDER BY id", [messageId]) {
                (address: $0.string("address"), sending: $0.string("route") == "remote" && $0.string("status") == "Submitted")
            }
            guard !recipients.contains(where: \.sending) else { throw RetentionRules.stillSending(messageId) }
            guard try c.queryFirst("SELECT 1 FROM owed_reports WHERE message_id = ?", [messageId], row: { _ in true }) == nil else {
                throw RetentionRules.reportOwed(messageId)
            }
            let files = try c.query("SELECT path, size, sha256 FROM document_files WHERE message_id = ? ORDER BY position", [messageId]) {
                (path: $0.string("path"), size: $0.int64("size"), sha256: $0.string("sha256"))
            }
            let bytes = files.reduce(Int64(0)) { $0 + $1.size }
            let erased = try carrier.map { try Self.eraseCarriers(c, messageId, $0) } ?? (ids: [], paths: [])
            try c.run("""
                INSERT INTO purges (message_id, sender, recipients, file_digests, bytes, as4_messages, retain_until, purged_at, purged_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [messageId, sender, RetentionRules.lines(recipients.map(\.address)), RetentionRules.lines(files.map(\.sha256)), bytes,
                      RetentionRules.lines(erased.ids), retainUntil, now, by])
            let id = try c.queryFirst("SELECT last_insert_rowid() AS id") { $0.int64("id") } ?? 0
            // The events' places in the hash chain stay (EventChain), then children first (foreign
            // keys); each delete is checked again by the triggers.
            try c.run(EventChainSQL.tombstones(placeholders: ("?", "?")), [id, messageId])
            try c.run("""
                UPDATE id_watermarks SET last_id = max(last_id, coalesce((SELECT max(id) FROM document_recipients WHERE message_id = ?), 0))
                WHERE tbl = 'document_recipients'
                """, [messageId])
            for table in ["document_events", "document_files", "document_recipients", "documents"] {
                try c.run("DELETE FROM \(table) WHERE message_id = ?", [messageId])
            }
            // The uploads the document was made of (their files became its files): names and digests go too.
            try c.run("DELETE FROM uploads WHERE used_by = ?", [messageId])
            let record = PurgeRecord(id: id, messageId: messageId, sender: sender, recipients: recipients.map(\.address),
                                     fileDigests: files.map(\.sha256), bytes: bytes, as4Messages: erased.ids, retainUntil: retainUntil ?? now,
                                     purgedAt: Date(storeMilliseconds: now.storeMilliseconds), purgedBy: by)
            let paths = Array(Set(files.map(\.path) + erased.paths).filter { !$0.isEmpty }).sorted()
            for path in paths {
                try c.run("INSERT INTO purge_files (purge_id, path) VALUES (?, ?)", [id, path])
            }
            return PurgeOutcome(record: record, filePaths: paths)
        }
    }

    public func purges(messageId: String) throws -> [PurgeRecord] {
        try read { c in try c.query("SELECT * FROM purges WHERE message_id = ? ORDER BY id", [messageId]) { $0.purgeRecord() } }
    }

    public func unremovedPurgeFiles(limit: Int) throws -> [(purgeId: Int64, path: String)] {
        try read { c in try c.query("SELECT purge_id, path FROM purge_files ORDER BY purge_id, path LIMIT ?", [limit]) { ($0.int64("purge_id"), $0.string("path")) } }
    }

    public func purgeFileRemoved(purgeId: Int64, path: String) throws {
        try write { c in try c.run("DELETE FROM purge_files WHERE purge_id = ? AND path = ?", [purgeId, path]) }
    }

    public func purges(after: Int64, limit: Int) throws -> [PurgeRecord] {
        try read { c in try c.query("SELECT * FROM purges WHERE id > ? ORDER BY id LIMIT ?", [after, limit]) { $0.purgeRecord() } }
    }

    public func checkPurgeClock(_ check: PurgeClockCheck) throws -> PurgeClearance {
        let decide = { (c: SQLiteConnection) throws -> PurgeClockRule.Decision in
            let last = try c.queryFirst("SELECT * FROM purge_runs ORDER BY id DESC LIMIT 1") { $0.purgeRun() }
            let newest = last != nil ? nil : try c.queryFirst("""
                SELECT max(t) AS t FROM (SELECT (SELECT at FROM document_events ORDER BY id DESC LIMIT 1) AS t
                                         UNION ALL SELECT (SELECT purged_at FROM purges ORDER BY id DESC LIMIT 1))
                """) { $0.optionalDate("t") } ?? nil
            return PurgeClockRule.decide(check, last: last, newestWrite: newest)
        }
        guard check.record else { return try read { c in try decide(c).clearance } }
        return try write { c in
            let d = try decide(c)
            try c.run("INSERT INTO purge_runs (run_at, run_by, outcome, deferred_until, detail) VALUES (?, ?, ?, ?, ?)",
                      [check.now, check.by, d.outcome.rawValue, d.deferredUntil, d.detail])
            return d.clearance
        }
    }

    public func purgeRuns(limit: Int) throws -> [PurgeRun] {
        try read { c in try c.query("SELECT * FROM purge_runs ORDER BY id DESC LIMIT ?", [limit]) { $0.purgeRun() } }
    }

    // MARK: Mailboxes

    public func mailboxBytes(address: String) throws -> Int64 {
        try read { c in
            try c.queryFirst("""
                SELECT COALESCE(SUM(f.size), 0) AS n FROM document_recipients r JOIN document_files f ON f.message_id = r.message_id
                WHERE r.address = ? AND r.route = 'mailbox'
                """, [address]) { $0.int64("n") } ?? 0
        }
    }

    public func retainUntil(messageId: String) throws -> Date?? {
        try read { c in
            try c.queryFirst("SELECT retain_until FROM documents WHERE message_id = ?", [messageId]) { $0.optionalDate("retain_until") }
        }
    }

    /// Erases the payloads of the final AS4 messages that carried document `messageId` (see
    /// `RetentionStore.purgeDocument`): the one it arrived in, those it went out in, and those
    /// that brought a mailbox recipient here (each recipient names its own). Carriers are known by
    /// identity, never by a conversation id the sender chose. Returns their ids and the files to
    /// remove after the commit.
    private static func eraseCarriers(_ c: SQLiteConnection, _ messageId: String, _ carrier: DocumentCarrier) throws -> (ids: [String], paths: [String]) {
        let rows = try c.query("""
            SELECT row_id, message_id, direction, message_path FROM messages
            WHERE service = ?1 AND action = ?2
              AND (message_id IN (SELECT origin_message_id FROM documents WHERE message_id = ?3)
                   OR message_id IN (SELECT as4_message_id FROM document_recipients WHERE message_id = ?3 AND as4_message_id IS NOT NULL))
              AND ((direction = 'in' AND status IN ('Delivered', 'Retrieved')) OR (direction = 'out' AND status = 'Delivered'))
            ORDER BY row_id
            """, [carrier.service, carrier.action, messageId]) {
            (row: $0.int64("row_id"), id: $0.string("message_id"), outbound: $0.string("direction") == "out", path: $0.string("message_path"))
        }
        var paths: [String] = []
        // A document taken in by AS4 keeps its files where the message's parts are: no part row
        // may go on naming a file the purge removes, whichever message it belongs to.
        try c.run("UPDATE parts SET path = '' WHERE path <> '' AND path IN (SELECT path FROM document_files WHERE message_id = ?)", [messageId])
        for m in rows {
            paths += try c.query("SELECT path FROM parts WHERE message_row = ?", [m.row]) { $0.string("path") }
            try c.run("DELETE FROM part_bytes WHERE part_id IN (SELECT id FROM parts WHERE message_row = ?)", [m.row])
            try c.run("UPDATE parts SET path = '' WHERE message_row = ?", [m.row])
            // Properties name the sender and recipients (finalRecipient: a person's address):
            // they go with the payloads; the purge record keeps who was involved.
            try c.run("UPDATE parts SET properties = NULL WHERE message_row = ?", [m.row])
            try c.run("UPDATE messages SET properties = NULL WHERE row_id = ?", [m.row])
            if m.outbound {
                paths.append(m.path)
                try c.run("DELETE FROM message_bytes WHERE message_row = ?", [m.row])
                try c.run("UPDATE messages SET message_path = '' WHERE row_id = ?", [m.row])
            }
        }
        return (Array(Set(rows.map(\.id))).sorted(), paths)
    }

    /// Active holds on the document, its sender or one of its recipients.
    private static func activeHolds(_ c: SQLiteConnection, _ messageId: String) throws -> [Int64] {
        try c.query("""
            SELECT id FROM legal_holds h WHERE h.released_at IS NULL
              AND (h.message_id = ?1
                   OR h.address IN (SELECT sender FROM documents WHERE message_id = ?1)
                   OR h.address IN (SELECT address FROM document_recipients WHERE message_id = ?1))
            ORDER BY id
            """, [messageId]) { $0.int64("id") }
    }
}
