import Foundation

/// What `as4gw audit verify` checks of the legal holds: that no document was purged while a hold
/// covered it, and that every release is one a gateway could have made (a releaser named, not
/// before the hold was placed). The triggers refuse both (SQLite migration 23 / PostgreSQL
/// migration 22); this finds what got past them: triggers dropped, or rows written before them.
/// Times are the ones recorded; a release written with a plausible present time by someone who
/// can write the database is not told from an operator's (EVIDENCE.md says what is not covered).
public enum LegalHoldAudit {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public var holdId: Int64
        /// The purge that took a document under the hold; nil for a release found implausible.
        public var purgeId: Int64?
        public var messageId: String?
        public var problem: String

        public var description: String { problem }
    }

    public struct Report: Sendable, Equatable {
        public var holds = 0
        public var purges = 0
        public var findings: [Finding] = []
    }

    /// The store's holds and every purge record, judged.
    public static func check(_ store: any RetentionStore) throws -> Report {
        let holds = try store.holds(activeOnly: false)
        var purges: [PurgeRecord] = []
        var after: Int64 = 0
        while true {
            let page = try store.purges(after: after, limit: 500)
            purges += page
            guard let last = page.last, page.count == 500 else { break }
            after = last.id
        }
        return Report(holds: holds.count, purges: purges.count, findings: findings(holds: holds, purges: purges))
    }

    public static func findings(holds: [LegalHold], purges: [PurgeRecord]) -> [Finding] {
        let time = ISO8601DateFormatter()
        time.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var out: [Finding] = []
        for h in holds {
            guard let released = h.releasedAt else { continue }
            let by = h.releasedBy ?? ""
            if by.trimmingCharacters(in: .whitespaces).isEmpty {
                out.append(Finding(holdId: h.id, purgeId: nil, messageId: nil,
                                   problem: "legal hold \(h.id) was released at \(time.string(from: released)) without a releaser's name"))
            } else if released < h.placedAt {
                out.append(Finding(holdId: h.id, purgeId: nil, messageId: nil,
                                   problem: "legal hold \(h.id) was released at \(time.string(from: released)) by \(by), before it was placed at \(time.string(from: h.placedAt))"))
            }
        }
        for p in purges {
            for h in holds where covers(h, p) && h.placedAt <= p.purgedAt && (h.releasedAt.map { $0 > p.purgedAt } ?? true) {
                let state = h.releasedAt.map { "released only at \(time.string(from: $0))" } ?? "still active"
                out.append(Finding(holdId: h.id, purgeId: p.id, messageId: p.messageId,
                                   problem: "document \(p.messageId) was purged at \(time.string(from: p.purgedAt)) (purge \(p.id), by \(p.purgedBy)) "
                                       + "while legal hold \(h.id) covered it (placed at \(time.string(from: h.placedAt)), \(state))"))
            }
        }
        return out
    }

    static func covers(_ h: LegalHold, _ p: PurgeRecord) -> Bool {
        switch h.target {
        case .message(let id): return id == p.messageId
        case .address(let a): return a == p.sender || p.recipients.contains(a)
        }
    }
}
