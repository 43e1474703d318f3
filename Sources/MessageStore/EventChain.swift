import Foundation

/// The two append-only histories the gateway keeps, each a hash chain of its own (docs/EVIDENCE.md).
public enum ChainedTable: String, Sendable, CaseIterable {
    /// `events`: the AS4 messages' history (MessageStore).
    case messageEvents = "events"
    /// `document_events`: the backend API documents' history (MailboxStore).
    case documentEvents = "document_events"
}

/// One row of a chained table, with the fields its hash covers in the order they are hashed.
/// `messageId` is for people (for `events` it is looked up through `message_row`, which is what
/// is hashed); it is not part of the hash.
public struct ChainedEvent: Sendable, Equatable {
    public var table: ChainedTable
    public var id: Int64
    public var messageId: String
    /// `events`: message_row, at, direction, status, code, detail.
    /// `document_events`: message_id, address, at, status, detail. Times are integer milliseconds.
    public var fields: [String?]
    /// Both nil for a row written before the chain existed (migration 7 / PostgreSQL 6).
    public var prevHash: String?
    public var hash: String?
    /// A purged row (`event_tombstones`): its fields are gone, so only its link to the row before
    /// can be checked; its hash carries the chain on.
    public var purged = false
    /// For a tombstone: a purge record of that message exists and the document it purged is gone
    /// (one stored again later under the same id, arriving anew, does not count). A tombstone
    /// without both is a deletion dressed up as a purge.
    public var purgeRecorded = true

    public init(table: ChainedTable, id: Int64, messageId: String, fields: [String?], prevHash: String?, hash: String?) {
        self.table = table
        self.id = id
        self.messageId = messageId
        self.fields = fields
        self.prevHash = prevHash
        self.hash = hash
    }

    /// What the hash of this row must be, given its predecessor's.
    public func expectedHash(after previous: String) -> String {
        EventChain.hash(table: table, id: id, prevHash: previous, fields: fields)
    }
}

/// The hash of an event: SHA-256 (lowercase hex) over a length-prefixed serialization, so that no
/// two different rows serialize alike whatever their texts contain:
///
///     "as4gw-event-chain-v1" · item(table name) · item(id) · item(prev_hash) · item(field)…
///     item(text) = 8-byte big-endian UTF-8 length · the bytes;   item(NULL) = 8 bytes 0xFF
///
/// Integers are written in decimal. One SHA-256 per event; the previous hash is one lookup of the
/// table's last row by primary key, made where the writer already holds the table's order
/// (SQLite's single writer; PostgreSQL's advisory lock held to COMMIT).
public enum EventChain {
    /// The prev_hash of the first chained event of a table.
    public static let genesis = String(repeating: "0", count: 64)
    static let label = Array("as4gw-event-chain-v1".utf8)

    public static func hash(table: ChainedTable, id: Int64, prevHash: String, fields: [String?]) -> String {
        // One flat buffer and one digest call: this runs once per event written.
        var bytes = label
        bytes.reserveCapacity(256)
        func append(_ text: String?) {
            guard let text else {
                bytes.append(contentsOf: repeatElement(0xFF, count: 8))
                return
            }
            withUnsafeBytes(of: UInt64(text.utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: text.utf8)
        }
        append(table.rawValue)
        append(String(id))
        append(prevHash)
        for field in fields { append(field) }
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return SHA256.hex(hasher.finalize())
    }

    static func messageEventFields(rowId: Int64, at: Int64, direction: String, status: String, code: String?,
                                   detail: String?) -> [String?] {
        [String(rowId), String(at), direction, status, code, detail]
    }

    static func documentEventFields(messageId: String, address: String?, at: Int64, status: String,
                                    detail: String?) -> [String?] {
        [messageId, address, String(at), status, detail]
    }

    /// How much `verify` reads per query.
    static let pageSize = 1000
}

/// Reads a chained table in id order: `as4gw audit verify` and the evidence bundle.
public protocol EventChainReading {
    /// Rows with id > `afterId`, in id order, at most `limit`.
    func chainedEvents(_ table: ChainedTable, after afterId: Int64, limit: Int) throws -> [ChainedEvent]
    /// Every row of one message id (for `events`: of every stored message with that AS4 id), in id order.
    func chainedEvents(_ table: ChainedTable, messageId: String) throws -> [ChainedEvent]
}

/// The outcome of walking one chain.
public struct ChainReport: Sendable, Equatable {
    public var table: ChainedTable
    /// Rows before the first chained one (written before the chain existed).
    public var unchained: Int = 0
    public var chained: Int = 0
    /// Rows taken by the retention purge, whose links were checked but not their contents.
    public var purged: Int = 0
    public var lastId: Int64 = 0
    public var lastHash: String = EventChain.genesis
    public var firstBreak: ChainBreak?
}

/// The first link that does not hold.
public struct ChainBreak: Sendable, Equatable, CustomStringConvertible {
    public var table: ChainedTable
    public var eventId: Int64
    public var messageId: String
    /// Which value is wrong: "prev_hash" (a row before it was removed or changed its hash),
    /// "hash" (this row's fields or hash were changed) or "missing hash" (a row written without one).
    public var field: String
    public var expected: String
    public var found: String

    public var description: String {
        "\(table.rawValue) event \(eventId) (message \(messageId)): \(field) expected \(expected), found \(found)"
    }
}

extension EventChainReading {
    /// Walks the whole table in id order and stops at the first break.
    public func verifyChain(_ table: ChainedTable) throws -> ChainReport {
        var report = ChainReport(table: table)
        var after: Int64 = 0
        var started = false
        while true {
            let page = try chainedEvents(table, after: after, limit: EventChain.pageSize)
            for event in page {
                after = event.id
                report.lastId = event.id
                guard let hash = event.hash, let prev = event.prevHash else {
                    if !started {
                        report.unchained += 1
                        continue
                    }
                    report.firstBreak = ChainBreak(table: table, eventId: event.id, messageId: event.messageId,
                                                   field: "missing hash", expected: event.expectedHash(after: report.lastHash),
                                                   found: "NULL")
                    return report
                }
                started = true
                guard prev == report.lastHash else {
                    report.firstBreak = ChainBreak(table: table, eventId: event.id, messageId: event.messageId,
                                                   field: "prev_hash", expected: report.lastHash, found: prev)
                    return report
                }
                if event.purged {
                    guard event.purgeRecorded else {
                        report.firstBreak = ChainBreak(table: table, eventId: event.id, messageId: event.messageId, field: "tombstone",
                                                       expected: "a purge record of \(event.messageId), its document gone",
                                                       found: "no such purge, or the document is still held")
                        return report
                    }
                    report.purged += 1
                    report.lastHash = hash
                    continue
                }
                let expected = event.expectedHash(after: prev)
                guard hash == expected else {
                    report.firstBreak = ChainBreak(table: table, eventId: event.id, messageId: event.messageId,
                                                   field: "hash", expected: expected, found: hash)
                    return report
                }
                report.chained += 1
                report.lastHash = hash
            }
            if page.count < EventChain.pageSize { return report }
        }
    }
}

extension StoreRow {
    func chainedMessageEvent() -> ChainedEvent {
        ChainedEvent(table: .messageEvents, id: int64("id"), messageId: string("message_id"),
                     fields: EventChain.messageEventFields(rowId: int64("message_row"), at: int64("at"),
                                                          direction: string("direction"), status: string("status"),
                                                          code: optionalString("code"), detail: optionalString("detail")),
                     prevHash: optionalString("prev_hash"), hash: optionalString("hash"))
    }

    /// A row of the document-event walk: a kept event, or a purged one's tombstone.
    func chainedDocumentEventOrTombstone() -> ChainedEvent {
        var event = chainedDocumentEvent()
        event.purged = int("purged") == 1
        event.purgeRecorded = int("purge_recorded") == 1
        return event
    }

    func chainedDocumentEvent() -> ChainedEvent {
        ChainedEvent(table: .documentEvents, id: int64("id"), messageId: string("message_id"),
                     fields: EventChain.documentEventFields(messageId: string("message_id"), address: optionalString("address"),
                                                           at: int64("at"), status: string("status"),
                                                           detail: optionalString("detail")),
                     prevHash: optionalString("prev_hash"), hash: optionalString("hash"))
    }
}

/// The queries of both backends (the same SQL but for the placeholder style).
enum EventChainSQL {
    static func page(_ table: ChainedTable, placeholders p: (String, String)) -> String {
        switch table {
        case .messageEvents:
            // LEFT JOIN: an event whose message row is gone must still be walked (and reported).
            "SELECT events.*, COALESCE(messages.message_id, '?') AS message_id FROM events LEFT JOIN messages ON messages.row_id = events.message_row WHERE events.id > \(p.0) ORDER BY events.id LIMIT \(p.1)"
        case .documentEvents:
            // The purged rows' tombstones take their places in the walk.
            """
            SELECT id, message_id, address, at, status, detail, prev_hash, hash, 0 AS purged, 1 AS purge_recorded
            FROM document_events WHERE id > \(p.0)
            UNION ALL
            SELECT t.id, t.message_id, NULL, 0, '', NULL, t.prev_hash, t.hash, 1,
                   CASE WHEN EXISTS (SELECT 1 FROM purges p WHERE p.id = t.purge_id AND p.message_id = t.message_id
                                     AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.message_id = t.message_id
                                                                                 AND d.created_at <= p.purged_at))
                        THEN 1 ELSE 0 END
            FROM event_tombstones t
            WHERE t.tbl = 'document_events' AND t.id > \(p.0)
            ORDER BY id LIMIT \(p.1)
            """
        }
    }

    /// Keeps the chain places of a document's events before its purge deletes them: purge id, message id.
    static func tombstones(placeholders p: (String, String)) -> String {
        """
        INSERT INTO event_tombstones (tbl, id, message_id, prev_hash, hash, purge_id)
        SELECT 'document_events', id, message_id, prev_hash, hash, \(p.0) FROM document_events WHERE message_id = \(p.1)
        """
    }

    /// The hash the next document event chains to: the newest row, purged or not (each side by
    /// its primary key).
    static let lastDocumentEventOrTombstone = """
        SELECT id, hash FROM (
            SELECT id, hash FROM (SELECT id, hash FROM document_events ORDER BY id DESC LIMIT 1) AS kept
            UNION ALL
            SELECT id, hash FROM (SELECT id, hash FROM event_tombstones WHERE tbl = 'document_events' ORDER BY id DESC LIMIT 1) AS purged
        ) AS newest ORDER BY id DESC LIMIT 1
        """

    static func ofMessage(_ table: ChainedTable, placeholder p: String) -> String {
        switch table {
        case .messageEvents:
            "SELECT events.*, messages.message_id AS message_id FROM events JOIN messages ON messages.row_id = events.message_row WHERE messages.message_id = \(p) ORDER BY events.id"
        case .documentEvents:
            "SELECT * FROM document_events WHERE message_id = \(p) ORDER BY id"
        }
    }

    static func last(_ table: ChainedTable) -> String {
        table == .documentEvents ? lastDocumentEventOrTombstone : "SELECT id, hash FROM \(table.rawValue) ORDER BY id DESC LIMIT 1"
    }
}
