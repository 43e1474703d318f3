import Foundation

/// One write transaction of `PostgresMessageStore`. Statements run at once; events are collected
/// and inserted just before COMMIT under a transaction-level advisory lock, so event ids are
/// handed out in commit order. Without it, two nodes committing at once could make event 11
/// visible before event 10, and `as4gw tail`, which follows "events after the last id seen",
/// would skip event 10 for good. The lock is held only for that last insert and the commit.
final class PostgresTransaction {
    let connection: PostgresConnection
    private var rowIds: [Int64] = []
    private var times: [Int64] = []
    private var directions: [String?] = []
    private var statuses: [String?] = []
    private var codes: [String?] = []
    private var details: [String?] = []

    init(connection: PostgresConnection) { self.connection = connection }

    @discardableResult
    func execute(_ sql: String, _ arguments: [(any PostgresBindable)?] = []) throws -> PostgresResult {
        try connection.execute(sql, arguments)
    }

    func appendEvent(rowId: Int64, at date: Date, direction: Direction, status: MessageStatus, code: String? = nil,
                     detail: String? = nil) {
        rowIds.append(rowId)
        times.append(date.storeMilliseconds)
        directions.append(direction.rawValue)
        statuses.append(status.rawValue)
        codes.append(code)
        details.append(detail)
    }

    /// Inserts the collected events, in the order they were appended. Called right before COMMIT.
    func insertEvents() throws {
        guard !rowIds.isEmpty else { return }
        try execute("SELECT pg_advisory_xact_lock($1::integer, $2::integer)",
                    [Int(PostgresSchema.lockNamespace), Int(PostgresSchema.eventOrderLock)])
        let chain = try connection.chainEventIds(count: rowIds.count)
        var previous = chain.previousHash
        var prevHashes: [String?] = []
        var hashes: [String?] = []
        for (index, id) in chain.ids.enumerated() {
            let fields = EventChain.messageEventFields(rowId: rowIds[index], at: times[index], direction: directions[index] ?? "",
                                                       status: statuses[index] ?? "", code: codes[index], detail: details[index])
            let hash = EventChain.hash(table: .messageEvents, id: id, prevHash: previous, fields: fields)
            prevHashes.append(previous)
            hashes.append(hash)
            previous = hash
        }
        try execute("""
            INSERT INTO events (id, message_row, at, direction, status, code, detail, prev_hash, hash) OVERRIDING SYSTEM VALUE
            SELECT i, r, a, d, s, c, t, p, h
            FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                        $8::text[], $9::text[])
                 WITH ORDINALITY AS e(i, r, a, d, s, c, t, p, h, n)
            ORDER BY n
            """, [PostgresArray(chain.ids), PostgresArray(rowIds), PostgresArray(times), PostgresArray(directions),
                  PostgresArray(statuses), PostgresArray(codes), PostgresArray(details), PostgresArray(prevHashes),
                  PostgresArray(hashes)])
    }

    /// Serializes the transactions that look up and then insert the same message id (the
    /// duplicate check, outbound uniqueness) across connections and nodes. A hash collision
    /// between two ids only makes them wait for each other.
    func lockMessageId(_ messageId: String, direction: Direction) throws {
        try execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [direction.rawValue + ":" + messageId])
    }

    /// The most recent row with this id, locked against other writers until COMMIT.
    func lockedMessage(id: String, direction: Direction) throws -> StoredMessage {
        let sql = direction == .outbound
            ? "SELECT * FROM messages WHERE direction = 'out' AND message_id = $1 ORDER BY row_id DESC LIMIT 1 FOR UPDATE"
            : "SELECT * FROM messages WHERE direction = 'in' AND message_id = $1 ORDER BY row_id DESC LIMIT 1 FOR UPDATE"
        guard let row = try execute(sql, [id]).first else { throw StoreError.notFound(messageId: id, direction: direction) }
        return try PostgresConnection.readMessage(row)
    }

    /// Inserts a received message (status `Received`) and its parts; returns its row id.
    func insertInbound(_ message: InboundMessage) throws -> Int64 {
        let m = message.metadata
        let rowId = try execute("""
            INSERT INTO messages (message_id, direction, status, conversation_id, ref_to_message_id, from_party,
                                  to_party, service, action, pmode_id, mpc, created_at, updated_at,
                                  stored_path, receipt, receipt_at, properties, answers_request)
            VALUES ($1, 'in', 'Received', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            RETURNING row_id
            """,
            [m.messageId, m.conversationId, m.refToMessageId, m.fromParty, m.toParty, m.service, m.action,
             m.pmodeId, m.mpc, message.receivedAt, message.receivedAt, message.storedPath, message.receipt,
             message.receipt == nil ? nil : message.receivedAt, try PropertyColumn.encode(m.properties),
             message.answersRequest]).first?.int64("row_id") ?? 0
        try insertParts(message.parts, rowId: rowId)
        return rowId
    }

    /// Inserts a submitted message (status `Submitted`) and its parts; returns its row id.
    func insertOutbound(_ message: OutboundMessage) throws -> Int64 {
        let m = message.metadata
        let rowId = try execute("""
            INSERT INTO messages (message_id, direction, status, conversation_id, ref_to_message_id, from_party,
                                  to_party, service, action, pmode_id, mpc, created_at, updated_at,
                                  endpoint, content_type, message_path, sent_references, max_attempts,
                                  next_attempt_at, pull_mpc, properties)
            VALUES ($1, 'out', 'Submitted', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
            RETURNING row_id
            """,
            [m.messageId, m.conversationId, m.refToMessageId, m.fromParty, m.toParty, m.service, m.action,
             m.pmodeId, m.mpc, message.submittedAt, message.submittedAt, message.endpoint, message.contentType,
             message.messagePath, message.sentReferences, message.maxAttempts,
             message.firstAttemptAt ?? message.submittedAt, message.pullMPC, try PropertyColumn.encode(m.properties)]).first?.int64("row_id") ?? 0
        try insertParts(message.parts, rowId: rowId)
        return rowId
    }

    private func insertParts(_ parts: [MessagePart], rowId: Int64) throws {
        for (position, part) in parts.enumerated() {
            try execute("""
                INSERT INTO parts (message_row, position, content_id, mime_type, path, size, sha256, properties)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                """, [rowId, position, part.contentId, part.mimeType, part.file.path, part.file.size, part.file.sha256,
                      try PropertyColumn.encode(part.properties)])
        }
    }

    /// Refuses a status change the state machine does not allow.
    func checkTransition(_ message: StoredMessage, to next: MessageStatus) throws {
        guard message.status.allows(next, direction: message.direction) else {
            throw StoreError.illegalTransition(messageId: message.metadata.messageId, from: message.status, to: next)
        }
    }
}

/// Reads shared by the store's operations (plain statements, or inside a transaction).
extension PostgresConnection {
    /// The most recent row with this id in this direction, with its parts.
    func message(id: String, direction: Direction) throws -> StoredMessage? {
        let sql = direction == .outbound
            ? "SELECT * FROM messages WHERE direction = 'out' AND message_id = $1 ORDER BY row_id DESC LIMIT 1"
            : "SELECT * FROM messages WHERE direction = 'in' AND message_id = $1 ORDER BY row_id DESC LIMIT 1"
        guard let row = try execute(sql, [id]).first else { return nil }
        return try withParts([Self.readMessage(row)]).first
    }

    /// The Two-Way reply recorded for request `requestId` (the unique `answers_request`), with its parts.
    func reply(toRequest requestId: String) throws -> StoredMessage? {
        guard let row = try execute("SELECT * FROM messages WHERE answers_request = $1", [requestId]).first else { return nil }
        return try withParts([Self.readMessage(row)]).first
    }

    /// The messages with their parts, loaded in one query.
    func withParts(_ messages: [StoredMessage]) throws -> [StoredMessage] {
        guard !messages.isEmpty else { return messages }
        let rows = try execute("SELECT * FROM parts WHERE message_row = ANY($1::bigint[]) ORDER BY message_row, position",
                               [PostgresArray(messages.map(\.rowId))]).rows
        var parts: [Int64: [MessagePart]] = [:]
        for row in rows {
            parts[row.int64("message_row"), default: []].append(try row.messagePart())
        }
        return messages.map { message in
            var message = message
            message.parts = parts[message.rowId] ?? []
            return message
        }
    }

    func events(rowId: Int64) throws -> [MessageEvent] {
        try execute("SELECT * FROM events WHERE message_row = $1 ORDER BY id", [rowId]).rows.map(Self.readEvent)
    }

    /// Maps a `SELECT * FROM messages` row (parts are loaded separately).
    static func readMessage(_ row: PostgresRow) throws -> StoredMessage { try row.storedMessage() }

    static func readEvent(_ row: PostgresRow) throws -> MessageEvent { try row.messageEvent() }
}
