import Foundation

/// What a background job holds while it runs under `MailboxStore.exclusively(job:fenced:)`: the
/// means to prove, before an effect outside the store and again in the transaction that records
/// its result, that no other node has taken the job since.
///
/// A job lock alone does not prove it. On PostgreSQL it is a session advisory lock on a connection
/// of its own, and the job's statements run on other, pooled connections that reconnect after a
/// database restart without a word: the lock may be gone (and held by another node) while the body
/// goes on. A fence is checked against the store instead, so a node whose lock was lost stops
/// before its next effect and cannot record a result over the new holder's.
public struct JobFence: Sendable {
    public let job: String
    /// How often the job had changed hands when this holder took it (PostgreSQL's `job_fences`);
    /// 0 on a store only one process uses.
    public let generation: Int64
    /// The job session that took the job (a random token per connection).
    let holder: String
    private let begin: @Sendable (TimeInterval) throws -> Void

    init(job: String, generation: Int64, holder: String, begin: @escaping @Sendable (TimeInterval) throws -> Void) {
        self.job = job
        self.generation = generation
        self.holder = holder
        self.begin = begin
    }

    /// The fence of a store one process uses (SQLite): nobody else can take the job.
    static func unshared(job: String) -> JobFence {
        JobFence(job: job, generation: 0, holder: "", begin: { _ in })
    }

    /// Before each effect outside the store (a webhook POST): throws `JobFenceError.lost` when the
    /// job may be another node's now; otherwise the store notes that an effect may be under way for
    /// `lasting` seconds, and no other node takes the job over before then (it could not know
    /// whether the effect happened). Pass the effect's own bound (its timeouts) plus a margin.
    public func beginEffect(lasting: TimeInterval) throws { try begin(lasting) }
}

public enum JobFenceError: Error, Equatable, CustomStringConvertible {
    /// The job may be another node's now: stop, record nothing; the holder redoes the work.
    case lost(job: String, reason: String)

    public var description: String {
        switch self {
        case let .lost(job, reason): return "job \(job) is no longer held here: \(reason)"
        }
    }
}
