import Foundation

/// Signed requests already taken (PullRequests), by eb:MessageId, so that a captured one is
/// refused when it is replayed: to any node sharing the store, and after a restart. A record
/// only has to outlive the time in which the request's eb:Timestamp is still accepted; after
/// that the timestamp check refuses the replay on its own, and the record may be removed.
public protocol SeenRequestStore {
    /// Records the request `messageId` as seen until `expiresAt`, in one atomic insert: true
    /// when this call recorded it, false when it was recorded before (a replay), however many
    /// nodes try at once. Durable before it returns, like an inbound message's record.
    func recordSeenRequest(messageId: String, expiresAt: Date) throws -> Bool

    /// Removes at most `limit` records whose expiry is at or before `now`; returns how many.
    /// Called in batches by the periodic clean-up, so one call never holds the store for long.
    func removeExpiredSeenRequests(now: Date, limit: Int) throws -> Int
}

/// The seen-requests migration (SQLite 19, PostgreSQL 17), the same table on both.
enum SeenRequestSchema {
    static let sqlite = sql(integer: "INTEGER")
    static let postgres = sql(integer: "BIGINT")

    private static func sql(integer: String) -> String {
        """
        -- Signed requests already taken, by eb:MessageId: the primary key makes a replay's
        -- insert find its row, on every node at once. Removed in batches after expires_at
        -- (then the request's eb:Timestamp is refused anyway), oldest first by the index.
        CREATE TABLE seen_requests (
            message_id TEXT PRIMARY KEY CHECK (message_id <> ''),
            expires_at \(integer) NOT NULL
        );
        CREATE INDEX seen_requests_expiry ON seen_requests (expires_at);
        """
    }
}

extension SQLiteMessageStore: SeenRequestStore {
    public func recordSeenRequest(messageId: String, expiresAt: Date) throws -> Bool {
        // Durable: a record a power cut could take back would let the replay through after it.
        try write { c in
            try c.run("INSERT INTO seen_requests (message_id, expires_at) VALUES (?, ?) ON CONFLICT (message_id) DO NOTHING",
                      [messageId, expiresAt])
            return c.changes == 1
        }
    }

    public func removeExpiredSeenRequests(now: Date, limit: Int) throws -> Int {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        // Losing this commit in a power cut costs only doing it again.
        return try write(durable: false) { c in
            try c.run("""
                DELETE FROM seen_requests WHERE message_id IN
                    (SELECT message_id FROM seen_requests WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)
                """, [now, limit])
            return c.changes
        }
    }
}

extension PostgresMessageStore: SeenRequestStore {
    public func recordSeenRequest(messageId: String, expiresAt: Date) throws -> Bool {
        // One statement in its own (synchronously committed) transaction: the unique key decides
        // between nodes, and the row count says whether this call was the first. (Should the
        // connection drop after the server committed it, the pool's second try finds the row and
        // the request counts as a replay: the puller's next round sends a new one.)
        try pool.withConnection { c in
            try c.execute("INSERT INTO seen_requests (message_id, expires_at) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING",
                          [messageId, expiresAt]).affectedRows == 1
        }
    }

    public func removeExpiredSeenRequests(now: Date, limit: Int) throws -> Int {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        return try pool.withConnection { c in
            try c.execute("""
                DELETE FROM seen_requests WHERE message_id IN
                    (SELECT message_id FROM seen_requests WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)
                """, [now, limit]).affectedRows
        }
    }
}
