import Foundation

/// Keeps a background loop that fails the same way every round from filling the log at 3 a.m.:
/// the first failure is logged, the same failure again only once per `interval` (saying how
/// many rounds failed meanwhile), a different failure at once, and the first success after
/// failures once, as a recovery. One per loop thread (a value type, not shared).
struct RepeatedFailureLog {
    var interval: TimeInterval = 60
    private var current: String?
    private var currentReason: String?
    private var loggedAt = Date.distantPast
    private var unlogged = 0

    init(interval: TimeInterval = 60) {
        self.interval = interval
    }

    /// A round failed with `reason`: the fields to log, or nil to stay quiet this time. `key`
    /// says which failures are the same one (`FailureKey`), when the reason names particulars of
    /// the round such as a new file name; without it the reasons are compared. The line logged
    /// gives the full reason of the round it is logged in.
    mutating func failed(_ reason: String, key: String? = nil, at now: Date = Date()) -> [String: String?]? {
        let key = key ?? reason
        if key == current, now.timeIntervalSince(loggedAt) < interval {
            unlogged += 1
            return nil
        }
        var fields: [String: String?] = ["reason": reason]
        if key == current, unlogged > 0 { fields["repeated"] = String(unlogged) }
        current = key
        currentReason = reason
        loggedAt = now
        unlogged = 0
        return fields
    }

    /// A round succeeded: the fields of a recovery line when failures were logged before, else nil.
    mutating func succeeded() -> [String: String?]? {
        guard current != nil, let previous = currentReason else { return nil }
        current = nil
        currentReason = nil
        loggedAt = .distantPast
        defer { unlogged = 0 }
        return ["reason": "working again after: \(previous)", "repeated": unlogged > 0 ? String(unlogged) : nil]
    }
}
