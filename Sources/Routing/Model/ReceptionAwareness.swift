import Foundation

/// PMode[].ReceptionAwareness with Retry and DuplicateDetection (AS4 §3.2; eDelivery: all on,
/// parameters not profiled). Retries resend the stored message unchanged (AS4-WIRE §5.4); when
/// they are used up without a receipt the sender raises EBMS:0301 MissingReceipt.
///
/// Delay before retry n (1-based): `min(initial × factor^(n-1), max)`, then spread by ±jitter.
/// Defaults: 5 retries after 60 s, 120 s, 240 s, 480 s, 960 s (±10 %), i.e. about half an hour;
/// duplicates are detected for 7 days (AS4's example `checkwindow=7D`).
public struct ReceptionAwareness: Sendable, Equatable {
    /// Resends after the first attempt; 0 = send once.
    public var retries: Int
    public var initialInterval: TimeInterval
    public var backoffFactor: Double
    public var maxInterval: TimeInterval
    /// 0 ≤ jitter < 1: each delay is multiplied by a random factor in [1 − jitter, 1 + jitter].
    public var jitterFraction: Double
    /// How long a received MessageId is remembered for duplicate elimination.
    public var duplicateDetectionWindow: TimeInterval

    public init(retries: Int = 5, initialInterval: TimeInterval = 60, backoffFactor: Double = 2,
                maxInterval: TimeInterval = 3600, jitterFraction: Double = 0.1,
                duplicateDetectionWindow: TimeInterval = 7 * 86400) {
        self.retries = retries
        self.initialInterval = initialInterval
        self.backoffFactor = backoffFactor
        self.maxInterval = maxInterval
        self.jitterFraction = jitterFraction
        self.duplicateDetectionWindow = duplicateDetectionWindow
    }

    /// The delay before retry `attempt` (1...retries), or nil when the budget is used up.
    /// `random` is a uniform sample in [0, 1) (a parameter so tests and schedulers can fix it).
    public func delay(beforeRetry attempt: Int, random: Double = Double.random(in: 0..<1)) -> TimeInterval? {
        guard attempt >= 1, attempt <= retries else { return nil }
        var base = initialInterval
        for _ in 1..<attempt {
            base *= backoffFactor
            if base >= maxInterval { break }
        }
        base = min(base, maxInterval)
        return base * (1 + jitterFraction * (2 * random - 1))
    }
}
