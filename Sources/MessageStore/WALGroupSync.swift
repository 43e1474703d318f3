#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Group commit for a WAL-mode SQLite database: transactions commit with `synchronous=NORMAL`
/// (frames written to the WAL, no fsync while the connection is held), and each caller that
/// needs durability then waits here until one `fdatasync` of the WAL file has covered its commit.
/// Concurrent committers share that fsync: whoever takes the sync lock syncs everything written
/// so far, and the callers queued behind it usually find their commit already covered.
///
/// Why this is sound: in WAL mode a commit is exactly the frames SQLite appended to `-wal`
/// (SQLite syncs the WAL itself before every checkpoint copies frames into the database, and the
/// database file after it), so once the WAL inode is fsync'd after a commit was written, the
/// commit survives a power cut just as with `synchronous=FULL`. Commit numbers are assigned
/// under the connection lock right after `COMMIT` returns, so a number read before an fsync
/// never names frames written after it.
///
/// An fsync that fails leaves the kernel's page cache in an unknown state (a later fsync may
/// report success for data that never reached the disk), so the first failure is permanent:
/// every later call throws and the store must be reopened.
final class WALGroupSync: Sendable {
    private struct Counters {
        /// Commits written to the WAL by this connection, numbered from 1.
        var committed: UInt64 = 0
        /// The newest commit that callers need durable (lease claims and other commits that are
        /// redone after a crash do not raise it).
        var lastDurable: UInt64 = 0
        /// Every commit up to this number is on disk.
        var synced: UInt64 = 0
        var failure: StoreError?
        /// The WAL's descriptor, opened at the first sync (-1 before); used only by the holder of
        /// `syncing`.
        var descriptor: Int32 = -1
    }

    private let walPath: String
    private let counters = Mutex(Counters())
    /// Held for the whole fsync, which takes milliseconds: a pthread mutex, whose waiters sleep,
    /// rather than `Mutex`, whose slow path spins before it sleeps.
    private let syncing = NSLock()

    init(databasePath: String) {
        walPath = databasePath + "-wal"
    }

    /// Records a commit that just returned (call while still holding the connection) and returns
    /// the commit number the caller must wait for: its own when `durable`, else the newest
    /// durable one before it (so that nothing it read can still be lost).
    func committed(durable: Bool) -> UInt64 {
        counters.withLock { c in
            c.committed += 1
            if durable { c.lastDurable = c.committed }
            return c.lastDurable
        }
    }

    /// The commit number a reader must wait for: the newest commit whose caller needs it durable.
    /// A read that saw a row another thread has committed but not yet synced waits for that sync,
    /// so nothing read (a stored receipt, a queued message) can vanish in a crash afterwards.
    func readHorizon() -> UInt64 {
        counters.withLock { $0.lastDurable }
    }

    /// The highest commit number known to be on disk (for tests).
    var syncedThrough: UInt64 { counters.withLock { $0.synced } }

    /// Throws the permanent failure, if an fsync has failed before.
    func checkHealthy() throws {
        if let failure = counters.withLock({ $0.failure }) { throw failure }
    }

    /// Returns once every commit up to `commit` is on disk, syncing the WAL if nobody else has.
    func waitUntilDurable(_ commit: UInt64) throws {
        if try covered(commit) { return }
        syncing.lock()
        defer { syncing.unlock() }
        // Whoever held the lock before us may have synced our commit already.
        if try covered(commit) { return }
        let (target, current) = counters.withLock { ($0.committed, $0.descriptor) }
        do {
            let descriptor = try openWAL(reusing: current)
            counters.withLock { $0.descriptor = descriptor }
            guard fdatasync(descriptor) == 0 else { throw StoreError.io(operation: "fdatasync", path: walPath, errno: errno) }
        } catch let error as StoreError {
            counters.withLock { if $0.failure == nil { $0.failure = error } }
            throw error
        }
        counters.withLock { $0.synced = max($0.synced, target) }
    }

    /// Closes the WAL descriptor.
    func close() {
        syncing.lock()
        defer { syncing.unlock() }
        let descriptor = counters.withLock { c -> Int32 in
            let d = c.descriptor
            c.descriptor = -1
            return d
        }
        if descriptor >= 0 { closeFile(descriptor) }
    }

    deinit { close() }

    private func covered(_ commit: UInt64) throws -> Bool {
        try counters.withLock { c in
            if let failure = c.failure { throw failure }
            return c.synced >= commit
        }
    }

    /// The WAL file's descriptor, opened at the first sync. SQLite keeps the WAL while any
    /// connection is open (this store's included), so a WAL that vanished was removed by someone
    /// else and what this connection writes no longer reaches the disk's namespace: a failure.
    private func openWAL(reusing descriptor: Int32) throws -> Int32 {
        if descriptor >= 0 {
            var info = stat()
            guard fstat(descriptor, &info) == 0 else { throw StoreError.io(operation: "fstat", path: walPath, errno: errno) }
            guard info.st_nlink > 0 else { throw StoreError.io(operation: "fdatasync", path: walPath, errno: ENOENT) }
            return descriptor
        }
        let opened = open(walPath, O_RDWR | O_CLOEXEC)
        guard opened >= 0 else { throw StoreError.io(operation: "open", path: walPath, errno: errno) }
        return opened
    }
}

/// `close(2)`, out of reach of the class's own `close()`.
private func closeFile(_ descriptor: Int32) {
    _ = close(descriptor)
}
