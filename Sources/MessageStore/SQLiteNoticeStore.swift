import Foundation

/// E-mail notices in the node's `messages.sqlite` (tables `notice_contacts` and `email_notices`,
/// migration 10), beside the mailboxes whose arrivals they announce.
public final class SQLiteNoticeStore: NoticeStore {
    private let database: SQLiteDatabaseConnection

    public init(dataDirectory: String, now: Date = Date()) throws {
        database = try SQLiteDatabaseConnection(dataDirectory: dataDirectory, now: now)
    }

    public func close() { database.close() }

    private func read<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T { try database.withConnection(body) }
    private func write<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withConnection { c in try c.immediateTransaction { try body(c) } }
    }

    public func setContact(_ contact: NoticeContact) throws {
        try write { c in
            try c.run("INSERT OR REPLACE INTO notice_contacts (address, email, updated_at, updated_by) VALUES (?, ?, ?, ?)",
                      [contact.address, contact.email, contact.updatedAt, contact.updatedBy])
        }
    }

    public func removeContact(address: String) throws -> Bool {
        try write { c in
            try c.run("DELETE FROM notice_contacts WHERE address = ?", [address])
            return c.changes == 1
        }
    }

    public func contact(address: String) throws -> NoticeContact? {
        try read { c in try c.queryFirst("SELECT * FROM notice_contacts WHERE address = ?", [address]) { $0.noticeContact() } }
    }

    public func startPosition() throws -> (position: Int64, started: Bool) {
        try write { c in
            try c.run("INSERT OR IGNORE INTO worker_cursors (name, value) SELECT ?, COALESCE(MAX(id), 0) FROM notifications",
                      [NoticeRules.cursorName])
            let started = c.changes == 1
            let position = try c.queryFirst("SELECT value FROM worker_cursors WHERE name = ?", [NoticeRules.cursorName]) { $0.int64("value") } ?? 0
            return (position, started)
        }
    }

    public func unnoticedArrivals(limit: Int) throws -> (upTo: Int64, arrivals: [BackendNotification]) {
        try read { c in
            let position = try c.queryFirst("SELECT value FROM worker_cursors WHERE name = ?", [NoticeRules.cursorName]) { $0.int64("value") } ?? 0
            let rows = try c.query("SELECT * FROM notifications WHERE id > ? ORDER BY id LIMIT ?", [position, limit]) { $0.backendNotification() }
            return (rows.last?.id ?? position, rows.filter { $0.kind == "newMessage" })
        }
    }

    public func recordNotices(_ notices: [NewEmailNotice], upTo: Int64, at: Date) throws {
        try write { c in
            for n in notices {
                try c.run("""
                    INSERT OR IGNORE INTO email_notices (notification_id, address, message_id, email, status, next_attempt_at, created_at, finished_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [n.notificationId, n.address, n.messageId, n.email, (n.email == nil ? NoticeStatus.noContact : .pending).rawValue,
                          n.email == nil ? nil : at, at, n.email == nil ? at : nil])
            }
            try c.run("INSERT OR REPLACE INTO worker_cursors (name, value) VALUES (?, MAX(?, COALESCE((SELECT value FROM worker_cursors WHERE name = ?), 0)))",
                      [NoticeRules.cursorName, upTo, NoticeRules.cursorName])
        }
    }

    public func dueNotices(now: Date, limit: Int) throws -> [EmailNotice] {
        try read { c in
            try c.query("SELECT * FROM email_notices WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                        [now, limit]) { $0.emailNotice() }
        }
    }

    public func claimNotice(id: Int64, until: Date, now: Date) throws -> Bool {
        try write { c in
            try c.run("UPDATE email_notices SET next_attempt_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?", [until, id, now])
            return c.changes == 1
        }
    }

    public func recordAttempt(id: Int64, _ outcome: NoticeAttempt, at: Date) throws -> Bool {
        let v = NoticeRules.columns(outcome, at: at)
        return try write { c in
            try c.run("""
                UPDATE email_notices SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, finished_at = ?
                WHERE id = ? AND status = 'pending'
                """, [v.status.rawValue, v.next, v.error, v.finished, id])
            return c.changes == 1
        }
    }

    public func withdrawNotice(id: Int64, reason: String, at: Date) throws -> Bool {
        try write { c in
            try c.run("""
                UPDATE email_notices SET status = 'withdrawn', next_attempt_at = NULL, last_error = ?, finished_at = ?
                WHERE id = ? AND status = 'pending'
                """, [reason, at, id])
            return c.changes == 1
        }
    }

    public func notices(address: String?, status: NoticeStatus?, after: Int64, limit: Int) throws -> [EmailNotice] {
        try read { c in
            try c.query("""
                SELECT * FROM email_notices WHERE id > ? AND (? IS NULL OR address = ?) AND (? IS NULL OR status = ?) ORDER BY id LIMIT ?
                """, [after, address, address, status?.rawValue, status?.rawValue, limit]) { $0.emailNotice() }
        }
    }

    public func noticeCounts() throws -> [NoticeStatus: Int] {
        try read { c in
            let rows = try c.query("SELECT status, COUNT(*) AS n FROM email_notices GROUP BY status") { ($0.string("status"), $0.int("n")) }
            var counts = Dictionary(uniqueKeysWithValues: NoticeStatus.allCases.map { ($0, 0) })
            for (status, n) in rows { if let s = NoticeStatus(rawValue: status) { counts[s] = n } }
            return counts
        }
    }
}
