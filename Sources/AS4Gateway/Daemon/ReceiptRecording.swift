import Foundation
import MessageStore

/// Records a receipt that validated, trying again while the store cannot answer. A valid
/// receipt is the proof that the receiver holds the message: dropped because one commit failed
/// (PostgreSQL restarting between the POST and the commit), the message would stay `Sending`
/// until its lease ran out, be sent again, and on its last attempt be failed with EBMS:0301
/// although the receiver has it. So a transient failure (`StoreError.isTransient`) is tried
/// again, waiting 0.1, 0.2, 0.4 … s (at most `longestDelay`), until the store answers or
/// `deadline` comes (the caller's lease about to run out, or the time a request may wait).
/// A permanent failure stops at once: no later try could record it.
struct ReceiptRecording {
    enum Outcome {
        /// This call recorded it, after `retries` failed tries.
        case recorded(retries: Int)
        /// The message was `Delivered` already: a try whose outcome was unknown (the connection
        /// lost during COMMIT) committed after all. The receipt is recorded either way.
        case alreadyDelivered(retries: Int)
        /// The store refused for good: the message is no longer there (`notFound`, purged) or
        /// has no attempt a receipt could answer (`illegalTransition` from `Submitted` after an
        /// operator's retry reset its attempts). A message failed, withdrawn or leased elsewhere
        /// meanwhile is not refused: `markDelivered` records the receipt late
        /// (`OutboundLateReceipt`). Nothing more to do with this receipt.
        case refused(any Error)
        /// The store still failed when the deadline came, after `tries` tries; the error is its
        /// last answer.
        case unavailable(any Error, tries: Int)
    }

    var firstDelay: TimeInterval = 0.1
    var longestDelay: TimeInterval = 5
    var now: () -> Date = { Date() }
    var sleep: (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }

    /// Calls `record` until it returns or fails for good, or `deadline` comes (one call is made
    /// whatever the deadline). `retrying` hears each transient failure before its wait, with the
    /// number of failures so far (1 for the first), so the caller can log the first one.
    func run(until deadline: Date, retrying: (any Error, Int) -> Void = { _, _ in }, _ record: () throws -> Void) -> Outcome {
        var failures = 0
        var delay = firstDelay
        while true {
            do {
                try record()
                return .recorded(retries: failures)
            } catch StoreError.illegalTransition(_, from: .delivered, to: .delivered) {
                return .alreadyDelivered(retries: failures)
            } catch {
                guard isTransientStoreFailure(error) else { return .refused(error) }
                failures += 1
                let wait = min(delay, deadline.timeIntervalSince(now()))
                guard wait > 0 else { return .unavailable(error, tries: failures) }
                retrying(error, failures)
                sleep(wait)
                delay = min(delay * 2, longestDelay)
            }
        }
    }
}
