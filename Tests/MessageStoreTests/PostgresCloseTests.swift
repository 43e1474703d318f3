import Foundation
@testable import MessageStore
import Synchronization
import XCTest

/// Closing a PostgreSQL store while one of its calls waits in the server (here on a lock another
/// session holds; in production on a server that stopped answering): `close` returns at once
/// instead of waiting for the call, later calls are refused, and the call's connection is closed
/// when it returns.
final class PostgresCloseTests: StoreTestCase {
    override class var backend: StoreBackend { .postgres }

    func testPoolCloseDoesNotWaitForACallWaitingInTheServer() throws {
        let holder = try PostgresConnection(url: postgresURL)
        defer { holder.close() }
        let key = Int.random(in: 1...1_000_000_000)
        try holder.execute("SELECT pg_advisory_lock($1::bigint)", [key])
        let pool = PostgresConnectionPool(url: postgresURL, size: 1)
        let call = Call { try pool.withConnection { c in try c.execute("SELECT pg_advisory_lock($1::bigint)", [key]).count } }
        let waiting = try waitForLockWaiter()

        let closed = Call { pool.close() }
        let closedAtOnce = closed.finished(within: 10)
        try holder.execute("SELECT pg_advisory_unlock($1::bigint)", [key])
        XCTAssertTrue(closedAtOnce, "close waited for the call in progress")
        XCTAssertTrue(call.finished(within: 10))
        XCTAssertEqual(try call.result?.get(), 1, "the call in progress ran to its end")
        assertThrows(.closed) { _ = try pool.withConnection { _ in 0 } }
        try waitUntilGone(waiting)
    }

    func testJobLocksCloseDoesNotWaitForAStepWaitingInTheServer() throws {
        let store = try PostgresMailboxStore(url: postgresURL, schema: .migrate, now: t0)
        let holder = try PostgresConnection(url: postgresURL)
        defer { holder.close() }
        // Another node's row for the job, locked: taking the job over waits for that lock on the
        // job session.
        try holder.execute("INSERT INTO job_fences (job, generation, holder) VALUES ('j', 1, 'another node')")
        try holder.execute("BEGIN")
        try holder.execute("SELECT generation FROM job_fences WHERE job = 'j' FOR UPDATE")
        let call = Call { try store.exclusively(job: "j", fenced: { $0.generation }) ?? 0 }
        let waiting = try waitForLockWaiter()

        let closed = Call { store.close() }
        let closedAtOnce = closed.finished(within: 10)
        try holder.execute("COMMIT")
        XCTAssertTrue(closedAtOnce, "close waited for the job session's step in progress")
        XCTAssertTrue(call.finished(within: 10))
        assertThrows(.closed) { _ = try store.exclusively(job: "k") { 0 } }
        try waitUntilGone(waiting)
    }

    /// The server process of the one session waiting for a lock. Asked on a connection of its own
    /// outside any transaction: within one, pg_stat_activity keeps showing its first snapshot.
    private func waitForLockWaiter() throws -> Int {
        let observer = try PostgresConnection(url: postgresURL)
        defer { observer.close() }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let rows = try observer.execute("""
                SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND datname = current_database()
                """)
            if let pid = rows.first?.int64("pid") { return Int(pid) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw StoreError.invalidArgument("no session came to wait for the lock")
    }

    /// Waits until the server process `pid` has ended (its connection closed by the client).
    private func waitUntilGone(_ pid: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let observer = try PostgresConnection(url: postgresURL)
        defer { observer.close() }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if try observer.execute("SELECT 1 AS one FROM pg_stat_activity WHERE pid = $1", [pid]).count == 0 { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTFail("the connection of the call in progress was not closed after it returned", file: file, line: line)
    }
}

/// A store call on a thread of its own, so the test can watch it wait.
private final class Call<T: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let outcome = Mutex<Result<T, any Error>?>(nil)

    init(_ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            let result = Result { try body() }
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.start()
    }

    func finished(within seconds: Double) -> Bool {
        guard done.wait(timeout: .now() + seconds) == .success else { return false }
        done.signal()
        return true
    }

    var result: Result<T, any Error>? { outcome.withLock { $0 } }
}
