import Foundation

// What a restarting node does with the leases it held (`MessageStore.releaseLeases`). Its
// workers are gone, so an attempt they had under way was cut off by our own stop, not answered
// by the peer: the message goes back to the queue at once. When that attempt was the last one
// allowed, failing the message (as before) threw away a delivery a resend would very likely
// complete — the receiver answers a copy of a message it holds with its stored receipt. So the
// cut-off last attempt is not counted, once per message: a message that brings the node down
// every time it is sent must still end in `Failed` rather than restart the node forever. The
// grant is an event in the message's history; an operator's re-queue gives a fresh one.

extension OutboundTransitions {
    static let restartRecoveryCode = "restart-recovery"

    /// What becomes of one message a restarting node held.
    enum ReleaseStep: Equatable {
        /// Back to the queue, the attempt counted.
        case requeue
        /// Back to the queue with its cut-off last attempt not counted (attempts is this value).
        case recover(attempts: Int)
        /// No attempt left, or withdrawn: failed with this error.
        case fail(DeliveryError)
    }

    static func release(_ message: StoredMessage, withdrawn: Bool, recoveredBefore: Bool) -> ReleaseStep {
        if withdrawn { return .fail(withdrawnFailure(message, attemptError: nil)) }
        guard let out = message.outbound, out.attempts >= out.maxAttempts else { return .requeue }
        if recoveredBefore { return .fail(exhaustedLeaseError(message)) }
        return .recover(attempts: max(out.attempts - 1, 0))
    }

    static func restartRecoveryDetail(_ message: StoredMessage, ownerPrefix: String) -> String {
        let attempts = message.outbound?.attempts ?? 0
        let maxAttempts = message.outbound?.maxAttempts ?? 0
        return "released at restart of \(ownerPrefix): its last attempt (\(attempts)/\(maxAttempts)) was cut off by the stop "
            + "and is not counted, once per message"
    }

    /// A SQL condition, true for a `messages` row already granted its recovery.
    static let recoveredCondition = sinceOperatorRetry(code: restartRecoveryCode)
}
