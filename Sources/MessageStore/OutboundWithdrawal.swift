import Foundation

// Withdrawing an outbound message that is no longer wanted (its document's `deliveryBy` passed).
// A queued message simply fails. One being sent cannot be called back: the peer may already
// hold it, and its receipt may still come. Failing it at once was refused (only the lease holder
// may end an attempt) and the refusal went unnoticed, so the next attempt went out after the
// deadline. Instead the withdrawal is recorded as an event on the row: no further attempt
// starts (a retry, an expired lease or a restart fails it with the withdrawal's reason), while
// the attempt in flight may still end in `Delivered` with its receipt. The event, not a
// column, is the record: it is part of the message's hash-chained history, and a withdrawal
// counts only until an operator queues the message again (`retry-requested`).

/// What `MessageStore.withdraw` did to an outbound message.
public enum WithdrawalOutcome: Sendable, Equatable {
    /// It was waiting in the queue: it is `Failed` now, with the reason given.
    case failed
    /// An attempt was in flight: no further attempt will start; that attempt's receipt, if one
    /// comes, still makes the message `Delivered`.
    case withdrawnInFlight
    /// It was `Delivered` or `Failed` already: nothing changed.
    case alreadyFinal(MessageStatus)
}

extension OutboundTransitions {
    static let withdrawnCode = "withdrawn"

    /// What a withdrawal does to a message in its current state.
    enum WithdrawalStep: Equatable {
        case fail
        case markInFlight
        case none(WithdrawalOutcome)
    }

    static func withdrawal(_ message: StoredMessage, alreadyWithdrawn: Bool) -> WithdrawalStep {
        switch message.status {
        case .submitted: return .fail
        case .sending: return alreadyWithdrawn ? .none(.withdrawnInFlight) : .markInFlight
        default: return .none(.alreadyFinal(message.status))
        }
    }

    static func withdrawnDetail(_ error: DeliveryError, holder: String?) -> String {
        "withdrawn (\(error.code): \(error.reason)) while attempt was in flight for \(holder ?? "?"): "
            + "no further attempt; its receipt, if one comes, is still recorded"
    }

    /// The error a withdrawn message fails with when its attempt in flight ends without a receipt
    /// (`attemptError` nil: its lease ran out, or the node restarted). The withdrawal's own
    /// error is the row's last error from the withdrawal on: no attempt outcome replaced it.
    static func withdrawnFailure(_ message: StoredMessage, attemptError: DeliveryError?) -> DeliveryError {
        let withdrawal = message.outbound?.lastError ?? DeliveryError(code: withdrawnCode, reason: "withdrawn")
        let ending = attemptError.map { "the attempt in flight ended without a receipt: \($0.code): \($0.reason)" }
            ?? "the attempt in flight brought no receipt"
        return DeliveryError(code: withdrawal.code, reason: "\(withdrawal.reason); \(ending)")
    }

    /// A SQL condition, true for a `messages` row withdrawn since the last operator retry. Both
    /// backends name the table and columns alike; `events_by_message` serves both lookups.
    static let withdrawnCondition = sinceOperatorRetry(code: withdrawnCode)

    /// A SQL condition, true when the `messages` row has an event with `code` newer than its
    /// last operator retry (an operator's re-queue starts the message afresh).
    static func sinceOperatorRetry(code: String) -> String {
        """
        EXISTS (SELECT 1 FROM events w WHERE w.message_row = messages.row_id AND w.code = '\(code)'
                  AND w.id > COALESCE((SELECT MAX(r.id) FROM events r
                                       WHERE r.message_row = messages.row_id AND r.code = '\(OutboundEventText.retryRequestedCode)'), 0))
        """
    }
}
