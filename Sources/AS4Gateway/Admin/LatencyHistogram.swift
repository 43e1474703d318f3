import Foundation
import Synchronization

/// A latency histogram with fixed bucket bounds, safe to observe from any thread. Counts are kept
/// per bucket and made cumulative only when read, so an observation is one short locked update.
final class LatencyHistogram: Sendable {
    struct Snapshot: Sendable, Equatable {
        /// Upper bounds in seconds, ascending (the implicit `+Inf` bucket is not listed).
        var bounds: [Double]
        /// Observations at or below each bound (cumulative, as the exposition format wants).
        var cumulativeCounts: [Int]
        var count: Int
        var sum: Double
    }

    private struct State {
        var perBucket: [Int]
        var count = 0
        var sum = 0.0
    }

    let bounds: [Double]
    private let state: Mutex<State>

    /// `bounds` must be ascending and finite; a mistake here is a programming error.
    init(bounds: [Double]) {
        precondition(!bounds.isEmpty && bounds.allSatisfy(\.isFinite) && zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 },
                     "histogram bounds must be finite and strictly ascending")
        self.bounds = bounds
        state = Mutex(State(perBucket: Array(repeating: 0, count: bounds.count)))
    }

    func observe(_ seconds: Double) {
        // A clock stepped backwards gives a negative duration; it counts as zero, not as nothing.
        let value = seconds.isFinite ? max(0, seconds) : 0
        let index = bounds.firstIndex { value <= $0 }
        state.withLock { s in
            if let index { s.perBucket[index] += 1 }
            s.count += 1
            s.sum += value
        }
    }

    func observe(since start: Date) { observe(Date().timeIntervalSince(start)) }

    var snapshot: Snapshot {
        let s = state.withLock { $0 }
        var running = 0
        let cumulative = s.perBucket.map { running += $0; return running }
        return Snapshot(bounds: bounds, cumulativeCounts: cumulative, count: s.count, sum: s.sum)
    }
}
