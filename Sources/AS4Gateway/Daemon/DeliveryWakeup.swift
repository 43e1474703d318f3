import Dispatch

/// Wakes idle delivery workers when a submission is queued, instead of leaving the message
/// until their next poll. The poll stays as the fallback (messages due for a retry, or queued by
/// another process sharing the store). A counting semaphore: one wake-up per submission.
final class DeliveryWakeup: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func signal() { semaphore.signal() }

    /// Returns early when signalled; otherwise after `timeout` seconds.
    func wait(timeout: Double) { _ = semaphore.wait(timeout: .now() + timeout) }
}
