/// Which way a message travels through this gateway.
public enum Direction: String, Sendable, Hashable, CaseIterable {
    /// Received from another access point (the stored value is `in`).
    case inbound = "in"
    /// Submitted by our backend, to be sent to another access point (`out`).
    case outbound = "out"
}

/// A message's status, and the state machine the store enforces.
///
/// Outbound: `Submitted → Sending → Delivered` (receipt held) or `→ Failed` (with a reason); a
/// retryable failure or an expired lease goes `Sending → Submitted`; an expired lease may also be
/// taken over directly by another worker (`Sending → Sending`, new owner). `Submitted → Failed`
/// is allowed (given up before sending, e.g. no route). `Delivered` and `Failed` are final for
/// the daemon's own steps; a validated receipt that comes late still records delivery
/// (`allowsLateReceipt`), and an operator may queue a `Failed` message again.
///
/// Inbound: `Received → Delivered` (handed to the backend) `→ Retrieved`, or `Received → Failed`
/// when the backend could not take in a message it already holds our receipt for (an e-address
/// document or status report whose intake failed after the receipt: the reason is kept as the
/// message's last error, so operators find it by status instead of in the log). `Retrieved` and
/// an inbound `Failed` are final for the daemon's own steps; an operator may have a `Failed`
/// one taken in again (`allowsIntakeRetry`: back to `Received`).
public enum MessageStatus: String, Sendable, Hashable, CaseIterable {
    case submitted = "Submitted"
    case sending = "Sending"
    case delivered = "Delivered"
    case failed = "Failed"
    case received = "Received"
    case retrieved = "Retrieved"

    /// The statuses a message in `direction` may have.
    public static func statuses(for direction: Direction) -> [MessageStatus] {
        switch direction {
        case .outbound: [.submitted, .sending, .delivered, .failed]
        case .inbound: [.received, .delivered, .retrieved, .failed]
        }
    }

    /// The status a new message starts in.
    public static func initial(for direction: Direction) -> MessageStatus {
        direction == .outbound ? .submitted : .received
    }

    /// Whether a message in `direction` may go from this status to `next`.
    public func allows(_ next: MessageStatus, direction: Direction) -> Bool {
        switch (direction, self) {
        case (.outbound, .submitted): [.sending, .failed].contains(next)
        case (.outbound, .sending): [.sending, .submitted, .delivered, .failed].contains(next)
        case (.inbound, .received): [.delivered, .failed].contains(next)
        case (.inbound, .delivered): next == .retrieved
        default: false
        }
    }

    /// Whether an operator may put a message in this status back in the queue (`Submitted`), via
    /// `MessageStore.retryFailed`. Only outbound `Failed` qualifies.
    ///
    /// Deliberately not part of `allows`: that table is what the daemon's own paths (claims,
    /// `markRetry`, lease expiry) are checked against, and for them `Failed` must stay final — a
    /// worker must never revive a message it gave up on. Re-queuing one is an operator's explicit
    /// decision (the partner was down longer than the retry budget, a certificate was fixed, …),
    /// so it is a separate, named transition that appends its own event.
    public func allowsOperatorRetry(direction: Direction) -> Bool {
        direction == .outbound && self == .failed
    }

    /// Whether an operator may have the backend's intake run again for a message in this status
    /// (`Received`), via `MessageStore.retryIntake`. Only inbound `Failed` qualifies: its receipt
    /// is given, so the document is ours to keep, and what failed its intake (the P-Modes, the
    /// directory, a clashing document id) is often fixed afterwards.
    ///
    /// Kept out of `allows` for the reason `allowsOperatorRetry` is: the daemon's own intake
    /// must never revive a message it gave up on, only an operator's explicit request does.
    public func allowsIntakeRetry(direction: Direction) -> Bool {
        direction == .inbound && self == .failed
    }

    /// Whether a validated receipt may still make an outbound message in this status `Delivered`
    /// although the daemon's own steps would not lead there (`MessageStore.markDelivered`):
    /// `Failed` (given up while the peer had the message after all), `Submitted` (an attempt's
    /// lease ran out or was released while its answer was on the way) and `Sending` under
    /// another worker's lease. The receipt is the receiver's signed word that it holds the
    /// message; what we had concluded without it was a guess, so the receipt wins. `Delivered`
    /// stays final: its first receipt is the evidence kept.
    ///
    /// Kept out of `allows` for the reason `allowsOperatorRetry` is: claims, retries and lease
    /// expiry must still treat `Failed` as final.
    public func allowsLateReceipt(direction: Direction) -> Bool {
        direction == .outbound && self != .delivered
    }

    /// No transition leaves this status (an operator's `retryFailed` or `retryIntake` and a late
    /// receipt aside).
    public func isFinal(direction: Direction) -> Bool {
        !MessageStatus.allCases.contains { allows($0, direction: direction) }
    }
}
