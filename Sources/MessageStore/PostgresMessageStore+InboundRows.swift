import Foundation

// Inbound rows addressed one by one, as in `SQLiteMessageStore+InboundRows`: two parties may
// send the same MessageId, so what follows one message acts on its row, not on the id.

extension PostgresMessageStore {
    public func findInbound(id: String) throws -> [StoredMessage] {
        try read { c in
            try c.withParts(try c.execute("SELECT * FROM messages WHERE direction = 'in' AND message_id = $1 ORDER BY row_id DESC", [id])
                .rows.map(PostgresConnection.readMessage))
        }
    }

    public func markHandedOver(rowId: Int64, at date: Date) throws {
        try write { t in try t.handOver(try t.lockedInbound(rowId: rowId), at: date) }
    }

    public func markIntakeFailed(rowId: Int64, error: DeliveryError, at date: Date) throws {
        try write { t in try t.failIntake(try t.lockedInbound(rowId: rowId), error: error, at: date) }
    }

    public func retryIntake(rowId: Int64, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkRequester(requestedBy)
        try write { t in try t.retryIntake(try t.lockedInbound(rowId: rowId), requestedBy: requestedBy, at: date) }
    }

    public func retryPassedOverIntake(rowId: Int64, passedBy cursor: Int64, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkRequester(requestedBy)
        try write { t in
            let message = try t.lockedInbound(rowId: rowId)
            let last = try t.execute("SELECT MAX(id) AS last FROM events WHERE message_row = $1", [rowId]).first?.optionalInt64("last")
            try InboundTransitions.checkPassedOver(message, lastEvent: last, cursor: cursor)
            // The row stays as it is: the store refused to change it, the event is all that is asked.
            t.appendEvent(rowId: rowId, at: date, direction: .inbound, status: .received, code: MessageEvent.intakeRetryRequestedCode,
                          detail: MessageEventText.intakeRetryRequested(message, by: requestedBy))
        }
    }
}

extension PostgresTransaction {
    /// The inbound row `rowId`, locked against other writers until COMMIT.
    func lockedInbound(rowId: Int64) throws -> StoredMessage {
        guard let row = try execute("SELECT * FROM messages WHERE row_id = $1 AND direction = 'in' FOR UPDATE", [rowId]).first else {
            throw StoreError.notFound(messageId: "row \(rowId)", direction: .inbound)
        }
        return try PostgresConnection.readMessage(row)
    }

    /// `Received → Delivered` of a locked row.
    func handOver(_ message: StoredMessage, at date: Date) throws {
        try checkTransition(message, to: .delivered)
        try execute("UPDATE messages SET status = 'Delivered', updated_at = $1 WHERE row_id = $2", [date, message.rowId])
        appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .delivered, detail: MessageEventText.handedOver)
    }

    /// `Received → Failed` with the intake's error, of a locked row.
    func failIntake(_ message: StoredMessage, error: DeliveryError, at date: Date) throws {
        try checkTransition(message, to: .failed)
        try execute("UPDATE messages SET status = 'Failed', last_error_code = $1, last_error_reason = $2, updated_at = $3 WHERE row_id = $4",
                    [error.code, error.reason, date, message.rowId])
        appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .failed, code: error.code,
                    detail: MessageEventText.intakeFailed(error))
    }

    /// An operator's `Failed → Received` of a locked row.
    func retryIntake(_ message: StoredMessage, requestedBy: String, at date: Date) throws {
        try InboundTransitions.checkIntakeRetry(message)
        try execute("UPDATE messages SET status = 'Received', last_error_code = NULL, last_error_reason = NULL, updated_at = $1 WHERE row_id = $2",
                    [date, message.rowId])
        appendEvent(rowId: message.rowId, at: date, direction: .inbound, status: .received, code: MessageEvent.intakeRetryRequestedCode,
                    detail: MessageEventText.intakeRetryRequested(message, by: requestedBy))
    }
}
