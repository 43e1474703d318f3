import Foundation

/// A result row read by column name. SQLite and PostgreSQL store messages, parts and events in
/// tables of the same columns, so the mapping of a row to the model is written once, here, over
/// this reader; each backend only says how it reads one column.
protocol StoreRow {
    func string(_ column: String) -> String
    func optionalString(_ column: String) -> String?
    func int(_ column: String) -> Int
    func int64(_ column: String) -> Int64
    func date(_ column: String) -> Date
    func optionalDate(_ column: String) -> Date?
    func optionalData(_ column: String) -> Data?
}

extension SQLiteStatement: StoreRow {}
extension PostgresRow: StoreRow {}

extension StoreRow {
    /// Maps a `SELECT * FROM messages` row (parts are loaded separately).
    func storedMessage() throws -> StoredMessage {
        let messageId = string("message_id")
        guard let direction = Direction(rawValue: string("direction")),
              let status = MessageStatus(rawValue: string("status"))
        else {
            throw StoreError.invalidArgument("message \(messageId): unknown direction or status in the database")
        }
        let metadata = MessageMetadata(messageId: messageId, conversationId: string("conversation_id"),
                                       refToMessageId: optionalString("ref_to_message_id"),
                                       fromParty: string("from_party"), toParty: string("to_party"),
                                       service: string("service"), action: string("action"),
                                       pmodeId: optionalString("pmode_id"), mpc: optionalString("mpc"),
                                       properties: try PropertyColumn.decode(optionalString("properties"), "message \(messageId)"))
        let lastError = optionalString("last_error_code").map {
            DeliveryError(code: $0, reason: string("last_error_reason"))
        }
        var outbound: OutboundState?
        if direction == .outbound {
            outbound = OutboundState(endpoint: optionalString("endpoint"), contentType: string("content_type"),
                                     messagePath: string("message_path"),
                                     sentReferences: optionalString("sent_references"),
                                     attempts: int("attempts"), maxAttempts: int("max_attempts"),
                                     nextAttemptAt: optionalDate("next_attempt_at"),
                                     leaseOwner: optionalString("lease_owner"),
                                     leaseUntil: optionalDate("lease_until"), lastError: lastError,
                                     pullMPC: optionalString("pull_mpc"))
        }
        return StoredMessage(rowId: int64("row_id"), direction: direction, status: status, metadata: metadata,
                             parts: [], createdAt: date("created_at"), updatedAt: date("updated_at"),
                             outbound: outbound, receipt: optionalData("receipt"),
                             receiptAt: optionalDate("receipt_at"), storedPath: optionalString("stored_path"),
                             retrievedAt: optionalDate("retrieved_at"),
                             intakeError: direction == .inbound ? lastError : nil)
    }

    /// Maps a `SELECT * FROM parts` row (without the bytes SQLite may keep for it).
    func messagePart() throws -> MessagePart {
        MessagePart(contentId: string("content_id"), mimeType: string("mime_type"),
                    file: StoredFile(path: string("path"), size: int64("size"), sha256: string("sha256")),
                    properties: try PropertyColumn.decode(optionalString("properties"), "part \(string("content_id"))"))
    }

    /// Maps a `SELECT * FROM events` row.
    func messageEvent() throws -> MessageEvent {
        guard let direction = Direction(rawValue: string("direction")),
              let status = MessageStatus(rawValue: string("status"))
        else { throw StoreError.invalidArgument("event \(int64("id")): unknown direction or status") }
        return MessageEvent(id: int64("id"), rowId: int64("message_row"), at: date("at"),
                            direction: direction, status: status, code: optionalString("code"),
                            detail: optionalString("detail"))
    }
}
