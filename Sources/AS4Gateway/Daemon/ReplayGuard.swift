import EnvelopeXML
import Foundation
import MessageStore

/// Refuses a signed request seen before (by its eb:MessageId) or stamped outside the clock skew:
/// a captured PullRequest must not hand out the next message to whoever replays it
/// (AS4-WIRE §7.5). The ids are kept in the store (`SeenRequestStore`), not in this process:
/// every node of a shared PostgreSQL store refuses a request another node took, and a restarted
/// node refuses what it took before. There is no in-memory shortcut: only the store's unique
/// key can say "first" for all nodes at once, and a local copy would only speed up refusals.
struct ReplayGuard {
    let store: any SeenRequestStore
    var skew: TimeInterval = InboundProcessor.clockSkew

    /// How long an id is kept: a timestamp up to `skew` ahead of our clock is accepted until it
    /// is `skew` behind, so twice the skew from now covers every replay the timestamp check lets
    /// through (and another node's clock up to a skew apart from ours).
    var keepFor: TimeInterval { 2 * skew }

    /// Throws `EbmsError` (EBMS:0003) for a stale, future or replayed request, or the store's
    /// error when it cannot record the request now (nothing is handed out then either).
    func admit(_ info: MessageInfo, now: Date = Date()) throws {
        let age = now.timeIntervalSince(info.timestamp.date)
        guard abs(age) <= skew else {
            throw EbmsError(.valueInconsistent, "eb:Timestamp \(info.timestamp.lexical) is outside the accepted clock skew of \(Int(skew)) s")
        }
        guard try store.recordSeenRequest(messageId: info.messageId, expiresAt: now.addingTimeInterval(keepFor)) else {
            throw EbmsError(.valueInconsistent, "the request \(info.messageId) was already received (replay)")
        }
    }
}

/// Removes the ids `ReplayGuard` no longer needs, on a cadence of its own. Every signed
/// PullRequest is a durable insert and pullers may poll many times a second, so the clean-up
/// cannot wait for the retention purge (hourly by default), and a run stops on time spent rather
/// than on a count of rows: a fixed cap per hourly run let the table grow faster than it shrank.
struct SeenRequestCleanup {
    let store: any SeenRequestStore
    /// Time between runs: a minute, or the time ids are kept when that is shorter, so the table
    /// holds about one keeping period of requests and what one run meets stays small.
    let interval: TimeInterval
    /// Rows per statement: each statement is short, so SQLite's one writer is never held long.
    var batch = 1000
    /// Time one run may take. Past it the run stops after its current statement and the next
    /// round of the caller goes on, so a backlog is worked off without stalling the caller's
    /// own work (the mailbox loop) for more than this at a time.
    var budget: TimeInterval = 0.5
    var clock: () -> Date = { Date() }
    private(set) var nextRun = Date.distantPast

    init(store: any SeenRequestStore, keepFor: TimeInterval) {
        self.store = store
        self.interval = min(60, keepFor)
    }

    enum Outcome: Equatable {
        case notDue
        /// `finished`: a statement came back short, nothing expired is left; otherwise the
        /// budget ran out and the next call continues at once.
        case ran(removed: Int, finished: Bool)
    }

    /// Runs when due at `now`. A failed run is tried again an interval later.
    mutating func runIfDue(now: Date) throws -> Outcome {
        guard now >= nextRun else { return .notDue }
        nextRun = now.addingTimeInterval(interval)
        let (removed, finished) = try removeExpired(now: now)
        if !finished { nextRun = now }
        return .ran(removed: removed, finished: finished)
    }

    /// Removes records expired at `now`, a statement at a time, until one comes back short or
    /// `budget` has passed on `clock`.
    func removeExpired(now: Date) throws -> (removed: Int, finished: Bool) {
        let started = clock()
        var removed = 0
        while true {
            let count = try store.removeExpiredSeenRequests(now: now, limit: batch)
            removed += count
            if count < batch { return (removed, true) }
            if clock().timeIntervalSince(started) >= budget { return (removed, false) }
        }
    }
}
