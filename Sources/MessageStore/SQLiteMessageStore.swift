import Foundation

/// `MessageStore` on SQLite in WAL mode, in a data directory:
///
///     <dataDir>/messages.sqlite (+ -wal, -shm)   metadata, parts, events, queue, and the bytes
///                                                of small sealed messages and payloads
///     <dataDir>/payloads/yyyy/mm/dd/<uuid>       larger payload and message files
///
/// Durability: a method returns only after its commit is fsync'd. A receipt may only leave
/// after the inbound message is committed, and a commit that a power cut could undo would let an
/// AS4 sender hold our receipt for a message we no longer have. The commit itself runs with
/// `synchronous=NORMAL` (no fsync while the connection is held) and is then made durable by
/// `WALGroupSync`: one `fdatasync` of the WAL covers every commit written before it, so
/// concurrent submissions and receptions share fsyncs (group commit) instead of queueing one
/// fsync each behind the connection lock. Two outbound commits that are redone after a crash
/// anyway (lease claims, `markDelivered`) do not wait for an fsync; WAL order makes the next
/// synced commit cover them. Reads wait until what they may have seen is durable. Payload files
/// are fsync'd (file and directory) before their paths are returned, i.e. before any row refers
/// to them.
///
/// Concurrency: one connection per store object, used under a lock. Several store objects (or
/// processes) may share a data directory: writes use `BEGIN IMMEDIATE` and wait up to the busy
/// timeout for each other, which is what keeps claims and duplicate checks atomic between them.
public final class SQLiteMessageStore: MessageStore, @unchecked Sendable {
    // Unchecked Sendable: the only mutable state is `connection` (a non-Sendable SQLite handle and
    // its statement cache). Every access to it goes through `locked`, which holds `lock` for the
    // whole operation, so one thread at a time uses the connection. `payloads` is immutable;
    // `durability` is Sendable and guards its own counters.

    public struct Options: Sendable {
        /// How long a write waits for another connection's write transaction before failing.
        public var busyTimeout: TimeInterval
        /// Sealed outbound messages and received payloads up to this size live in the database
        /// (`message_bytes`, `part_bytes`) instead of a payload file each; 0 keeps them all in files.
        public var inlineMessageLimit: Int

        public init(busyTimeout: TimeInterval = 10, inlineMessageLimit: Int = 1 << 20) {
            self.busyTimeout = busyTimeout
            self.inlineMessageLimit = inlineMessageLimit
        }
    }

    public let dataDirectory: String
    public let databasePath: String
    public let inlineMessageLimit: Int
    public var payloadDirectory: String { payloads.root }

    private let payloads: PayloadDirectory
    private let lock = NSLock()
    private var connection: SQLiteConnection?
    let durability: WALGroupSync

    /// Opens (creating if needed) the store in `dataDirectory` and applies pending migrations.
    public init(dataDirectory: String, options: Options = Options(), now: Date = Date()) throws {
        let directory = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        self.dataDirectory = directory
        databasePath = directory + "/messages.sqlite"
        inlineMessageLimit = max(0, options.inlineMessageLimit)
        payloads = PayloadDirectory(root: directory + "/payloads")
        try PayloadDirectory.makeDirectoryTree(payloads.root)
        let connection = try SQLiteConnection(path: databasePath,
                                              settings: SQLiteConnection.Settings(busyTimeout: options.busyTimeout))
        try Schema.migrate(connection, at: now)  // still FULL: durable before anything else
        try connection.pragma("synchronous = NORMAL")
        durability = WALGroupSync(databasePath: databasePath)
        self.connection = connection
    }

    deinit { connection?.close() }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        connection?.close()
        connection = nil
        durability.close()
    }

    private func locked<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let connection else { throw StoreError.closed }
        return try body(connection)
    }

    /// A read: returns once every commit whose rows it may have seen is durable.
    func withConnection<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let (result, horizon) = try locked { c in (try body(c), durability.readHorizon()) }
        try durability.waitUntilDurable(horizon)
        return result
    }

    /// One write transaction. `durable: false` is only for commits whose loss in a power cut is
    /// harmless (redone after a restart): the call does not wait for their fsync.
    func write<T>(durable: Bool = true, _ body: (SQLiteConnection) throws -> T) throws -> T {
        let (result, commit) = try locked { c in
            try durability.checkHealthy()
            let result = try c.immediateTransaction { try body(c) }
            return (result, durability.committed(durable: durable))
        }
        try durability.waitUntilDurable(commit)
        return result
    }

    /// Parts that carry their bytes must fit the inline limit and match their declared size.
    func checkInlineParts(_ parts: [MessagePart]) throws {
        for part in parts {
            guard let bytes = part.bytes else { continue }
            guard bytes.count <= inlineMessageLimit, Int64(bytes.count) == part.file.size else {
                throw StoreError.invalidArgument("part \(part.contentId): \(bytes.count) bytes kept inline (limit \(inlineMessageLimit), declared \(part.file.size))")
            }
        }
    }

    /// The schema version of the open database.
    public func schemaVersion() throws -> Int {
        try withConnection { try Schema.currentVersion($0) }
    }

    /// Copies the WAL into the database file and truncates it (for backups; SQLite also
    /// checkpoints by itself every ~1000 pages).
    public func checkpoint() throws {
        _ = try withConnection { try $0.pragma("wal_checkpoint(TRUNCATE)") }
    }

    // MARK: Payloads

    public func storePayload(_ source: PayloadSource, at date: Date) throws -> StoredFile {
        // File work only: no database lock is needed (each file gets a fresh UUID name).
        try payloads.store(source, at: date)
    }

    // MARK: Inbound

    public func recordInbound(_ message: InboundMessage, duplicateWindow: TimeInterval) throws -> InboundResult {
        try InboundTransitions.checkRecord(message, duplicateWindow: duplicateWindow)
        let messageId = message.metadata.messageId
        try checkInlineParts(message.parts)
        let windowStart = message.receivedAt.addingTimeInterval(-duplicateWindow)
        return try write { c in
            let original = try c.queryFirst("""
                SELECT * FROM messages WHERE direction = 'in' AND message_id = ? AND from_party = ? AND created_at >= ?
                ORDER BY row_id DESC LIMIT 1
                """, [messageId, message.metadata.fromParty, windowStart], row: SQLiteConnection.readMessage)
            if let original {
                try c.appendEvent(rowId: original.rowId, at: message.receivedAt, direction: .inbound,
                                  status: original.status, code: MessageEventText.duplicateCode,
                                  detail: MessageEventText.duplicate(message))
                return .duplicate(original: try c.withParts(original))
            }
            // Writers take turns (BEGIN IMMEDIATE), so this sees every reply recorded before; the
            // unique index stays the last word.
            if let request = message.answersRequest, let reply = try c.reply(toRequest: request) {
                throw StoreError.requestAlreadyAnswered(requestId: request, replyId: reply.metadata.messageId)
            }
            let rowId = try c.insertInbound(message)
            try c.appendEvent(rowId: rowId, at: message.receivedAt, direction: .inbound, status: .received,
                              detail: MessageEventText.received(message))
            if let receipt = message.receipt {
                try c.appendEvent(rowId: rowId, at: message.receivedAt, direction: .inbound, status: .received,
                                  code: MessageEventText.receiptCode, detail: MessageEventText.receiptStored(receipt))
            }
            return .stored(rowId: rowId)
        }
    }

    public func attachReceipt(messageId: String, direction: Direction, receipt: Data, at date: Date) throws {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: direction)
            try c.run("UPDATE messages SET receipt = ?, receipt_at = ?, updated_at = ? WHERE row_id = ?",
                      [receipt, date, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: direction, status: message.status,
                              code: MessageEventText.receiptCode, detail: MessageEventText.receiptStored(receipt))
        }
    }

    public func markHandedOver(messageId: String, at date: Date) throws {
        try write { c in try c.handOver(try c.existingMessage(id: messageId, direction: .inbound), at: date) }
    }

    public func markIntakeFailed(messageId: String, error: DeliveryError, at date: Date) throws {
        try write { c in try c.failIntake(try c.existingMessage(id: messageId, direction: .inbound), error: error, at: date) }
    }

    public func retryIntake(messageId: String, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkRequester(requestedBy)
        try write { c in try c.retryIntake(try c.existingMessage(id: messageId, direction: .inbound), requestedBy: requestedBy, at: date) }
    }

    public func markRetrieved(messageId: String, at date: Date) throws {
        try write { c in
            let message = try c.existingMessage(id: messageId, direction: .inbound)
            try c.checkTransition(message, to: .retrieved)
            try c.run("UPDATE messages SET status = 'Retrieved', retrieved_at = ?, updated_at = ? WHERE row_id = ?",
                      [date, date, message.rowId])
            try c.appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .retrieved,
                              detail: MessageEventText.retrieved)
        }
    }

    // MARK: Lookups

    public func findMessage(id: String, direction: Direction) throws -> StoredMessage? {
        try withConnection { c in
            guard var message = try c.message(id: id, direction: direction) else { return nil }
            message = try c.withPartBytes(message)
            if message.outbound != nil {
                message.outbound?.messageBytes = try c.queryFirst("SELECT bytes FROM message_bytes WHERE message_row = ?",
                                                                  [message.rowId]) { $0.optionalData("bytes") } ?? nil
            }
            return message
        }
    }

    public func findReply(toRequest requestId: String) throws -> StoredMessage? {
        try withConnection { c in try c.reply(toRequest: requestId).map(c.withPartBytes) }
    }

    public func events(for rowId: Int64) throws -> [MessageEvent] {
        try withConnection { try $0.events(rowId: rowId) }
    }

    public func events(after afterId: Int64, limit: Int) throws -> [(messageId: String, event: MessageEvent)] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        return try withConnection { try $0.events(after: afterId, limit: limit) }
    }

    public func latestEventId() throws -> Int64 {
        try withConnection { c in
            try c.queryFirst("SELECT COALESCE(MAX(id), 0) AS last FROM events") { $0.int64("last") } ?? 0
        }
    }

    public func listMessages(status: MessageStatus?, since: Date?, direction: Direction?, limit: Int) throws -> [StoredMessage] {
        guard limit > 0 else { throw StoreError.invalidArgument("limit must be positive") }
        return try withConnection { c in
            try c.query("""
                SELECT * FROM messages
                WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR created_at >= ?2) AND (?3 IS NULL OR direction = ?3)
                ORDER BY created_at, row_id LIMIT ?4
                """, [status, since, direction, limit], row: SQLiteConnection.readMessage)
                .map(c.withParts)
        }
    }
}
