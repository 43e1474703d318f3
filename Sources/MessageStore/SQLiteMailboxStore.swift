import Foundation
import Synchronization

/// `MailboxStore` in the node's SQLite database (`messages.sqlite`, migration 4), beside the AS4
/// messages and the directory so that one backup holds all three. One connection, used under a
/// mutex; writes are `BEGIN IMMEDIATE` transactions with `synchronous = FULL`.
public final class SQLiteMailboxStore: MailboxStore {
    public var databasePath: String { database.databasePath }
    private let database: SQLiteDatabaseConnection
    /// A SQLite store serves one node, so a job only needs to exclude the other threads here.
    private let runningJobs = Mutex<Set<String>>([])

    public init(dataDirectory: String, now: Date = Date()) throws {
        database = try SQLiteDatabaseConnection(dataDirectory: dataDirectory, now: now)
    }

    public func close() { database.close() }

    private func withConnection<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withConnection(body)
    }

    private func write<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try withConnection { c in try c.immediateTransaction { try body(c) } }
    }

    // MARK: Connections

    public func addConnection(_ b: BackendConnection) throws {
        try write { c in
            if try c.queryFirst("SELECT 1 FROM api_connections WHERE name = ?", [b.name], row: { _ in true }) != nil {
                throw MailboxRules.connectionExists(b.name)
            }
            // A new connection starts after the notifications already written.
            let latest = try c.queryFirst("SELECT COALESCE(MAX(id), 0) AS n FROM notifications") { $0.int64("n") } ?? 0
            try c.run("""
                INSERT INTO api_connections (name, token_sha256, certificate_sha256, addresses, created_at, revoked_at, notified_upto,
                                             webhook_url, webhook_secret, webhook_upto, roles)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [b.name, b.tokenSHA256, b.certificateSHA256, MailboxColumns.addressesColumn(b.addresses), b.createdAt, b.revokedAt, latest,
                      b.webhookURL, b.webhookSecret, latest, ConnectionRole.column(b.roles)])
        }
    }

    public func connections() throws -> [BackendConnection] {
        try withConnection { c in
            try c.query("SELECT * FROM api_connections ORDER BY name") { $0.backendConnection() }
        }
    }

    public func revokeConnection(name: String, at: Date) throws -> Bool {
        try write { c in
            try c.run("UPDATE api_connections SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [at, name])
            return c.changes == 1
        }
    }

    // MARK: Documents

    public func insertDocument(_ d: NewDocument, notifications: [BackendNotification], at: Date) throws -> DocumentInsertResult {
        try write { c in
            if let connection = d.connection, let key = d.idempotencyKey,
               let first = try c.queryFirst("SELECT message_id FROM documents WHERE connection = ? AND idempotency_key = ?",
                                            [connection, key], row: { $0.string("message_id") }) {
                return .existing(messageId: first)
            }
            var recipients = d.recipients
            if let held = try c.queryFirst("SELECT origin_party FROM documents WHERE message_id = ?", [d.messageId],
                                           row: { $0.optionalString("origin_party") }) {
                let present = Set(try c.query("SELECT address FROM document_recipients WHERE message_id = ?", [d.messageId]) { $0.string("address") })
                recipients = try MailboxRules.recipientsToAdd(d, heldFrom: held, present: present)
                if recipients.isEmpty { return .existing(messageId: d.messageId) }
                if let until = d.retainUntil {
                    try c.run("UPDATE documents SET retain_until = ? WHERE message_id = ? AND retain_until < ?", [until, d.messageId, until])
                }
            } else {
                try c.run("""
                    INSERT INTO documents (message_id, connection, idempotency_key, idempotency_fingerprint, sender, metadata, origin_party,
                                           origin_message_id, delivery_by, created_at, retain_until)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [d.messageId, d.connection, d.idempotencyKey, d.idempotencyFingerprint, d.sender, d.metadata, d.originParty,
                          d.originMessageId, d.deliveryBy, at, d.retainUntil])
                for (i, f) in d.files.enumerated() {
                    try c.run("INSERT INTO document_files (message_id, position, name, mime_type, path, size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              [d.messageId, i + 1, f.name, f.mimeType, f.file.path, f.file.size, f.file.sha256])
                }
            }
            for id in d.uploads {
                try c.run("UPDATE uploads SET used_by = ? WHERE id = ? AND connection = ? AND completed_at IS NOT NULL AND used_by IS NULL",
                          [d.messageId, id, d.connection ?? ""])
                guard c.changes == 1 else { throw MailboxRules.uploadNotUsable(id) }
            }
            for r in recipients {
                try c.run("""
                    INSERT INTO document_recipients (id, message_id, address, route, status, party, as4_message_id, deadline_at, updated_at)
                    VALUES (max(coalesce((SELECT max(id) FROM document_recipients), 0),
                                (SELECT last_id FROM id_watermarks WHERE tbl = 'document_recipients')) + 1,
                            ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (as4_message_id) WHERE as4_message_id IS NOT NULL DO NOTHING
                    """, [d.messageId, r.address, r.route.rawValue, r.status.rawValue, r.party, r.as4MessageId,
                          MailboxRules.deadline(d), at])
                // A refusal the caller can judge, where the unique index's own error would read as
                // a store failure: one the mailbox worker would try again each round, for ever.
                if c.changes == 0, let carrier = r.as4MessageId {
                    let holder = try c.queryFirst("SELECT message_id FROM document_recipients WHERE as4_message_id = ?", [carrier]) {
                        $0.string("message_id")
                    }
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
        try withConnection { c in try Self.readDocument(c, messageId) }
    }

    public func documentId(connection: String, idempotencyKey: String) throws -> String? {
        try withConnection { c in
            try c.queryFirst("SELECT message_id FROM documents WHERE connection = ? AND idempotency_key = ?",
                             [connection, idempotencyKey], row: { $0.string("message_id") })
        }
    }

    public func events(messageId: String) throws -> [DocumentEvent] {
        try withConnection { c in
            try c.query("SELECT * FROM document_events WHERE message_id = ? ORDER BY id", [messageId]) { $0.documentEvent() }
        }
    }

    public func updateRecipient(_ u: RecipientUpdate, at: Date) throws -> Bool {
        try write { c in
            guard let (current, decided, read, held, deliveryBy) = try c.queryFirst("""
                    SELECT r.status, r.decision, r.retrieved_at, r.receipt IS NOT NULL AS held, d.delivery_by
                    FROM document_recipients r JOIN documents d ON d.message_id = r.message_id
                    WHERE r.message_id = ? AND r.address = ?
                    """, [u.messageId, u.address],
                    row: { ($0.string("status"), $0.optionalString("decision"), $0.optionalDate("retrieved_at"), $0.int("held") != 0,
                            $0.optionalDate("delivery_by")) }),
                  let status = RecipientStatus(rawValue: current) else {
                throw MailboxRules.noRecipient(u)
            }
            // A recipient who read the document is never Failed (a late report from its access point).
            if u.status == .failed, read != nil { return false }
            try MailboxRules.checkUpdate(u, decided: decided)
            if u.retrieved {
                try c.run("UPDATE document_recipients SET retrieved_at = ? WHERE message_id = ? AND address = ? AND retrieved_at IS NULL",
                          [u.retrievedAt ?? at, u.messageId, u.address])
            }
            // The receipt is the proof of sending: kept even when a later state was reported first.
            if let receipt = u.receipt {
                try c.run("UPDATE document_recipients SET receipt = ? WHERE message_id = ? AND address = ? AND receipt IS NULL",
                          [receipt, u.messageId, u.address])
            }
            let again = try MailboxRules.failsAgain(u, current: status) {
                try c.queryFirst("SELECT COUNT(*) AS n FROM document_events WHERE message_id = ? AND address = ? AND status = ?",
                                 [u.messageId, u.address, RecipientStatus.failed.rawValue]) { $0.int("n") } ?? 0
            }
            guard again || status.allows(u.status, receiptHeld: held) else { return false }
            let note: String?
            switch MailboxRules.deadlineJudgement(current: status, next: u.status, read: read,
                                                  readNow: u.retrieved ? u.retrievedAt ?? at : nil, deliveryBy: deliveryBy) {
            case .refuse:
                return false
            case .keepStatus(let text):
                note = text
                try c.run("UPDATE document_recipients SET updated_at = ? WHERE message_id = ? AND address = ?", [at, u.messageId, u.address])
            case .apply(let text):
                note = text
                try c.run("UPDATE document_recipients SET status = ?, updated_at = ? WHERE message_id = ? AND address = ?",
                          [u.status.rawValue, at, u.messageId, u.address])
            }
            if u.status == .deliveryDelayed || u.status == .failed {
                // The deadline has acted, once: a recipient read late is not delayed again, and
                // one failed at or after it and then delivered after all is not delayed either.
                let passed = u.status == .failed ? " AND deadline_at <= ?" : ""
                try c.run("UPDATE document_recipients SET deadline_at = NULL WHERE message_id = ? AND address = ?" + passed,
                          u.status == .failed ? [u.messageId, u.address, at] : [u.messageId, u.address])
            }
            if let d = u.decision {
                try c.run("""
                    UPDATE document_recipients SET decision = ?, decision_code = ?, decision_reason = ?, decided_at = ?
                    WHERE message_id = ? AND address = ?
                    """, [MailboxColumns.decision(d), d.code, d.reason, d.at, u.messageId, u.address])
            }
            try Self.event(c, u.messageId, u.address, at, u.status.rawValue, MailboxRules.noted(u.detail, note))
            for var n in u.notifications {
                n.detail = MailboxRules.noted(n.detail, note)
                try Self.notify(c, n, at)
            }
            if let r = u.originReport {
                try c.run("""
                    INSERT INTO owed_reports (message_id, address, status, code, reason, at, retrieved_at, due_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [u.messageId, u.address, u.status.rawValue, r.code, r.reason, at,
                          r.readingTime(recorded: read ?? (u.retrieved ? u.retrievedAt ?? at : nil)), r.dueAt])
            }
            return true
        }
    }

    public func recordAnswerDelayed(messageId: String, address: String, detail: String, notifications: [BackendNotification],
                                    at: Date) throws -> Bool {
        try write { c in
            guard let (status, decided, read, deadline, deliveryBy) = try c.queryFirst("""
                    SELECT r.status, r.decision, r.retrieved_at, r.deadline_at, d.delivery_by
                    FROM document_recipients r JOIN documents d ON d.message_id = r.message_id
                    WHERE r.message_id = ? AND r.address = ?
                    """, [messageId, address],
                    row: { ($0.recipientStatus(), $0.optionalString("decision"), $0.optionalDate("retrieved_at"),
                            $0.optionalDate("deadline_at"), $0.optionalDate("delivery_by")) }) else {
                throw MailboxStoreError.notFound("message \(messageId) has no recipient \(address)")
            }
            guard MailboxRules.answerIsDelayed(status: status, decided: decided, read: read, deliveryBy: deliveryBy,
                                               deadlinePending: deadline.map { $0 <= at } ?? false) else { return false }
            try c.run("UPDATE document_recipients SET deadline_at = NULL WHERE message_id = ? AND address = ?", [messageId, address])
            try Self.event(c, messageId, address, at, RecipientStatus.answerDelayedEvent, detail)
            for n in notifications { try Self.notify(c, n, at) }
            return true
        }
    }

    public func recipient(as4MessageId: String) throws -> (messageId: String, address: String)? {
        try withConnection { c in
            try c.queryFirst("SELECT message_id, address FROM document_recipients WHERE as4_message_id = ?", [as4MessageId]) {
                (messageId: $0.string("message_id"), address: $0.string("address"))
            }
        }
    }

    public func overdueRecipients(now: Date, limit: Int) throws -> [(messageId: String, address: String, status: RecipientStatus)] {
        try withConnection { c in
            try c.query("""
                SELECT message_id, address, status FROM document_recipients
                WHERE deadline_at IS NOT NULL AND status IN ('Submitted', 'Accepted', 'Delivered') AND deadline_at <= ?
                ORDER BY deadline_at LIMIT ?
                """, [now, limit]) { (messageId: $0.string("message_id"), address: $0.string("address"),
                                      status: $0.recipientStatus()) }
        }
    }

    public func unsentRemoteRecipients(limit: Int) throws -> [(messageId: String, address: String, as4MessageId: String)] {
        try withConnection { c in
            try c.query("""
                SELECT message_id, address, as4_message_id FROM document_recipients
                WHERE route = 'remote' AND status = 'Submitted' ORDER BY id LIMIT ?
                """, [limit]) { (messageId: $0.string("message_id"), address: $0.string("address"), as4MessageId: $0.string("as4_message_id")) }
        }
    }

    public func inbox(address: String, after cursor: Int64, limit: Int) throws -> [(entry: Int64, document: Document)] {
        try withConnection { c in
            let rows = try c.query("""
                SELECT id, message_id FROM document_recipients WHERE address = ? AND route = 'mailbox' AND id > ? ORDER BY id LIMIT ?
                """, [address, cursor, limit]) { ($0.int64("id"), $0.string("message_id")) }
            return try rows.compactMap { row in try Self.readDocument(c, row.1).map { (entry: row.0, document: $0) } }
        }
    }

    // MARK: Status reports owed to origins

    public func owedReports(dueBy now: Date, limit: Int) throws -> [OwedReport] {
        try withConnection { c in
            try c.query("""
                SELECT o.* FROM owed_reports o
                WHERE (SELECT h.due_at FROM owed_reports h WHERE h.message_id = o.message_id AND h.address = o.address ORDER BY h.id LIMIT 1) <= ?
                ORDER BY o.id LIMIT ?
                """, [now, limit]) { $0.owedReport() }
        }
    }

    public func owedReports(messageId: String, address: String) throws -> [OwedReport] {
        try withConnection { c in
            try c.query("SELECT * FROM owed_reports WHERE message_id = ? AND address = ? ORDER BY id", [messageId, address]) { $0.owedReport() }
        }
    }

    public func reportQueued(id: Int64) throws -> Bool {
        try write { c in
            try c.run("DELETE FROM owed_reports WHERE id = ?", [id])
            return c.changes == 1
        }
    }

    public func reportNotQueued(id: Int64, error: String, retryAt: Date) throws {
        try write { c in
            try c.run("UPDATE owed_reports SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?", [error, retryAt, id])
        }
    }

    public func owedReportBacklog() throws -> (count: Int, oldestStep: Date?) {
        try withConnection { c in
            try c.query("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM owed_reports") { ($0.int("n"), $0.optionalDate("oldest")) }.first ?? (0, nil)
        }
    }

    // MARK: Uploads

    public func createUpload(_ u: Upload) throws {
        try write { c in
            try c.run("""
                INSERT INTO uploads (id, connection, name, mime_type, size, chunk_size, received, path, created_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)
                """, [u.id, u.connection, u.name, u.mimeType, u.size, u.chunkSize, u.path, u.createdAt])
        }
    }

    public func upload(id: String) throws -> Upload? {
        try withConnection { c in try Self.readUpload(c, id) }
    }

    public func recordChunk(uploadId: String, number: Int, at: Date) throws {
        try write { c in
            try c.run("UPDATE uploads SET received = ? WHERE id = ? AND received = ? AND completed_at IS NULL", [number, uploadId, number - 1])
            guard c.changes == 1 else {
                let u = try Self.readUpload(c, uploadId)
                throw MailboxRules.chunkOutOfTurn(uploadId: uploadId, number: number, upload: u)
            }
        }
    }

    public func completeUpload(id: String, sha256: String, at: Date) throws {
        try write { c in
            guard MailboxRules.isCompletable(try Self.readUpload(c, id)) else { throw MailboxRules.uploadNotCompletable(id) }
            try c.run("UPDATE uploads SET sha256 = ?, completed_at = ? WHERE id = ?", [sha256, at, id])
        }
    }

    public func abandonedUploads(createdBefore: Date, limit: Int) throws -> [Upload] {
        try withConnection { c in
            let ids = try c.query("SELECT id FROM uploads WHERE used_by IS NULL AND created_at < ? ORDER BY created_at LIMIT ?",
                                  [createdBefore, limit]) { $0.string("id") }
            return try ids.compactMap { try Self.readUpload(c, $0) }
        }
    }

    public func openUploads(connection: String?) throws -> [Upload] {
        try withConnection { c in
            let ids = try c.query("SELECT id FROM uploads WHERE used_by IS NULL AND (? IS NULL OR connection = ?) ORDER BY created_at, id",
                                  [connection, connection]) { $0.string("id") }
            return try ids.compactMap { try Self.readUpload(c, $0) }
        }
    }

    public func deleteUpload(id: String) throws -> Bool {
        try write { c in
            try c.run("DELETE FROM uploads WHERE id = ? AND used_by IS NULL", [id])
            return c.changes == 1
        }
    }

    private static func readUpload(_ c: SQLiteConnection, _ id: String) throws -> Upload? {
        try c.queryFirst("SELECT * FROM uploads WHERE id = ?", [id]) { $0.upload() }
    }

    // MARK: Notifications

    public func notifications(connection: String, addresses: [String], limit: Int) throws -> [BackendNotification] {
        guard !addresses.isEmpty else { return [] }
        return try withConnection { c in
            let upTo = try c.queryFirst("SELECT notified_upto FROM api_connections WHERE name = ?", [connection]) { $0.int64("notified_upto") } ?? 0
            let marks = Array(repeating: "?", count: addresses.count).joined(separator: ", ")
            return try c.query("SELECT * FROM notifications WHERE address IN (\(marks)) AND id > ? ORDER BY id LIMIT ?",
                               addresses.map { $0 as (any SQLBindable)? } + [upTo, limit], row: Self.readNotification)
        }
    }

    public func confirmNotifications(connection: String, addresses: [String], upTo: Int64) throws -> Bool {
        guard !addresses.isEmpty else { return false }
        return try write { c in
            let marks = Array(repeating: "?", count: addresses.count).joined(separator: ", ")
            guard try c.queryFirst("SELECT 1 FROM notifications WHERE id = ? AND address IN (\(marks))",
                                   [upTo as (any SQLBindable)?] + addresses.map { $0 as (any SQLBindable)? }, row: { _ in true }) != nil else {
                return false
            }
            try c.run("UPDATE api_connections SET notified_upto = MAX(notified_upto, ?) WHERE name = ?", [upTo, connection])
            return c.changes == 1
        }
    }

    public func notifications(after: Int64, addresses: [String], limit: Int) throws -> [BackendNotification] {
        guard !addresses.isEmpty else { return [] }
        return try withConnection { c in
            let marks = Array(repeating: "?", count: addresses.count).joined(separator: ", ")
            return try c.query("SELECT * FROM notifications WHERE address IN (\(marks)) AND id > ? ORDER BY id LIMIT ?",
                               addresses.map { $0 as (any SQLBindable)? } + [after, limit], row: Self.readNotification)
        }
    }

    public func webhookState(connection: String) throws -> WebhookState? {
        try withConnection { c in
            try c.queryFirst("SELECT webhook_upto, webhook_attempts, webhook_next_at, webhook_error FROM api_connections WHERE name = ?",
                             [connection]) { $0.webhookState() }
        }
    }

    public func recordWebhookDelivery(connection: String, upTo: Int64, fence: JobFence) throws {
        try write { c in
            try c.run("""
                UPDATE api_connections SET webhook_upto = MAX(webhook_upto, ?), webhook_attempts = 0, webhook_next_at = NULL, webhook_error = NULL
                WHERE name = ?
                """, [upTo, connection])
        }
    }

    public func recordWebhookFailure(connection: String, error: String, nextAttemptAt: Date, fence: JobFence) throws {
        try write { c in
            try c.run("UPDATE api_connections SET webhook_attempts = webhook_attempts + 1, webhook_next_at = ?, webhook_error = ? WHERE name = ?",
                      [nextAttemptAt, error, connection])
        }
    }

    // MARK: Workers

    public func cursor(_ name: String) throws -> Int64 {
        try withConnection { c in try c.queryFirst("SELECT value FROM worker_cursors WHERE name = ?", [name]) { $0.int64("value") } ?? 0 }
    }

    public func setCursor(_ name: String, to value: Int64) throws {
        try write { c in try c.run("INSERT OR REPLACE INTO worker_cursors (name, value) VALUES (?, ?)", [name, value]) }
    }

    public func exclusively<T>(job: String, _ body: () throws -> T) throws -> T? {
        guard runningJobs.withLock({ $0.insert(job).inserted }) else { return nil }
        defer { runningJobs.withLock { _ = $0.remove(job) } }
        return try body()
    }

    /// One process uses a SQLite store (`serve.lock`): the fence has nobody to keep out.
    public func exclusively<T>(job: String, fenced body: (JobFence) throws -> T) throws -> T? {
        try exclusively(job: job) { try body(.unshared(job: job)) }
    }

    // MARK: Rows

    private static func event(_ c: SQLiteConnection, _ messageId: String, _ address: String?, _ at: Date, _ status: String, _ detail: String?) throws {
        try c.insertChainedDocumentEvent(messageId: messageId, address: address, at: at.storeMilliseconds, status: status,
                                         detail: detail)
    }

    private static func notify(_ c: SQLiteConnection, _ n: BackendNotification, _ at: Date) throws {
        try c.run("INSERT INTO notifications (address, kind, message_id, recipient, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
                  [n.address, n.kind, n.messageId, n.recipient, n.detail, at])
    }

    private static func readNotification(_ s: SQLiteStatement) -> BackendNotification { s.backendNotification() }

    private static func readDocument(_ c: SQLiteConnection, _ id: String) throws -> Document? {
        guard var d = try c.queryFirst("SELECT * FROM documents WHERE message_id = ?", [id], row: { $0.documentWithoutParts() }) else { return nil }
        d.files = try c.query("SELECT * FROM document_files WHERE message_id = ? ORDER BY position", [id]) { $0.documentFile() }
        d.recipients = try c.query("SELECT * FROM document_recipients WHERE message_id = ? ORDER BY id", [id]) { $0.documentRecipient() }
        return d
    }
}
