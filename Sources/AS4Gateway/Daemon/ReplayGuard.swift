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

    /// Rows removed per statement by `removeExpired`, and statements per call at most: a backlog
    /// is worked off over several calls without holding the store (SQLite's one writer) long.
    static let cleanupBatch = 1000
    static let cleanupBatchesPerRun = 100

    /// Removes expired records in batches (called by the periodic clean-up of `MailboxWorker`);
    /// returns how many were removed.
    static func removeExpired(from store: any SeenRequestStore, now: Date) throws -> Int {
        var removed = 0
        for _ in 0..<cleanupBatchesPerRun {
            let batch = try store.removeExpiredSeenRequests(now: now, limit: cleanupBatch)
            removed += batch
            if batch < cleanupBatch { break }
        }
        return removed
    }
}
