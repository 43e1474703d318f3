import Foundation

/// `MessageStore` on PostgreSQL (through libpq), for several gateway nodes sharing one queue:
///
///     the database (URL)                       metadata, parts, events, queue
///     <payloadDirectory>/yyyy/mm/dd/<name>     payload and message files
///
/// Payload files stay files, fsync'd before any row refers to them (as with SQLite). With several
/// nodes, `payloadDirectory` must be one directory every node mounts (NFS or similar), since any
/// node may send a message another node accepted.
///
/// Atomicity between nodes: status changes read the row `FOR UPDATE`; claims take due rows with
/// `FOR UPDATE SKIP LOCKED` and lease them in the same transaction, so two nodes never lease one
/// message at once and never wait for each other; the duplicate check and outbound id uniqueness
/// take an advisory lock on the message id. Migrations run when the daemon opens the store, under an
/// advisory lock; operators' commands open it without migrating (`SchemaAccess`).
///
/// Durability: commits wait for the WAL flush (`synchronous_commit` as the server sets it), except
/// lease claims and `markDelivered`, which are redone after a crash anyway (see
/// `SQLiteMessageStore` for the same reasoning) and commit with `synchronous_commit = off`.
///
/// Connections: a pool of `poolSize`, opened on demand. A connection the server dropped is
/// replaced on the next call; a call whose connection breaks mid-transaction throws
/// `StoreError.connectionLost` and its transaction is rolled back by the server.
public final class PostgresMessageStore: MessageStore {
    public struct Options: Sendable {
        /// Connections kept open at most: enough for the HTTP threads and workers that write at once.
        public var poolSize: Int

        public init(poolSize: Int = 8) {
            self.poolSize = poolSize
        }
    }

    public var payloadDirectory: String? { payloads?.root }

    let pool: PostgresConnectionPool
    private let payloads: PayloadDirectory?

    /// Connects to `url`, applies pending migrations (`schema: .existing`: checks the schema is
    /// this build's instead, writing nothing), and keeps payloads under `payloadDirectory`
    /// (created if missing). Without a payload directory (operator commands that only read the
    /// store), `storePayload` is refused.
    public init(url: String, payloadDirectory: String?, options: Options = Options(), schema: SchemaAccess,
                now: Date = Date()) throws {
        let root = payloadDirectory.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        payloads = root.map(PayloadDirectory.init(root:))
        pool = PostgresConnectionPool(url: url, size: options.poolSize)
        if let root { try PayloadDirectory.makeDirectoryTree(root) }
        try pool.withConnection { try PostgresSchema.prepare($0, schema, at: now) }
    }

    public func close() { pool.close() }

    /// The schema version of the database.
    public func schemaVersion() throws -> Int {
        try pool.withConnection { try PostgresSchema.currentVersion($0) }
    }

    func read<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection(body)
    }

    func write<T: Sendable>(synchronousCommit: Bool = true, _ body: (PostgresTransaction) throws -> T) throws -> T {
        try pool.withConnection { connection in
            try connection.transaction(synchronousCommit: synchronousCommit) {
                let transaction = PostgresTransaction(connection: connection)
                let result = try body(transaction)
                try transaction.insertEvents()
                return result
            }
        }
    }

    // MARK: Payloads

    public func storePayload(_ source: PayloadSource, at date: Date) throws -> StoredFile {
        guard let payloads else { throw StoreError.invalidArgument("this store was opened without a payload directory") }
        return try payloads.store(source, at: date)
    }

    // MARK: Inbound

    public func recordInbound(_ message: InboundMessage, duplicateWindow: TimeInterval) throws -> InboundResult {
        try InboundTransitions.checkRecord(message, duplicateWindow: duplicateWindow)
        let messageId = message.metadata.messageId
        let windowStart = message.receivedAt.addingTimeInterval(-duplicateWindow)
        do {
            return try write { t in
                try t.lockMessageId(messageId, direction: .inbound)
                let original = try t.execute("""
                    SELECT * FROM messages WHERE direction = 'in' AND message_id = $1 AND from_party = $2 AND created_at >= $3
                    ORDER BY row_id DESC LIMIT 1
                    """, [messageId, message.metadata.fromParty, windowStart]).first.map(PostgresConnection.readMessage)
                if let original {
                    t.appendEvent(rowId: original.rowId, at: message.receivedAt, direction: .inbound, status: original.status,
                                  code: MessageEventText.duplicateCode, detail: MessageEventText.duplicate(message))
                    return .duplicate(original: try t.connection.withParts([original])[0])
                }
                if let request = message.answersRequest, let reply = try t.connection.reply(toRequest: request) {
                    throw StoreError.requestAlreadyAnswered(requestId: request, replyId: reply.metadata.messageId)
                }
                let rowId = try t.insertInbound(message)
                t.appendEvent(rowId: rowId, at: message.receivedAt, direction: .inbound, status: .received,
                              detail: MessageEventText.received(message))
                if let receipt = message.receipt {
                    t.appendEvent(rowId: rowId, at: message.receivedAt, direction: .inbound, status: .received,
                                  code: MessageEventText.receiptCode, detail: MessageEventText.receiptStored(receipt))
                }
                return .stored(rowId: rowId)
            }
        } catch let StoreError.postgres(state, text, sql) where state == "23505" && text.contains(TwoWayReplySchema.indexName) {
            // Another node recorded a reply to the same request after our check: the unique index
            // made our insert wait for its commit and then refused it. Named like the check would.
            guard let request = message.answersRequest, let reply = try findReply(toRequest: request) else {
                throw StoreError.postgres(sqlState: state, message: text, sql: sql)
            }
            throw StoreError.requestAlreadyAnswered(requestId: request, replyId: reply.metadata.messageId)
        }
    }

    public func attachReceipt(messageId: String, direction: Direction, receipt: Data, at date: Date) throws {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: direction)
            try t.execute("UPDATE messages SET receipt = $1, receipt_at = $2, updated_at = $2 WHERE row_id = $3",
                          [receipt, date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: direction, status: message.status,
                          code: MessageEventText.receiptCode, detail: MessageEventText.receiptStored(receipt))
        }
    }

    public func markHandedOver(messageId: String, at date: Date) throws {
        try write { t in try t.handOver(try t.lockedMessage(id: messageId, direction: .inbound), at: date) }
    }

    public func markIntakeFailed(messageId: String, error: DeliveryError, at date: Date) throws {
        try write { t in try t.failIntake(try t.lockedMessage(id: messageId, direction: .inbound), error: error, at: date) }
    }

    public func retryIntake(messageId: String, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkRequester(requestedBy)
        try write { t in try t.retryIntake(try t.lockedMessage(id: messageId, direction: .inbound), requestedBy: requestedBy, at: date) }
    }

    public func markRetrieved(messageId: String, at date: Date) throws {
        try write { t in
            let message = try t.lockedMessage(id: messageId, direction: .inbound)
            try t.checkTransition(message, to: .retrieved)
            try t.execute("UPDATE messages SET status = 'Retrieved', retrieved_at = $1, updated_at = $1 WHERE row_id = $2",
                          [date, message.rowId])
            t.appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .retrieved,
                          detail: MessageEventText.retrieved)
        }
    }

    // MARK: Lookups

    public func findMessage(id: String, direction: Direction) throws -> StoredMessage? {
        try read { try $0.message(id: id, direction: direction) }
    }

    public func findReply(toRequest requestId: String) throws -> StoredMessage? {
        try read { try $0.reply(toRequest: requestId) }
    }

    public func events(for rowId: Int64) throws -> [MessageEvent] {
        try read { try $0.events(rowId: rowId) }
    }

    public func events(after afterId: Int64, limit: Int) throws -> [(messageId: String, event: MessageEvent)] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        return try read { c in
            try c.execute("""
                SELECT events.*, messages.message_id AS message_id FROM events
                JOIN messages ON messages.row_id = events.message_row
                WHERE events.id > $1 ORDER BY events.id LIMIT $2
                """, [afterId, limit]).rows.map { row in (row.string("message_id"), try PostgresConnection.readEvent(row)) }
        }
    }

    public func latestEventId() throws -> Int64 {
        try read { try $0.execute("SELECT COALESCE(MAX(id), 0) AS last FROM events").first?.int64("last") ?? 0 }
    }

    public func listMessages(status: MessageStatus?, since: Date?, direction: Direction?, limit: Int) throws -> [StoredMessage] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        return try read { c in
            let messages = try c.execute("""
                SELECT * FROM messages
                WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR created_at >= $2)
                  AND ($3::text IS NULL OR direction = $3)
                ORDER BY created_at, row_id LIMIT $4
                """, [status, since, direction, limit]).rows.map(PostgresConnection.readMessage)
            return try c.withParts(messages)
        }
    }
}
