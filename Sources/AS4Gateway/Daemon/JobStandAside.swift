import Foundation
import MessageStore

/// Whether a node whose background job keeps failing leaves the job to the other nodes of its
/// store for a while. A job's lock is given back after every round, but a node failing for a
/// reason of its own (a payload folder it cannot write, a password file it cannot read) would take
/// the job again at its next round, once a second, and each time hold it for a failing round that
/// a healthy node could have run. After `limit` failed rounds in a row this node stops asking for
/// the job for `pause` seconds; after a pause one more failure is enough to stand aside again, and
/// a round of its own that works ends it. A round that finds the job held elsewhere counts neither
/// way. A database this node cannot reach does not count either: then it cannot hold the job
/// anyway, and every node is in the same outage.
///
/// Only a store several nodes share (PostgreSQL) has anyone to leave the job to; with SQLite
/// standing aside would only put off the next try, so `enabled` is false there.
struct JobStandAside {
    static let limit = 3
    static let pause: TimeInterval = 30

    let enabled: Bool
    let limit: Int
    let pause: TimeInterval
    private(set) var failures = 0
    /// Until when this node does not ask for the job.
    private(set) var until: Date?

    init(enabled: Bool, limit: Int = Self.limit, pause: TimeInterval = Self.pause) {
        self.enabled = enabled
        self.limit = limit
        self.pause = pause
    }

    func mayRun(at now: Date) -> Bool {
        guard let until else { return true }
        return now >= until
    }

    /// A round of this node's failed with `error`. Returns true when this failure makes the node
    /// stand aside after rounds that had not (to be logged once, not every pause).
    mutating func failed(_ error: any Error, at now: Date) -> Bool {
        guard enabled, (error as? StoreError)?.isUnreachable != true else { return false }
        failures += 1
        guard failures >= limit else { return false }
        let first = until == nil
        until = now.addingTimeInterval(pause)
        return first
    }

    mutating func succeeded() {
        failures = 0
        until = nil
    }
}
