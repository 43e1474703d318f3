import Foundation

// How a validated receipt is recorded, whatever the queue concluded meanwhile. A gateway counts a
// document as sent only with the receiver's signed receipt, and the receiver answers a message
// it holds with that receipt; so once a worker has checked one, refusing to record it because
// our own bookkeeping had given up (a lease judged expired by a clock that stepped, a restart, a
// deadline) would leave the peer holding the document while we say it was never sent.

extension OutboundTransitions {
    /// The event code of a receipt recorded after the message had left the lease holder's hands.
    static let lateReceiptCode = "late-receipt"

    /// The event a receipt is recorded with: no code for the lease holder's own attempt, the
    /// late-receipt code and what had happened otherwise.
    struct ReceiptRecord: Equatable {
        var code: String?
        var detail: String
    }

    /// Checks that `owner` may record a receipt for `message` now and says how. Throws
    /// `illegalTransition` for a message already `Delivered` (its first receipt stays the
    /// evidence) or never sent (no attempt made, so no receipt of ours can exist).
    static func recordReceipt(_ message: StoredMessage, receipt: Data, owner: String, withdrawn: Bool) throws -> ReceiptRecord {
        let messageId = message.metadata.messageId
        guard message.status.allowsLateReceipt(direction: message.direction),
              (message.outbound?.attempts ?? 0) >= 1 else {
            throw StoreError.illegalTransition(messageId: messageId, from: message.status, to: .delivered)
        }
        guard !owner.isEmpty else { throw StoreError.invalidArgument("empty lease owner") }
        let accepted = OutboundEventText.delivered(receipt: receipt, owner: owner)
        let holder = message.outbound?.leaseOwner
        switch message.status {
        case .sending where holder == owner:
            guard withdrawn else { return ReceiptRecord(code: nil, detail: accepted) }
            return ReceiptRecord(code: lateReceiptCode,
                                 detail: accepted + " after the message was withdrawn (" + lastErrorText(message) + ")")
        case .sending:
            return ReceiptRecord(code: lateReceiptCode, detail: accepted + " after its lease passed to \(holder ?? "?")")
        case .submitted:
            return ReceiptRecord(code: lateReceiptCode,
                                 detail: accepted + " after its lease ran out or was released (attempt \(message.outbound?.attempts ?? 0) made)")
        default:
            return ReceiptRecord(code: lateReceiptCode,
                                 detail: accepted + " after the message was failed (" + lastErrorText(message) + ")")
        }
    }

    static func lastErrorText(_ message: StoredMessage) -> String {
        message.outbound?.lastError.map { "\($0.code): \($0.reason)" } ?? "no reason recorded"
    }
}
