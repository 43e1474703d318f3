import Foundation

// Inbound rows addressed one by one: two parties may send the same MessageId (duplicates are
// detected per sending party), so what follows one message acts on its row, not on the id.

extension SQLiteMessageStore {
    public func findInbound(id: String) throws -> [StoredMessage] {
        try withConnection { c in
            try c.query("SELECT * FROM messages WHERE direction = 'in' AND message_id = ? ORDER BY row_id DESC", [id],
                        row: SQLiteConnection.readMessage).map { try c.withPartBytes(try c.withParts($0)) }
        }
    }

    public func markHandedOver(rowId: Int64, at date: Date) throws {
        try write { c in try c.handOver(try c.existingInbound(rowId: rowId), at: date) }
    }

    public func markIntakeFailed(rowId: Int64, error: DeliveryError, at date: Date) throws {
        try write { c in try c.failIntake(try c.existingInbound(rowId: rowId), error: error, at: date) }
    }

    public func retryIntake(rowId: Int64, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkRequester(requestedBy)
        try write { c in try c.retryIntake(try c.existingInbound(rowId: rowId), requestedBy: requestedBy, at: date) }
    }

    public func retryPassedOverIntake(rowId: Int64, passedBy cursor: Int64, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkRequester(requestedBy)
        try write { c in
            let message = try c.existingInbound(rowId: rowId)
            let last = try c.query("SELECT MAX(id) AS last FROM events WHERE message_row = ?", [rowId]) { $0.optionalInt64("last") }.first ?? nil
            try InboundTransitions.checkPassedOver(message, lastEvent: last, cursor: cursor)
            // The row stays as it is: the store refused to change it, the event is all that is asked.
            try c.appendEvent(rowId: rowId, at: date, direction: .inbound, status: .received, code: MessageEvent.intakeRetryRequestedCode,
                              detail: MessageEventText.intakeRetryRequested(message, by: requestedBy))
        }
    }
}

extension SQLiteConnection {
    func existingInbound(rowId: Int64) throws -> StoredMessage {
        guard let message = try message(rowId: rowId), message.direction == .inbound else {
            throw StoreError.notFound(messageId: "row \(rowId)", direction: .inbound)
        }
        return message
    }

    /// `Received → Delivered`, in the caller's transaction.
    func handOver(_ message: StoredMessage, at date: Date) throws {
        try checkTransition(message, to: .delivered)
        try run("UPDATE messages SET status = 'Delivered', updated_at = ? WHERE row_id = ?", [date, message.rowId])
        try appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .delivered, detail: MessageEventText.handedOver)
    }

    /// `Received → Failed` with the intake's error, in the caller's transaction.
    func failIntake(_ message: StoredMessage, error: DeliveryError, at date: Date) throws {
        try checkTransition(message, to: .failed)
        try run("UPDATE messages SET status = 'Failed', last_error_code = ?, last_error_reason = ?, updated_at = ? WHERE row_id = ?",
                [error.code, error.reason, date, message.rowId])
        try appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .failed,
                        code: error.code, detail: MessageEventText.intakeFailed(error))
    }

    /// An operator's `Failed → Received`, in the caller's transaction.
    func retryIntake(_ message: StoredMessage, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkIntakeRetry(message)
        try run("UPDATE messages SET status = 'Received', last_error_code = NULL, last_error_reason = NULL, updated_at = ? WHERE row_id = ?",
                [date, message.rowId])
        try appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .received,
                        code: MessageEvent.intakeRetryRequestedCode, detail: MessageEventText.intakeRetryRequested(message, by: requestedBy))
    }
}
