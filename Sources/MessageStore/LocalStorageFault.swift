import Foundation

/// A node claimed a message and could not read the message's own file (missing on this node's
/// payload directory, an I/O error): a fault of our storage, not of the peer. Counting it as an
/// attempt, or recording the HTTP client's error as if the peer had failed, would spend the
/// peer's reception-awareness retries on it and could end the message `Failed` with EBMS:0301
/// for something the peer never saw. So the attempt is given back and the message released to
/// the queue, where this node or another that sees the file takes it again; only a file that
/// stays unreadable, with no attempt reading it in between, for `giveUpAfter` fails the message,
/// with this code, so the sender hears of it (a backend document's recipient turns Failed).
enum LocalStorageFault {
    /// The event code of each release and the `DeliveryError` code of the final failure.
    static let code = DeliveryError.localStorageCode

    enum Outcome: Equatable {
        /// Back to `Submitted`, due at `retryAt`, the attempt not counted; `detail` is the event text.
        case release(detail: String, error: DeliveryError)
        case fail(DeliveryError)
    }

    /// `withdrawn`: the message was withdrawn while this attempt was in flight (OutboundWithdrawal).
    static func decide(_ message: StoredMessage, events: [MessageEvent], withdrawn: Bool, owner: String, reason: String, retryAt: Date,
                       giveUpAfter: TimeInterval, at now: Date) -> Outcome {
        let path = message.outbound?.messagePath ?? "?"
        let unreadable = DeliveryError(code: code, reason: "message file \(path) unreadable on \(owner): \(reason)")
        // A withdrawal promises no further attempt: releasing the message would send it after its
        // deadline. It fails as a withdrawn message's retry does, this fault as the attempt's end.
        if withdrawn { return .fail(OutboundTransitions.withdrawnFailure(message, attemptError: unreadable)) }
        let since = unreadableSince(events) ?? now
        if now.timeIntervalSince(since) >= giveUpAfter {
            return .fail(DeliveryError(code: code, reason: "the message file \(path) could not be read by the sending node(s) since "
                                           + OutboundEventText.timestamp(since) + " (a local storage fault; the peer was not tried): \(reason)"))
        }
        let attempts = message.outbound?.attempts ?? 0
        let maxAttempts = message.outbound?.maxAttempts ?? 0
        let detail = "attempt \(attempts)/\(maxAttempts) not counted: \(owner) could not read the message file (\(reason)); "
            + "next at " + OutboundEventText.timestamp(retryAt)
        return .release(detail: detail, error: unreadable)
    }

    /// When the current run of unreadable-file releases began: the first such event after the last
    /// outcome of an attempt that did read the file (a retry scheduled after a peer's failure), or
    /// after the message was queued or re-queued by an operator. Lease expiries and releases at a
    /// restart (released, or recovered with its cut-off attempt not counted) say nothing about the
    /// file, so they do not end a run: otherwise every restart would start the bound afresh.
    static func unreadableSince(_ events: [MessageEvent]) -> Date? {
        var since: Date?
        for event in events.sorted(by: { $0.id < $1.id }) {
            if event.code == code, event.status == .submitted {
                since = since ?? event.at
            } else if event.status == .submitted, !runNeutralCodes.contains(event.code ?? "") {
                since = nil
            }
        }
        return since
    }

    /// Codes of `Submitted` events that say nothing about whether the file could be read.
    static let runNeutralCodes: Set = [OutboundEventText.leaseExpiredCode, OutboundEventText.leaseReleasedCode,
                                       OutboundTransitions.restartRecoveryCode]
}
