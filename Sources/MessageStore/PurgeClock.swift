import Foundation

/// Whether a retention purge may trust its clock (docs/RETENTION.md, "A clock that jumps").
///
/// A purge deletes what is due by the clock of whoever runs it, and in SQLite the triggers read
/// that same system clock: a clock stepped forward would purge archives early, with nothing to
/// stop it. So each run is recorded (`purge_runs`, with its wall time), and a run whose clock is
/// more than `bound` past the previous run's is deferred: the clock jumped, or the node was down
/// for long, and either way one bound of waiting (with a warning in the log) gives an operator
/// the time to see a wrong clock before anything goes. Later runs within the bound of each other
/// keep the deferral until it ends; then the purge proceeds. An operator who has checked the
/// clock may override (`as4gw retention purge --trust-clock`), which is recorded as such.
public struct PurgeClockCheck: Sendable, Equatable {
    /// The run's wall-clock time.
    public var now: Date
    /// How far past the previous run a clock may be before the purge is deferred (seconds).
    public var bound: TimeInterval
    /// Who runs it (`mailbox-worker`, `cli:<user>`).
    public var by: String
    /// The operator vouches for the clock: proceed, and judge later runs from this one.
    public var trusted: Bool
    /// A forward step of the wall clock the process saw itself (against its monotonic clock),
    /// in seconds: the run is deferred whatever the store's record says.
    public var observedStep: TimeInterval?
    /// Record the run (false: a dry run, which only asks).
    public var record: Bool

    public init(now: Date, bound: TimeInterval, by: String, trusted: Bool = false, observedStep: TimeInterval? = nil, record: Bool = true) {
        self.now = now
        self.bound = bound
        self.by = by
        self.trusted = trusted
        self.observedStep = observedStep
        self.record = record
    }
}

/// The answer to a `PurgeClockCheck`.
public enum PurgeClearance: Sendable, Equatable {
    case proceed
    /// Nothing may be purged before `until` (by a clock that stays consistent); `reason` says why.
    case deferred(until: Date, reason: String)
}

public enum PurgeRunOutcome: String, Sendable, Equatable {
    case proceeded, deferred, overridden
}

/// One recorded purge run (append-only `purge_runs`).
public struct PurgeRun: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var by: String
    public var outcome: PurgeRunOutcome
    /// While deferred: until when.
    public var deferredUntil: Date?
    public var detail: String
}

/// The decision, shared by both stores (each reads the last run and the newest write in the
/// transaction that records the new run).
enum PurgeClockRule {
    struct Decision: Equatable {
        var clearance: PurgeClearance
        var outcome: PurgeRunOutcome
        var deferredUntil: Date?
        var detail: String
    }

    static func hours(_ seconds: TimeInterval) -> String { String(format: "%.1f h", seconds / 3600) }

    /// `last`: the latest recorded run; `newestWrite`: the newest time the store wrote in a
    /// document's history or a purge record, which stands in for a previous run on a store that
    /// has none recorded (the first run after this version).
    static func decide(_ check: PurgeClockCheck, last: PurgeRun?, newestWrite: Date?) -> Decision {
        let now = check.now, bound = check.bound
        if check.trusted {
            return Decision(clearance: .proceed, outcome: .overridden, deferredUntil: nil, detail: "clock vouched for by \(check.by)")
        }
        func deferral(_ until: Date, _ reason: String) -> Decision {
            Decision(clearance: .deferred(until: until, reason: reason), outcome: .deferred, deferredUntil: until, detail: reason)
        }
        if let step = check.observedStep {
            return deferral(now + bound, "the wall clock stepped \(hours(step)) forward while this process ran")
        }
        guard let last else {
            if let newestWrite, now.timeIntervalSince(newestWrite) > bound {
                return deferral(now + bound, "no purge run recorded yet and the clock is \(hours(now.timeIntervalSince(newestWrite))) past the store's newest record")
            }
            return Decision(clearance: .proceed, outcome: .proceeded, deferredUntil: nil, detail: "")
        }
        let gap = now.timeIntervalSince(last.at)
        if gap > bound {
            return deferral(now + bound, "the clock is \(hours(gap)) past the last purge run (at most \(hours(bound)) expected)")
        }
        if let until = last.deferredUntil {
            // A clock set back (to correct a jump, say) is not trusted sooner than one bound
            // from now, nor kept waiting longer than the deferral already running.
            let kept = gap < 0 ? min(until, now + bound) : until
            if now < kept { return deferral(kept, last.detail) }
        }
        return Decision(clearance: .proceed, outcome: .proceeded, deferredUntil: nil, detail: "")
    }
}

extension StoreRow {
    func purgeRun() -> PurgeRun {
        PurgeRun(id: int64("id"), at: date("run_at"), by: string("run_by"), outcome: PurgeRunOutcome(rawValue: string("outcome")) ?? .deferred,
                 deferredUntil: optionalDate("deferred_until"), detail: string("detail"))
    }
}
