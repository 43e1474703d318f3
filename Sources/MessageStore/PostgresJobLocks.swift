import Foundation
import Synchronization

/// The background jobs' locks of `PostgresMailboxStore`: a session advisory lock per job, taken on
/// a connection of its own (the job session), so one node at a time runs each job and a node that
/// dies loses its jobs with its session.
///
/// Fenced jobs (`run(job:fenced: true)`) also hold a `JobFence` against table `job_fences`
/// (migration 19): a row per job with the job session that took it last (`holder`, a random token
/// per connection), a `generation` counted up each time the job changes hands, and `busy_until`,
/// until when (the database's clock) an effect the holder started outside the database may still
/// be under way. Taking a job over that someone else held bumps the generation, under the row's
/// lock, unless `busy_until` is still ahead: then the job is left for a later round, because the
/// effect may yet succeed and the holder record it. Before each effect the holder moves
/// `busy_until` on, on the job session itself and only while that session still holds the lock
/// and the row is still its own; the transaction recording the effect's result locks the row and
/// checks generation and holder (`confirm`), so a result is recorded only by the holder of record,
/// and the new holder reads the state after it.
///
/// What remains (at-least-once): an effect that outlasts the bound it announced (a process
/// stopped in the middle, a clock jump), or whose result cannot be recorded (the database down
/// beyond it), is redone by the next holder; an effect already under way is never recalled.
final class PostgresJobLocks: Sendable {
    private struct Session {
        var connection: PostgresConnection?
        /// Names this connection in `job_fences.holder`: a new one after every reconnect.
        var token = ""
    }

    private let url: String
    private let session = Mutex(Session())
    private let isClosed = Atomic<Bool>(false)
    /// Jobs running in this process: a session lock is reentrant, so without this two threads of
    /// one node could both hold a job.
    private let running = Mutex<Set<String>>([])

    init(url: String) {
        self.url = url
    }

    /// Closes the job session unless a step is using it, and refuses later jobs (`closed`); a
    /// step in progress closes the session when it returns. As with the pool, `close` does not
    /// wait for a step that may be waiting on a server that stopped answering.
    func close() {
        isClosed.store(true, ordering: .releasing)
        closeSessionIfFree()
    }

    private func closeSessionIfFree() {
        _ = session.withLockIfAvailable { s in
            s.connection?.close()
            s.connection = nil
        }
    }

    /// A step on the job session; when the locks were closed meanwhile, the session is closed after it.
    private func onSession<T>(_ step: (inout sending Session) throws -> T) throws -> T {
        defer {
            if isClosed.load(ordering: .acquiring) { closeSessionIfFree() }
        }
        return try session.withLock { s in try step(&s) }
    }

    /// Runs `body` unless job `job` runs elsewhere (then nil). Unfenced jobs get a fence that
    /// checks nothing and touch no row.
    func run<T>(job: String, fenced: Bool, _ body: (JobFence) throws -> T) throws -> T? {
        guard running.withLock({ $0.insert(job).inserted }) else { return nil }
        defer { running.withLock { _ = $0.remove(job) } }
        guard let fence = try acquire(job, fenced: fenced) else { return nil }
        defer { release(job, holder: fence.holder) }
        return try body(fence)
    }

    /// In the caller's transaction, before it records a fenced job's result: the row must still
    /// name this fence's generation and holder (locked until COMMIT, so no node takes the job over
    /// in between); the effect is over, so `busy_until` is cleared with the result.
    static func confirm(_ fence: JobFence, in c: PostgresConnection) throws {
        guard !fence.holder.isEmpty else { return }
        let row = try c.execute("SELECT generation, holder FROM job_fences WHERE job = $1 FOR UPDATE", [fence.job]).first
        guard let row, row.int64("generation") == fence.generation, row.string("holder") == fence.holder else {
            throw JobFenceError.lost(job: fence.job, reason: "it changed hands (generation \(fence.generation) → "
                                     + "\(row.map { String($0.int64("generation")) } ?? "none")); its result is not recorded here")
        }
        try c.execute("UPDATE job_fences SET busy_until = 0 WHERE job = $1", [fence.job])
    }

    // MARK: Steps on the job session

    private static let now = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    private func acquire(_ job: String, fenced: Bool) throws -> JobFence? {
        try onSession { s throws -> JobFence? in
            guard !isClosed.load(ordering: .acquiring) else { throw StoreError.closed }
            if s.connection?.isUsable != true {
                // A lost session has lost its locks too: a new one starts without them.
                s.connection?.close()
                s.connection = nil
                s.connection = try PostgresConnection(url: url)
                s.token = PayloadDirectory.randomName()
            }
            let c = s.connection!
            guard try c.execute("SELECT pg_try_advisory_lock($1::integer, hashtext($2)) AS held", Self.key(job)).first?.string("held") == "t" else {
                return nil
            }
            guard fenced else { return .unshared(job: job) }
            let token = s.token
            do {
                guard let generation = try Self.claim(job, holder: token, on: c) else {
                    _ = try? c.execute("SELECT pg_advisory_unlock($1::integer, hashtext($2))", Self.key(job))
                    return nil
                }
                return JobFence(job: job, generation: generation, holder: token) { [self] lasting in
                    try beginEffect(job, generation: generation, holder: token, lasting: lasting)
                }
            } catch {
                _ = try? c.execute("SELECT pg_advisory_unlock($1::integer, hashtext($2))", Self.key(job))
                throw error
            }
        }
    }

    /// The job's generation for `holder`: its own row as it left it (a read), or the row taken
    /// over (generation + 1) when the last holder's effects are over; nil while one may still be
    /// under way.
    private static func claim(_ job: String, holder: String, on c: PostgresConnection) throws -> Int64? {
        if let row = try c.execute("SELECT generation, holder FROM job_fences WHERE job = $1", [job]).first, row.string("holder") == holder {
            // Nobody took it since this session last held it: whatever it wrote, it wrote itself.
            return row.int64("generation")
        }
        return try c.transaction { () throws -> Int64? in
            if let inserted = try c.execute("""
                INSERT INTO job_fences (job, generation, holder) VALUES ($1, 1, $2) ON CONFLICT (job) DO NOTHING RETURNING generation
                """, [job, holder]).first {
                return inserted.int64("generation")
            }
            guard let row = try c.execute("SELECT busy_until, \(now) AS now FROM job_fences WHERE job = $1 FOR UPDATE", [job]).first,
                  row.int64("busy_until") <= row.int64("now") else { return nil }
            return try c.execute("""
                UPDATE job_fences SET generation = generation + 1, holder = $2, busy_until = 0 WHERE job = $1 RETURNING generation
                """, [job, holder]).first?.int64("generation")
        }
    }

    private func beginEffect(_ job: String, generation: Int64, holder: String, lasting: TimeInterval) throws {
        try onSession { s throws in
            guard s.token == holder, let c = s.connection, c.isUsable else {
                throw JobFenceError.lost(job: job, reason: "its job session ended (a database restart or a lost connection)")
            }
            let moved: Int
            do {
                moved = try c.execute("""
                    UPDATE job_fences SET busy_until = \(Self.now) + $3
                    WHERE job = $1 AND generation = $2 AND holder = $4
                      AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                                  AND classid = $5::integer::oid AND objid = hashtext($6)::oid AND objsubid = 2)
                    """, [job, generation, Int64((lasting * 1000).rounded(.up)), holder] + Self.key(job)).affectedRows
            } catch StoreError.connectionLost(let message) {
                throw JobFenceError.lost(job: job, reason: "its job session was lost: \(message)")
            }
            guard moved == 1 else { throw JobFenceError.lost(job: job, reason: "its lock or its row is another session's now") }
        }
    }

    private func release(_ job: String, holder: String) {
        _ = try? onSession { s in
            // A replaced session never held this lock; the one that did took it along when it ended.
            guard holder.isEmpty || s.token == holder, let c = s.connection, c.isUsable else { return }
            _ = try? c.execute("SELECT pg_advisory_unlock($1::integer, hashtext($2))", Self.key(job))
        }
    }

    private static func key(_ job: String) -> [(any PostgresBindable)?] {
        [Int(PostgresSchema.lockNamespace), "job:" + job]
    }
}
