import Foundation
import Synchronization

/// `MailboxStore` on PostgreSQL (migration 3 of `PostgresSchema`), beside `PostgresMessageStore`
/// in the same database, so that several nodes serve the API and the hub from one state.
///
/// Between nodes: a recipient's state change reads its row `FOR UPDATE`, so two nodes recording
/// the same step find one winner; a document insert first takes advisory transaction locks on
/// its message id and on its connection's idempotency key, so a second node submitting the same
/// key waits and then answers the first one's document. Recipient and notification rows are
/// inserted under `PostgresSchema.mailboxOrderLock`, so their ids become visible in id order and
/// readers that follow "ids after N" (inboxes, the feed, webhooks) never skip one.
/// Background jobs run under `exclusively(job:)`: a session advisory lock per job name, so one
/// node at a time runs each; a job with effects outside the database (webhooks) also holds a
/// fence (`PostgresJobLocks`), checked before each effect and where its result is recorded.
public final class PostgresMailboxStore: MailboxStore {
    let pool: PostgresConnectionPool
    /// The job locks, on a session of their own (a session advisory lock lives as long as the
    /// connection that took it), and the fences of jobs with effects outside the database.
    private let jobs: PostgresJobLocks

    public init(url: String, poolSize: Int = 4, schema: SchemaAccess, now: Date = Date()) throws {
        pool = PostgresConnectionPool(url: url, size: poolSize)
        jobs = PostgresJobLocks(url: url)
        try pool.withConnection { try PostgresSchema.prepare($0, schema, at: now) }
    }

    public func close() {
        pool.close()
        jobs.close()
    }

    private func read<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection(body)
    }

    private func write<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection { c in try c.transaction { try body(c) } }
    }

    // MARK: Connections

    public func addConnection(_ b: BackendConnection) throws {
        try write { c in
            // The first statement orders this insert after notifications already committed, so
            // the new connection's starting position is exact.
            try Self.lockOrder(c)
            if try c.execute("SELECT 1 FROM api_connections WHERE name = $1", [b.name]).first != nil {
                throw MailboxRules.connectionExists(b.name)
            }
            let latest = try c.execute("SELECT COALESCE(MAX(id), 0) AS n FROM notifications").first?.int64("n") ?? 0
            do {
                try c.execute("""
                    INSERT INTO api_connections (name, token_sha256, certificate_sha256, addresses, created_at, revoked_at, notified_upto,
                                                 webhook_url, webhook_secret, webhook_upto, roles)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    """, [b.name, b.tokenSHA256, b.certificateSHA256, MailboxColumns.addressesColumn(b.addresses), b.createdAt, b.revokedAt, latest,
                          b.webhookURL, b.webhookSecret, latest, ConnectionRole.column(b.roles)])
            } catch StoreError.postgres(let state, _, _) where state == "23505" {
                throw MailboxRules.connectionExists(b.name)
            }
        }
    }

    public func connections() throws -> [BackendConnection] {
        try read { c in
            try c.execute("SELECT * FROM api_connections ORDER BY name COLLATE \"C\"").rows.map { $0.backendConnection() }
        }
    }

    public func revokeConnection(name: String, at: Date) throws -> Bool {
        try write { c in
            try c.execute("UPDATE api_connections SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL", [at, name]).affectedRows == 1
        }
    }

    // MARK: Documents

    public func insertDocument(_ d: NewDocument, notifications: [BackendNotification], at: Date) throws -> DocumentInsertResult {
        try write { c in
            if let connection = d.connection, let key = d.idempotencyKey {
                try Self.lock(c, "idempotency:\(connection)\n\(key)")
                if let first = try c.execute("SELECT message_id FROM documents WHERE connection = $1 AND idempotency_key = $2",
                                             [connection, key]).first?.string("message_id") {
                    return .existing(messageId: first)
                }
            }
            try Self.lock(c, "document:" + d.messageId)
            var recipients = d.recipients
            if let held = try c.execute("SELECT origin_party FROM documents WHERE message_id = $1", [d.messageId]).first {
                let present = Set(try c.execute("SELECT address FROM document_recipients WHERE message_id = $1", [d.messageId])
                    .rows.map { $0.string("address") })
                recipients = try MailboxRules.recipientsToAdd(d, heldFrom: held.optionalString("origin_party"), present: present)
                if recipients.isEmpty { return .existing(messageId: d.messageId) }
                if let until = d.retainUntil {
                    try c.execute("UPDATE documents SET retain_until = $1 WHERE message_id = $2 AND retain_until < $1", [until, d.messageId])
                }
            } else {
                try c.execute("""
                    INSERT INTO documents (message_id, connection, idempotency_key, idempotency_fingerprint, sender, metadata, origin_party,
                                           origin_message_id, delivery_by, created_at, retain_until)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    """, [d.messageId, d.connection, d.idempotencyKey, d.idempotencyFingerprint, d.sender, d.metadata, d.originParty,
                          d.originMessageId, d.deliveryBy, at, d.retainUntil])
                for (i, f) in d.files.enumerated() {
                    try c.execute("""
                        INSERT INTO document_files (message_id, position, name, mime_type, path, size, sha256)
                        VALUES ($1, $2, $3, $4, $5, $6, $7)
                        """, [d.messageId, i + 1, f.name, f.mimeType, f.file.path, f.file.size, f.file.sha256])
                }
            }
            for id in d.uploads {
                let taken = try c.execute("""
                    UPDATE uploads SET used_by = $1
                    WHERE id = $2 AND connection = $3 AND completed_at IS NOT NULL AND used_by IS NULL
                    """, [d.messageId, id, d.connection ?? ""]).affectedRows
                guard taken == 1 else { throw MailboxRules.uploadNotUsable(id) }
            }
            try Self.lockOrder(c)
            for r in recipients {
                let inserted = try c.execute("""
                    INSERT INTO document_recipients (message_id, address, route, status, party, as4_message_id, deadline_at, updated_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (as4_message_id) WHERE as4_message_id IS NOT NULL DO NOTHING
                    """, [d.messageId, r.address, r.route.rawValue, r.status.rawValue, r.party, r.as4MessageId,
                          MailboxRules.deadline(d), at])
                // A refusal the caller can judge, where the unique index's own error would read as
                // a store failure: one the mailbox worker would try again each round, for ever.
                if inserted.affectedRows == 0, let carrier = r.as4MessageId {
                    let holder = try c.execute("SELECT message_id FROM document_recipients WHERE as4_message_id = $1", [carrier])
                        .first?.string("message_id")
                    throw MailboxRules.carrierTaken(carrier, by: holder)
                }
                try Self.event(c, d.messageId, r.address, at, r.status.rawValue, MailboxRules.firstEventDetail(r))
            }
            for n in MailboxRules.notificationsToWrite(notifications, recipients: recipients) {
                try Self.notify(c, n, at)
            }
            return .stored
        }
    }

    public func document(messageId: String) throws -> Document? {
        try read { c in try Self.readDocument(c, messageId) }
    }

    public func documentId(connection: String, idempotencyKey: String) throws -> String? {
        try read { c in
            try c.execute("SELECT message_id FROM documents WHERE connection = $1 AND idempotency_key = $2",
                          [connection, idempotencyKey]).first?.string("message_id")
        }
    }

    public func events(messageId: String) throws -> [DocumentEvent] {
        try read { c in
            try c.execute("SELECT * FROM document_events WHERE message_id = $1 ORDER BY id", [messageId]).rows.map { $0.documentEvent() }
        }
    }

    public func updateRecipient(_ u: RecipientUpdate, at: Date) throws -> Bool {
        try write { c in
            guard let row = try c.execute("""
                    SELECT r.status, r.decision, r.retrieved_at, CASE WHEN r.receipt IS NULL THEN 0 ELSE 1 END AS held, d.delivery_by
                    FROM document_recipients r JOIN documents d ON d.message_id = r.message_id
                    WHERE r.message_id = $1 AND r.address = $2 FOR UPDATE OF r
                    """,
                                          [u.messageId, u.address]).first,
                  let status = RecipientStatus(rawValue: row.string("status")) else {
                throw MailboxRules.noRecipient(u)
            }
            // A recipient who read the document is never Failed (a late report from its access point).
            if u.status == .failed, row.optionalDate("retrieved_at") != nil { return false }
            try MailboxRules.checkUpdate(u, decided: row.optionalString("decision"))
            if u.retrieved {
                try c.execute("""
                    UPDATE document_recipients SET retrieved_at = $1 WHERE message_id = $2 AND address = $3 AND retrieved_at IS NULL
                    """, [u.retrievedAt ?? at, u.messageId, u.address])
            }
            // The receipt is the proof of sending: kept even when a later state was reported first.
            if let receipt = u.receipt {
                try c.execute("UPDATE document_recipients SET receipt = $1 WHERE message_id = $2 AND address = $3 AND receipt IS NULL",
                              [receipt, u.messageId, u.address])
            }
            let again = try MailboxRules.failsAgain(u, current: status) {
                try c.execute("SELECT COUNT(*) AS n FROM document_events WHERE message_id = $1 AND address = $2 AND status = $3",
                              [u.messageId, u.address, RecipientStatus.failed.rawValue]).first.map { Int($0.int64("n")) } ?? 0
            }
            guard again || status.allows(u.status, receiptHeld: row.int("held") != 0) else { return false }
            let note: String?
            switch MailboxRules.deadlineJudgement(current: status, next: u.status, read: row.optionalDate("retrieved_at"),
                                                  readNow: u.retrieved ? u.retrievedAt ?? at : nil, deliveryBy: row.optionalDate("delivery_by")) {
            case .refuse:
                return false
            case .keepStatus(let text):
                note = text
                try c.execute("UPDATE document_recipients SET updated_at = $1 WHERE message_id = $2 AND address = $3",
                              [at, u.messageId, u.address])
            case .apply(let text):
                note = text
                try c.execute("UPDATE document_recipients SET status = $1, updated_at = $2 WHERE message_id = $3 AND address = $4",
                              [u.status.rawValue, at, u.messageId, u.address])
            }
            if u.status == .deliveryDelayed || u.status == .failed {
                // The deadline has acted, once: a recipient read late is not delayed again, and
                // one failed at or after it and then delivered after all is not delayed either.
                let passed = u.status == .failed ? " AND deadline_at <= $3" : ""
                try c.execute("UPDATE document_recipients SET deadline_at = NULL WHERE message_id = $1 AND address = $2" + passed,
                              u.status == .failed ? [u.messageId, u.address, at] : [u.messageId, u.address])
            }
            if let d = u.decision {
                try c.execute("""
                    UPDATE document_recipients SET decision = $1, decision_code = $2, decision_reason = $3, decided_at = $4
                    WHERE message_id = $5 AND address = $6
                    """, [MailboxColumns.decision(d), d.code, d.reason, d.at, u.messageId, u.address])
            }
            try Self.event(c, u.messageId, u.address, at, u.status.rawValue, MailboxRules.noted(u.detail, note))
            if !u.notifications.isEmpty { try Self.lockOrder(c) }
            for var n in u.notifications {
                n.detail = MailboxRules.noted(n.detail, note)
                try Self.notify(c, n, at)
            }
            // The recipient's row lock (above) orders its obligations: a later step's id is drawn
            // after this one commits.
            if let r = u.originReport {
                try c.execute("""
                    INSERT INTO owed_reports (message_id, address, status, code, reason, at, retrieved_at, due_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    """, [u.messageId, u.address, u.status.rawValue, r.code, r.reason, at,
                          r.readingTime(recorded: row.optionalDate("retrieved_at") ?? (u.retrieved ? u.retrievedAt ?? at : nil)), r.dueAt])
            }
            return true
        }
    }

    public func recordAnswerDelayed(messageId: String, address: String, detail: String, notifications: [BackendNotification],
                                    at: Date) throws -> Bool {
        try write { c in
            guard let row = try c.execute("""
                    SELECT r.status, r.decision, r.retrieved_at, r.deadline_at, d.delivery_by
                    FROM document_recipients r JOIN documents d ON d.message_id = r.message_id
                    WHERE r.message_id = $1 AND r.address = $2 FOR UPDATE OF r
                    """, [messageId, address]).first else {
                throw MailboxStoreError.notFound("message \(messageId) has no recipient \(address)")
            }
            guard MailboxRules.answerIsDelayed(status: row.recipientStatus(), decided: row.optionalString("decision"),
                                               read: row.optionalDate("retrieved_at"), deliveryBy: row.optionalDate("delivery_by"),
                                               deadlinePending: row.optionalDate("deadline_at").map { $0 <= at } ?? false) else { return false }
            try c.execute("UPDATE document_recipients SET deadline_at = NULL WHERE message_id = $1 AND address = $2", [messageId, address])
            try Self.event(c, messageId, address, at, RecipientStatus.answerDelayedEvent, detail)
            if !notifications.isEmpty { try Self.lockOrder(c) }
            for n in notifications { try Self.notify(c, n, at) }
            return true
        }
    }

    public func recipient(as4MessageId: String) throws -> (messageId: String, address: String)? {
        try read { c in
            try c.execute("SELECT message_id, address FROM document_recipients WHERE as4_message_id = $1", [as4MessageId]).first.map {
                (messageId: $0.string("message_id"), address: $0.string("address"))
            }
        }
    }

    public func overdueRecipients(now: Date, limit: Int) throws -> [(messageId: String, address: String, status: RecipientStatus)] {
        try read { c in
            try c.execute("""
                SELECT message_id, address, status FROM document_recipients
                WHERE deadline_at IS NOT NULL AND status IN ('Submitted', 'Accepted', 'Delivered') AND deadline_at <= $1
                ORDER BY deadline_at, id LIMIT $2
                """, [now, limit]).rows.map {
                (messageId: $0.string("message_id"), address: $0.string("address"), status: $0.recipientStatus())
            }
        }
    }

    public func unsentRemoteRecipients(limit: Int) throws -> [(messageId: String, address: String, as4MessageId: String)] {
        try read { c in
            try c.execute("""
                SELECT message_id, address, as4_message_id FROM document_recipients
                WHERE route = 'remote' AND status = 'Submitted' ORDER BY id LIMIT $1
                """, [limit]).rows.map {
                (messageId: $0.string("message_id"), address: $0.string("address"), as4MessageId: $0.string("as4_message_id"))
            }
        }
    }

    public func inbox(address: String, after cursor: Int64, limit: Int) throws -> [(entry: Int64, document: Document)] {
        try read { c in
            let rows = try c.execute("""
                SELECT id, message_id FROM document_recipients WHERE address = $1 AND route = 'mailbox' AND id > $2 ORDER BY id LIMIT $3
                """, [address, cursor, limit]).rows.map { ($0.int64("id"), $0.string("message_id")) }
            return try rows.compactMap { row in try Self.readDocument(c, row.1).map { (entry: row.0, document: $0) } }
        }
    }

    // MARK: Status reports owed to origins

    public func owedReports(dueBy now: Date, limit: Int) throws -> [OwedReport] {
        try read { c in
            try c.execute("""
                SELECT o.* FROM owed_reports o
                WHERE (SELECT h.due_at FROM owed_reports h WHERE h.message_id = o.message_id AND h.address = o.address ORDER BY h.id LIMIT 1) <= $1
                ORDER BY o.id LIMIT $2
                """, [now, limit]).rows.map { $0.owedReport() }
        }
    }

    public func owedReports(messageId: String, address: String) throws -> [OwedReport] {
        try read { c in
            try c.execute("SELECT * FROM owed_reports WHERE message_id = $1 AND address = $2 ORDER BY id", [messageId, address])
                .rows.map { $0.owedReport() }
        }
    }

    public func reportQueued(id: Int64) throws -> Bool {
        try write { c in try c.execute("DELETE FROM owed_reports WHERE id = $1", [id]).affectedRows == 1 }
    }

    public func reportNotQueued(id: Int64, error: String, retryAt: Date) throws {
        try write { c in
            _ = try c.execute("UPDATE owed_reports SET attempts = attempts + 1, last_error = $1, due_at = $2 WHERE id = $3", [error, retryAt, id])
        }
    }

    public func owedReportBacklog() throws -> (count: Int, oldestStep: Date?) {
        try read { c in
            let row = try c.execute("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM owed_reports").first
            return (row.map { Int($0.int64("n")) } ?? 0, row?.optionalDate("oldest"))
        }
    }

    // MARK: Uploads

    public func createUpload(_ u: Upload) throws {
        try write { c in
            _ = try c.execute("""
                INSERT INTO uploads (id, connection, name, mime_type, size, chunk_size, received, path, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)
                """, [u.id, u.connection, u.name, u.mimeType, u.size, u.chunkSize, u.path, u.createdAt])
        }
    }

    public func upload(id: String) throws -> Upload? {
        try read { c in try Self.readUpload(c, id) }
    }

    public func recordChunk(uploadId: String, number: Int, at: Date) throws {
        try write { c in
            let moved = try c.execute("UPDATE uploads SET received = $1 WHERE id = $2 AND received = $3 AND completed_at IS NULL",
                                      [number, uploadId, number - 1]).affectedRows
            guard moved == 1 else {
                let u = try Self.readUpload(c, uploadId)
                throw MailboxRules.chunkOutOfTurn(uploadId: uploadId, number: number, upload: u)
            }
        }
    }

    public func completeUpload(id: String, sha256: String, at: Date) throws {
        try write { c in
            guard MailboxRules.isCompletable(try Self.readUpload(c, id, forUpdate: true)) else { throw MailboxRules.uploadNotCompletable(id) }
            try c.execute("UPDATE uploads SET sha256 = $1, completed_at = $2 WHERE id = $3", [sha256, at, id])
        }
    }

    public func abandonedUploads(createdBefore: Date, limit: Int) throws -> [Upload] {
        try read { c in
            let ids = try c.execute("SELECT id FROM uploads WHERE used_by IS NULL AND created_at < $1 ORDER BY created_at, id LIMIT $2",
                                    [createdBefore, limit]).rows.map { $0.string("id") }
            return try ids.compactMap { try Self.readUpload(c, $0) }
        }
    }

    public func openUploads(connection: String?) throws -> [Upload] {
        try read { c in
            let ids = try c.execute("SELECT id FROM uploads WHERE used_by IS NULL AND ($1::text IS NULL OR connection = $1) ORDER BY created_at, id",
                                    [connection]).rows.map { $0.string("id") }
            return try ids.compactMap { try Self.readUpload(c, $0) }
        }
    }

    public func deleteUpload(id: String) throws -> Bool {
        try write { c in try c.execute("DELETE FROM uploads WHERE id = $1 AND used_by IS NULL", [id]).affectedRows == 1 }
    }

    // MARK: Notifications

    public func notifications(connection: String, addresses: [String], limit: Int) throws -> [BackendNotification] {
        guard !addresses.isEmpty else { return [] }
        return try read { c in
            let upTo = try c.execute("SELECT notified_upto FROM api_connections WHERE name = $1", [connection]).first?.int64("notified_upto") ?? 0
            return try c.execute("SELECT * FROM notifications WHERE address = ANY($1::text[]) AND id > $2 ORDER BY id LIMIT $3",
                                 [PostgresArray(addresses), upTo, limit]).rows.map(Self.readNotification)
        }
    }

    public func confirmNotifications(connection: String, addresses: [String], upTo: Int64) throws -> Bool {
        guard !addresses.isEmpty else { return false }
        return try write { c in
            guard try c.execute("SELECT 1 FROM notifications WHERE id = $1 AND address = ANY($2::text[])",
                                [upTo, PostgresArray(addresses)]).first != nil else { return false }
            return try c.execute("UPDATE api_connections SET notified_upto = GREATEST(notified_upto, $1) WHERE name = $2",
                                 [upTo, connection]).affectedRows == 1
        }
    }

    public func notifications(after: Int64, addresses: [String], limit: Int) throws -> [BackendNotification] {
        guard !addresses.isEmpty else { return [] }
        return try read { c in
            try c.execute("SELECT * FROM notifications WHERE address = ANY($1::text[]) AND id > $2 ORDER BY id LIMIT $3",
                          [PostgresArray(addresses), after, limit]).rows.map(Self.readNotification)
        }
    }

    public func webhookState(connection: String) throws -> WebhookState? {
        try read { c in
            try c.execute("SELECT webhook_upto, webhook_attempts, webhook_next_at, webhook_error FROM api_connections WHERE name = $1",
                          [connection]).first.map { $0.webhookState() }
        }
    }

    public func recordWebhookDelivery(connection: String, upTo: Int64, fence: JobFence) throws {
        try write { c in
            try PostgresJobLocks.confirm(fence, in: c)
            _ = try c.execute("""
                UPDATE api_connections
                SET webhook_upto = GREATEST(webhook_upto, $1), webhook_attempts = 0, webhook_next_at = NULL, webhook_error = NULL
                WHERE name = $2
                """, [upTo, connection])
        }
    }

    public func recordWebhookFailure(connection: String, error: String, nextAttemptAt: Date, fence: JobFence) throws {
        try write { c in
            try PostgresJobLocks.confirm(fence, in: c)
            _ = try c.execute("""
                UPDATE api_connections SET webhook_attempts = webhook_attempts + 1, webhook_next_at = $1, webhook_error = $2 WHERE name = $3
                """, [nextAttemptAt, error, connection])
        }
    }

    // MARK: Workers

    public func cursor(_ name: String) throws -> Int64 {
        try read { c in try c.execute("SELECT value FROM worker_cursors WHERE name = $1", [name]).first?.int64("value") ?? 0 }
    }

    public func setCursor(_ name: String, to value: Int64) throws {
        try write { c in
            _ = try c.execute("INSERT INTO worker_cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                          [name, value])
        }
    }

    public func exclusively<T>(job: String, _ body: () throws -> T) throws -> T? {
        try jobs.run(job: job, fenced: false) { _ in try body() }
    }

    public func exclusively<T>(job: String, fenced body: (JobFence) throws -> T) throws -> T? {
        try jobs.run(job: job, fenced: true, body)
    }

    // MARK: Rows

    /// Serializes writers of one key (a message id, an idempotency key) until COMMIT.
    private static func lock(_ c: PostgresConnection, _ key: String) throws {
        try c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["mailbox:" + key])
    }

    private static func lockOrder(_ c: PostgresConnection) throws {
        try c.execute("SELECT pg_advisory_xact_lock($1::integer, $2::integer)",
                      [Int(PostgresSchema.lockNamespace), Int(PostgresSchema.mailboxOrderLock)])
    }

    private static func event(_ c: PostgresConnection, _ messageId: String, _ address: String?, _ at: Date, _ status: String,
                              _ detail: String?) throws {
        // The chain needs this table's order: the event takes the mailbox order lock (held to
        // COMMIT, as for recipients and notifications) before reading its predecessor.
        try lockOrder(c)
        try c.insertChainedDocumentEvent(messageId: messageId, address: address, at: at.storeMilliseconds, status: status,
                                         detail: detail)
    }

    private static func notify(_ c: PostgresConnection, _ n: BackendNotification, _ at: Date) throws {
        try c.execute("INSERT INTO notifications (address, kind, message_id, recipient, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
                      [n.address, n.kind, n.messageId, n.recipient, n.detail, at])
    }

    private static func readNotification(_ r: PostgresRow) -> BackendNotification { r.backendNotification() }

    private static func readUpload(_ c: PostgresConnection, _ id: String, forUpdate: Bool = false) throws -> Upload? {
        let sql = forUpdate ? "SELECT * FROM uploads WHERE id = $1 FOR UPDATE" : "SELECT * FROM uploads WHERE id = $1"
        return try c.execute(sql, [id]).first.map { $0.upload() }
    }

    private static func readDocument(_ c: PostgresConnection, _ id: String) throws -> Document? {
        guard var d = try c.execute("SELECT * FROM documents WHERE message_id = $1", [id]).first.map({ $0.documentWithoutParts() }) else { return nil }
        d.files = try c.execute("SELECT * FROM document_files WHERE message_id = $1 ORDER BY position", [id]).rows.map { $0.documentFile() }
        d.recipients = try c.execute("SELECT * FROM document_recipients WHERE message_id = $1 ORDER BY id", [id]).rows.map { $0.documentRecipient() }
        return d
    }
}
