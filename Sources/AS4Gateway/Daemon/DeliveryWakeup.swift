import Foundation

/// Wakes idle delivery workers when a submission is queued, instead of leaving the message
/// until their next poll. The poll stays as the fallback (messages due for a retry, or queued by
/// another process sharing the store).
final class DeliveryWakeup: @unchecked Sendable {  // state guarded by the NSCondition
    private let condition = NSCondition()
    private var pending = 0

    func signal() {
        condition.lock()
        pending += 1
        condition.signal()
        condition.unlock()
    }

    /// Returns early when signalled; otherwise after `timeout` seconds.
    func wait(timeout: Double) {
        condition.lock()
        defer { condition.unlock() }
        if pending == 0 { _ = condition.wait(until: Date().addingTimeInterval(timeout)) }
        if pending > 0 { pending -= 1 }
    }
}
