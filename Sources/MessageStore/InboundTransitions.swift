import Foundation

// The inbound side of what `OutboundTransitions` does for the queue: the argument checks and the
// event texts both backends record, written once so SQLite and PostgreSQL keep the same words.

/// The backend-independent rules of recording received messages.
enum InboundTransitions {
    /// Rejects a received message the store cannot key, a window that looks into the future, or
    /// properties beyond `PropertyLimits`.
    static func checkRecord(_ message: InboundMessage, duplicateWindow: TimeInterval) throws {
        guard !message.metadata.messageId.isEmpty else { throw StoreError.invalidArgument("empty message id") }
        guard duplicateWindow >= 0 else { throw StoreError.invalidArgument("negative duplicate window") }
        if message.isTwoWayReply, message.metadata.refToMessageId?.isEmpty ?? true {
            throw StoreError.invalidArgument("a Two-Way reply without the request it answers (refToMessageId)")
        }
        try PropertyLimits.check(message.metadata, parts: message.parts)
    }

    /// An operator's `retryIntake` applies to an inbound message whose intake failed, nothing else.
    static func checkIntakeRetry(_ message: StoredMessage) throws {
        guard message.status.allowsIntakeRetry(direction: message.direction) else {
            throw StoreError.illegalTransition(messageId: message.metadata.messageId, from: message.status, to: .received)
        }
    }

    /// A passed-over intake is asked for again only for a message still `Received` whose last
    /// event (`lastEvent`, its id) is at or before the reader's `cursor`: one with a later event
    /// still waits for its intake, or has been asked for already.
    static func checkPassedOver(_ message: StoredMessage, lastEvent: Int64?, cursor: Int64) throws {
        guard message.direction == .inbound, message.status == .received, (lastEvent ?? 0) <= cursor else {
            throw StoreError.illegalTransition(messageId: message.metadata.messageId, from: message.status, to: .received)
        }
    }

    /// Who asks is the event's to say; an empty name would make the history say nothing.
    static func checkRequester(_ requestedBy: String) throws {
        guard !requestedBy.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw StoreError.invalidArgument("an intake retry needs who requested it")
        }
    }
}

/// The details and codes of the events recorded for received messages and for receipts.
enum MessageEventText {
    static let duplicateCode = "duplicate"
    static let receiptCode = "receipt"
    static let handedOver = "handed to the backend"
    static let retrieved = "retrieved by the backend"

    static func intakeFailed(_ error: DeliveryError) -> String {
        "not taken in by the backend: \(error.reason)"
    }

    static func intakeRetryRequested(_ message: StoredMessage, by requestedBy: String) -> String {
        "intake to run again, requested by \(requestedBy)" + (message.intakeError.map { "; it had failed with \($0.code)" } ?? "")
    }

    static func duplicate(_ message: InboundMessage) -> String {
        "received again from \(message.metadata.fromParty); not stored"
    }

    static func received(_ message: InboundMessage) -> String {
        "from \(message.metadata.fromParty), \(message.parts.count) part(s)"
    }

    static func receiptStored(_ receipt: Data) -> String {
        "receipt stored (\(receipt.count) bytes)"
    }
}
