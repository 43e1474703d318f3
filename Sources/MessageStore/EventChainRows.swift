import Foundation

// Writing and reading the chained event rows on both backends (EventChain has the format).

extension SQLiteConnection {
    /// The id the next row of `table` gets and its predecessor's hash. Only called inside a write
    /// transaction: SQLite has one writer at a time, so nobody can append between this read and
    /// the insert. The id is given explicitly (the rowid SQLite would pick: the largest plus one).
    private func chainTail(_ table: ChainedTable) throws -> (id: Int64, previousHash: String) {
        let last = try queryFirst(EventChainSQL.last(table)) { ($0.int64("id"), $0.optionalString("hash")) }
        return ((last?.0 ?? 0) + 1, last?.1 ?? EventChain.genesis)
    }

    func insertChainedMessageEvent(rowId: Int64, at: Int64, direction: String, status: String, code: String?,
                                   detail: String?) throws {
        let tail = try chainTail(.messageEvents)
        let fields = EventChain.messageEventFields(rowId: rowId, at: at, direction: direction, status: status, code: code,
                                                   detail: detail)
        let hash = EventChain.hash(table: .messageEvents, id: tail.id, prevHash: tail.previousHash, fields: fields)
        try run("""
            INSERT INTO events (id, message_row, at, direction, status, code, detail, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [tail.id, rowId, at, direction, status, code, detail, tail.previousHash, hash])
    }

    func insertChainedDocumentEvent(messageId: String, address: String?, at: Int64, status: String, detail: String?) throws {
        let tail = try chainTail(.documentEvents)
        let fields = EventChain.documentEventFields(messageId: messageId, address: address, at: at, status: status,
                                                    detail: detail)
        let hash = EventChain.hash(table: .documentEvents, id: tail.id, prevHash: tail.previousHash, fields: fields)
        try run("""
            INSERT INTO document_events (id, message_id, address, at, status, detail, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [tail.id, messageId, address, at, status, detail, tail.previousHash, hash])
    }

    func chainedEvents(_ table: ChainedTable, after afterId: Int64, limit: Int) throws -> [ChainedEvent] {
        try query(EventChainSQL.page(table, placeholders: ("?1", "?2")), [afterId, limit]) {
            table == .messageEvents ? $0.chainedMessageEvent() : $0.chainedDocumentEventOrTombstone()
        }
    }

    func chainedEvents(_ table: ChainedTable, messageId: String) throws -> [ChainedEvent] {
        try query(EventChainSQL.ofMessage(table, placeholder: "?"), [messageId]) { Self.chained(table, $0) }
    }

    private static func chained(_ table: ChainedTable, _ row: SQLiteStatement) -> ChainedEvent {
        table == .messageEvents ? row.chainedMessageEvent() : row.chainedDocumentEvent()
    }
}

extension PostgresConnection {
    /// `count` new ids of `events` and the hash of the row before them. Only called under
    /// `eventOrderLock`, held to COMMIT: every earlier chained row is committed (and visible to
    /// this statement, READ COMMITTED), and no other node takes ids until this one commits, so
    /// two nodes never chain to the same predecessor.
    func chainEventIds(count: Int) throws -> (ids: [Int64], previousHash: String) {
        let result = try execute("""
            SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id,
                   (SELECT hash FROM events ORDER BY id DESC LIMIT 1) AS previous
            FROM generate_series(1, $1)
            """, [count])
        let ids = result.rows.map { $0.int64("id") }.sorted()
        return (ids, result.first?.optionalString("previous") ?? EventChain.genesis)
    }

    /// Under `mailboxOrderLock` (the caller takes it), for the reasons `chainEventIds` gives.
    func insertChainedDocumentEvent(messageId: String, address: String?, at: Int64, status: String, detail: String?) throws {
        let tail = try execute("""
            SELECT nextval(pg_get_serial_sequence('document_events', 'id')) AS id,
                   (SELECT hash FROM (\(EventChainSQL.lastDocumentEventOrTombstone)) AS last) AS previous
            """).first
        let id = tail?.int64("id") ?? 0
        let previous = tail?.optionalString("previous") ?? EventChain.genesis
        let fields = EventChain.documentEventFields(messageId: messageId, address: address, at: at, status: status,
                                                    detail: detail)
        let hash = EventChain.hash(table: .documentEvents, id: id, prevHash: previous, fields: fields)
        try execute("""
            INSERT INTO document_events (id, message_id, address, at, status, detail, prev_hash, hash) OVERRIDING SYSTEM VALUE
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """, [id, messageId, address, at, status, detail, previous, hash])
    }

    func chainedEvents(_ table: ChainedTable, after afterId: Int64, limit: Int) throws -> [ChainedEvent] {
        try execute(EventChainSQL.page(table, placeholders: ("$1", "$2")), [afterId, limit]).rows.map {
            table == .messageEvents ? $0.chainedMessageEvent() : $0.chainedDocumentEventOrTombstone()
        }
    }

    func chainedEvents(_ table: ChainedTable, messageId: String) throws -> [ChainedEvent] {
        try execute(EventChainSQL.ofMessage(table, placeholder: "$1"), [messageId]).rows.map { Self.chained(table, $0) }
    }

    private static func chained(_ table: ChainedTable, _ row: PostgresRow) -> ChainedEvent {
        table == .messageEvents ? row.chainedMessageEvent() : row.chainedDocumentEvent()
    }
}

extension SQLiteMessageStore {
    public func chainedEvents(_ table: ChainedTable, after afterId: Int64, limit: Int) throws -> [ChainedEvent] {
        try withConnection { try $0.chainedEvents(table, after: afterId, limit: limit) }
    }

    public func chainedEvents(_ table: ChainedTable, messageId: String) throws -> [ChainedEvent] {
        try withConnection { try $0.chainedEvents(table, messageId: messageId) }
    }
}

extension PostgresMessageStore {
    public func chainedEvents(_ table: ChainedTable, after afterId: Int64, limit: Int) throws -> [ChainedEvent] {
        try read { try $0.chainedEvents(table, after: afterId, limit: limit) }
    }

    public func chainedEvents(_ table: ChainedTable, messageId: String) throws -> [ChainedEvent] {
        try read { try $0.chainedEvents(table, messageId: messageId) }
    }
}
