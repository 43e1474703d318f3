import Foundation

// What the outbound queue decides and records, apart from how a backend keeps it. SQLite and
// PostgreSQL run these steps inside their own transactions and differ only in SQL and locking, so
// the argument checks, the retry budget, the lease arithmetic and the event texts live here once:
// operators and tests read the same words from either backend.

/// The backend-independent rules of the outbound queue's state changes.
enum OutboundTransitions {
    /// Rejects a message no attempt could ever send.
    static func checkEnqueue(_ message: OutboundMessage) throws {
        let messageId = message.metadata.messageId
        guard !messageId.isEmpty else { throw StoreError.invalidArgument("empty message id") }
        guard message.maxAttempts >= 1 else { throw StoreError.invalidArgument("maxAttempts must be at least 1") }
        guard message.endpoint != nil || message.pullMPC != nil else {
            throw StoreError.invalidArgument("message \(messageId): neither an endpoint nor a pull MPC")
        }
        try PropertyLimits.check(message.metadata, parts: message.parts)
    }

    /// A message leased as it is queued must be one a claim would take at `now`.
    static func checkEnqueueLeased(_ message: OutboundMessage, now: Date) throws {
        guard message.pullMPC == nil, message.endpoint != nil else {
            throw StoreError.invalidArgument("message \(message.metadata.messageId): a pull message waits for its PullRequest")
        }
        guard (message.firstAttemptAt ?? message.submittedAt) <= now else {
            throw StoreError.invalidArgument("message \(message.metadata.messageId) is not due before \(message.firstAttemptAt ?? message.submittedAt)")
        }
    }

    static func checkLease(owner: String, lease: TimeInterval) throws {
        guard !owner.isEmpty else { throw StoreError.invalidArgument("empty lease owner") }
        guard lease > 0 else { throw StoreError.invalidArgument("lease must be positive") }
    }

    /// Only the node holding a lease may report the outcome of its attempt.
    static func checkOwner(_ message: StoredMessage, _ owner: String?) throws {
        let holder = message.outbound?.leaseOwner
        guard let owner, owner == holder else {
            throw StoreError.leaseNotHeld(messageId: message.metadata.messageId, owner: owner, holder: holder)
        }
    }

    /// A message being sent may be failed only by its lease holder; a queued one by anyone.
    static func checkMayFail(_ message: StoredMessage, owner: String?) throws {
        if message.status == .sending { try checkOwner(message, owner) }
    }

    static func checkOperatorRetry(_ message: StoredMessage) throws {
        guard message.status.allowsOperatorRetry(direction: .outbound) else {
            throw StoreError.illegalTransition(messageId: message.metadata.messageId, from: message.status,
                                               to: .submitted)
        }
    }

    /// What a failed attempt leads to: another attempt later, or the end of the retry budget.
    enum RetryOutcome {
        /// Queue the message again; `detail` is the event text.
        case scheduled(detail: String)
        /// Fail the message with this error.
        case exhausted(DeliveryError)
    }

    static func retry(_ message: StoredMessage, error: DeliveryError, nextAttemptAt: Date) -> RetryOutcome {
        let attempts = message.outbound?.attempts ?? 0
        let maxAttempts = message.outbound?.maxAttempts ?? 0
        if attempts >= maxAttempts {
            return .exhausted(DeliveryError(code: error.code,
                                            reason: "retry budget exhausted (\(attempts)/\(maxAttempts)): \(error.reason)"))
        }
        return .scheduled(detail: "attempt \(attempts)/\(maxAttempts) failed: \(error.reason); next at "
                              + OutboundEventText.timestamp(nextAttemptAt))
    }

    /// The error a `Sending` row ends with when its lease ran out on the last allowed attempt.
    static func exhaustedLeaseError(_ message: StoredMessage) -> DeliveryError {
        .missingReceipt(attempts: message.outbound?.attempts ?? 0)
    }

    /// One attempt granted to a lease holder: the values a backend writes to the row.
    struct Lease {
        var owner: String
        var until: Date
        /// The number of this attempt (the row's attempts after the update).
        var attempt: Int
        var maxAttempts: Int
        var eventDetail: String

        /// Only `retryFailed` puts the attempts back to 0 on a message that has an error: a
        /// local fault (`releaseAfterLocalFault`) gives back its uncounted attempt too, but
        /// leaves its own code, and a restart gives one back only when it recorded no error.
        static func followsOperatorRetry(attempt: Int, lastError: DeliveryError?) -> Bool {
            guard attempt == 1, let lastError else { return false }
            return lastError.code != DeliveryError.localStorageCode
        }

        /// The job handed to the sender; `messageBytes` when the store keeps the message in its row.
        func job(for message: StoredMessage, messageBytes: Data? = nil) -> OutboundJob {
            let state = message.outbound
            return OutboundJob(rowId: message.rowId, metadata: message.metadata, endpoint: state?.endpoint,
                               contentType: state?.contentType ?? "", messagePath: state?.messagePath ?? "",
                               sentReferences: state?.sentReferences, attempt: attempt, maxAttempts: maxAttempts,
                               owner: owner, leaseUntil: Date(storeMilliseconds: until.storeMilliseconds),
                               pullMPC: state?.pullMPC, createdAt: message.createdAt, messageBytes: messageBytes,
                               afterOperatorRetry: Self.followsOperatorRetry(attempt: attempt, lastError: state?.lastError))
        }
    }

    /// The next attempt on a claimable row for `owner`, taking over an expired lease if there is one.
    static func lease(_ message: StoredMessage, to owner: String, now: Date, lease: TimeInterval) -> Lease {
        let until = now.addingTimeInterval(lease)
        let attempt = (message.outbound?.attempts ?? 0) + 1
        let maxAttempts = message.outbound?.maxAttempts ?? 0
        let takeover = message.status == .sending ? " (" + OutboundEventText.leaseExpired(message) + ")" : ""
        let verb = message.outbound?.pullMPC == nil ? "leased" : "pulled"
        let detail = "attempt \(attempt)/\(maxAttempts) \(verb) by \(owner) until "
            + OutboundEventText.timestamp(until) + takeover
        return Lease(owner: owner, until: until, attempt: attempt, maxAttempts: maxAttempts, eventDetail: detail)
    }
}

/// The details and codes of the outbound events both backends record.
enum OutboundEventText {
    static let retryRequestedCode = MessageEvent.retryRequestedCode
    static let leaseExpiredCode = "lease-expired"
    static let leaseReleasedCode = "lease-released"

    static func queued(_ message: OutboundMessage) -> String {
        let target = message.pullMPC.map { "waiting for a pull on \($0)" } ?? "for \(message.endpoint ?? "")"
        return "queued \(target), \(message.maxAttempts) attempt(s) allowed"
    }

    static func delivered(receipt: Data, owner: String) -> String {
        "receipt (\(receipt.count) bytes) accepted by \(owner)"
    }

    static func operatorRetry(_ message: StoredMessage) -> String {
        let used = message.outbound?.attempts ?? 0
        let maxAttempts = message.outbound?.maxAttempts ?? 0
        return "re-queued by an operator after \(used) attempt(s); \(maxAttempts) attempt(s) allowed again"
    }

    static func leaseExpired(_ message: StoredMessage) -> String {
        "lease of \(message.outbound?.leaseOwner ?? "?") expired at "
            + (message.outbound?.leaseUntil.map(timestamp) ?? "?")
    }

    static func leaseReleased(ownerPrefix: String) -> String {
        "released at restart of \(ownerPrefix)"
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
