import Foundation

/// E-mail notices on PostgreSQL (migration 9 of `PostgresSchema`), shared by every node. The
/// mailer that fills and sends them runs on one node at a time (`MailboxStore.exclusively`), so
/// the position and the attempts need no locks beyond their statements.
public final class PostgresNoticeStore: NoticeStore {
    private let pool: PostgresConnectionPool

    public init(url: String, poolSize: Int = 2, schema: SchemaAccess, now: Date = Date()) throws {
        pool = PostgresConnectionPool(url: url, size: poolSize)
        try pool.withConnection { try PostgresSchema.prepare($0, schema, at: now) }
    }

    public func close() { pool.close() }

    public func setContact(_ contact: NoticeContact) throws {
        try pool.withConnection { c in
            _ = try c.execute("""
                INSERT INTO notice_contacts (address, email, updated_at, updated_by) VALUES ($1, $2, $3, $4)
                ON CONFLICT (address) DO UPDATE SET email = EXCLUDED.email, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
                """, [contact.address, contact.email, contact.updatedAt, contact.updatedBy])
        }
    }

    public func removeContact(address: String) throws -> Bool {
        try pool.withConnection { c in try c.execute("DELETE FROM notice_contacts WHERE address = $1", [address]).affectedRows == 1 }
    }

    public func contact(address: String) throws -> NoticeContact? {
        try pool.withConnection { c in try c.execute("SELECT * FROM notice_contacts WHERE address = $1", [address]).first?.noticeContact() }
    }

    public func startPosition() throws -> (position: Int64, started: Bool) {
        try pool.withConnection { c in
            try c.transaction {
                let started = try c.execute("""
                    INSERT INTO worker_cursors (name, value) SELECT $1, COALESCE(MAX(id), 0) FROM notifications
                    ON CONFLICT (name) DO NOTHING
                    """, [NoticeRules.cursorName]).affectedRows == 1
                let position = try c.execute("SELECT value FROM worker_cursors WHERE name = $1", [NoticeRules.cursorName]).first?.int64("value") ?? 0
                return (position, started)
            }
        }
    }

    public func unnoticedArrivals(limit: Int) throws -> (upTo: Int64, arrivals: [BackendNotification]) {
        try pool.withConnection { c in
            let position = try c.execute("SELECT value FROM worker_cursors WHERE name = $1", [NoticeRules.cursorName]).first?.int64("value") ?? 0
            let rows = try c.execute("SELECT * FROM notifications WHERE id > $1 ORDER BY id LIMIT $2", [position, limit]).rows.map { $0.backendNotification() }
            return (rows.last?.id ?? position, rows.filter { $0.kind == "newMessage" })
        }
    }

    public func recordNotices(_ notices: [NewEmailNotice], upTo: Int64, at: Date) throws {
        try pool.withConnection { c in
            try c.transaction {
                for n in notices {
                    _ = try c.execute("""
                        INSERT INTO email_notices (notification_id, address, message_id, email, status, next_attempt_at, created_at, finished_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (notification_id) DO NOTHING
                        """, [n.notificationId, n.address, n.messageId, n.email, (n.email == nil ? NoticeStatus.noContact : .pending).rawValue,
                              n.email == nil ? nil : at, at, n.email == nil ? at : nil])
                }
                _ = try c.execute("""
                    INSERT INTO worker_cursors (name, value) VALUES ($1, $2)
                    ON CONFLICT (name) DO UPDATE SET value = GREATEST(worker_cursors.value, EXCLUDED.value)
                    """, [NoticeRules.cursorName, upTo])
            }
        }
    }

    public func dueNotices(now: Date, limit: Int) throws -> [EmailNotice] {
        try pool.withConnection { c in
            try c.execute("SELECT * FROM email_notices WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
                          [now, limit]).rows.map { $0.emailNotice() }
        }
    }

    public func claimNotice(id: Int64, until: Date, now: Date) throws -> Bool {
        try pool.withConnection { c in
            try c.execute("UPDATE email_notices SET next_attempt_at = $1 WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3",
                          [until, id, now]).affectedRows == 1
        }
    }

    public func recordAttempt(id: Int64, _ outcome: NoticeAttempt, at: Date) throws -> Bool {
        let v = NoticeRules.columns(outcome, at: at)
        return try pool.withConnection { c in
            try c.execute("""
                UPDATE email_notices SET status = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3, finished_at = $4
                WHERE id = $5 AND status = 'pending'
                """, [v.status.rawValue, v.next, v.error, v.finished, id]).affectedRows == 1
        }
    }

    public func withdrawNotice(id: Int64, reason: String, at: Date) throws -> Bool {
        try pool.withConnection { c in
            try c.execute("""
                UPDATE email_notices SET status = 'withdrawn', next_attempt_at = NULL, last_error = $1, finished_at = $2
                WHERE id = $3 AND status = 'pending'
                """, [reason, at, id]).affectedRows == 1
        }
    }

    public func notices(address: String?, status: NoticeStatus?, after: Int64, limit: Int) throws -> [EmailNotice] {
        try pool.withConnection { c in
            try c.execute("""
                SELECT * FROM email_notices WHERE id > $1 AND ($2::text IS NULL OR address = $2) AND ($3::text IS NULL OR status = $3)
                ORDER BY id LIMIT $4
                """, [after, address, status?.rawValue, limit]).rows.map { $0.emailNotice() }
        }
    }

    public func noticeCounts() throws -> [NoticeStatus: Int] {
        try pool.withConnection { c in
            var counts = Dictionary(uniqueKeysWithValues: NoticeStatus.allCases.map { ($0, 0) })
            for row in try c.execute("SELECT status, COUNT(*) AS n FROM email_notices GROUP BY status").rows {
                if let s = NoticeStatus(rawValue: row.string("status")) { counts[s] = row.int("n") }
            }
            return counts
        }
    }
}
