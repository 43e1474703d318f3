import Foundation

/// Row-level SQL shared by the store's operations: reading and writing `messages`, `parts` and
/// `events`. Every function here runs inside the caller's transaction (or is a plain read).
extension SQLiteConnection {
    // MARK: messages

    /// The most recent row with this id in this direction.
    func message(id: String, direction: Direction) throws -> StoredMessage? {
        // The direction is spelled in the SQL (not bound) so the per-direction partial index is used.
        try queryFirst("""
            SELECT * FROM messages WHERE direction = '\(direction.rawValue)' AND message_id = ?
            ORDER BY row_id DESC LIMIT 1
            """, [id], row: Self.readMessage)
            .map(withParts)
    }

    /// The Two-Way reply recorded for request `requestId` (the unique `answers_request`).
    func reply(toRequest requestId: String) throws -> StoredMessage? {
        try queryFirst("SELECT * FROM messages WHERE answers_request = ?", [requestId], row: Self.readMessage).map(withParts)
    }

    func message(rowId: Int64) throws -> StoredMessage? {
        try queryFirst("SELECT * FROM messages WHERE row_id = ?", [rowId], row: Self.readMessage).map(withParts)
    }

    /// Like `message(id:direction:)`, but a missing message is an error.
    func existingMessage(id: String, direction: Direction) throws -> StoredMessage {
        guard let message = try message(id: id, direction: direction) else {
            throw StoreError.notFound(messageId: id, direction: direction)
        }
        return message
    }

    func withParts(_ message: StoredMessage) throws -> StoredMessage {
        var message = message
        message.parts = try query("SELECT * FROM parts WHERE message_row = ? ORDER BY position", [message.rowId]) {
            try $0.messagePart()
        }
        return message
    }

    /// Maps a `SELECT * FROM messages` row (parts are loaded separately).
    static func readMessage(_ row: SQLiteStatement) throws -> StoredMessage { try row.storedMessage() }

    /// Inserts a received message (status `Received`) and its parts; returns its row id.
    func insertInbound(_ message: InboundMessage) throws -> Int64 {
        let m = message.metadata
        try run("""
            INSERT INTO messages (message_id, direction, status, conversation_id, ref_to_message_id, from_party,
                                  to_party, service, action, pmode_id, mpc, created_at, updated_at,
                                  stored_path, receipt, receipt_at, properties, answers_request)
            VALUES (?, 'in', 'Received', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [m.messageId, m.conversationId, m.refToMessageId, m.fromParty, m.toParty, m.service, m.action,
             m.pmodeId, m.mpc, message.receivedAt, message.receivedAt, message.storedPath, message.receipt,
             message.receipt == nil ? nil : message.receivedAt, try PropertyColumn.encode(m.properties), message.answersRequest])
        let rowId = lastInsertRowID
        try insertParts(message.parts, rowId: rowId)
        return rowId
    }

    /// Inserts a submitted message (status `Submitted`) and its parts; returns its row id.
    func insertOutbound(_ message: OutboundMessage) throws -> Int64 {
        let m = message.metadata
        try run("""
            INSERT INTO messages (message_id, direction, status, conversation_id, ref_to_message_id, from_party,
                                  to_party, service, action, pmode_id, mpc, created_at, updated_at,
                                  endpoint, content_type, message_path, sent_references, max_attempts,
                                  next_attempt_at, pull_mpc, properties)
            VALUES (?, 'out', 'Submitted', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [m.messageId, m.conversationId, m.refToMessageId, m.fromParty, m.toParty, m.service, m.action,
             m.pmodeId, m.mpc, message.submittedAt, message.submittedAt, message.endpoint, message.contentType,
             message.messagePath, message.sentReferences, message.maxAttempts,
             message.firstAttemptAt ?? message.submittedAt, message.pullMPC, try PropertyColumn.encode(m.properties)])
        let rowId = lastInsertRowID
        try insertParts(message.parts, rowId: rowId)
        return rowId
    }

    private func insertParts(_ parts: [MessagePart], rowId: Int64) throws {
        for (position, part) in parts.enumerated() {
            try run("""
                INSERT INTO parts (message_row, position, content_id, mime_type, path, size, sha256, properties)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [rowId, position, part.contentId, part.mimeType, part.file.path, part.file.size, part.file.sha256,
                      try PropertyColumn.encode(part.properties)])
            if let bytes = part.bytes {
                try run("INSERT INTO part_bytes (part_id, bytes) VALUES (?, ?)", [lastInsertRowID, bytes])
            }
        }
    }

    /// The parts with the bytes the database keeps for them (see `MessageStore.inlineMessageLimit`).
    func withPartBytes(_ message: StoredMessage) throws -> StoredMessage {
        var message = message
        let kept = try query("""
            SELECT parts.position AS position, part_bytes.bytes AS bytes FROM parts
            JOIN part_bytes ON part_bytes.part_id = parts.id WHERE parts.message_row = ?
            """, [message.rowId]) { ($0.int("position"), $0.optionalData("bytes")) }
        for (position, bytes) in kept where message.parts.indices.contains(position) {
            message.parts[position].bytes = bytes
        }
        return message
    }

    // MARK: events

    func appendEvent(rowId: Int64, at date: Date, direction: Direction, status: MessageStatus, code: String? = nil,
                     detail: String? = nil) throws {
        try insertChainedMessageEvent(rowId: rowId, at: date.storeMilliseconds, direction: direction.rawValue,
                                      status: status.rawValue, code: code, detail: detail)
    }

    func events(rowId: Int64) throws -> [MessageEvent] {
        try query("SELECT * FROM events WHERE message_row = ? ORDER BY id", [rowId], row: Self.readEvent)
    }

    func events(after afterId: Int64, limit: Int) throws -> [(messageId: String, event: MessageEvent)] {
        try query("""
            SELECT events.*, messages.message_id AS message_id FROM events
            JOIN messages ON messages.row_id = events.message_row
            WHERE events.id > ? ORDER BY events.id LIMIT ?
            """, [afterId, limit]) { row in (row.string("message_id"), try Self.readEvent(row)) }
    }

    static func readEvent(_ row: SQLiteStatement) throws -> MessageEvent { try row.messageEvent() }

    // MARK: transitions

    /// Refuses a status change the state machine does not allow.
    func checkTransition(_ message: StoredMessage, to next: MessageStatus) throws {
        guard message.status.allows(next, direction: message.direction) else {
            throw StoreError.illegalTransition(messageId: message.metadata.messageId, from: message.status, to: next)
        }
    }
}
