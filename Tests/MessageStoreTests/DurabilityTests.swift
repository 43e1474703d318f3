import Foundation
@testable import MessageStore
import Synchronization
import XCTest

/// The group commit: commits run with `synchronous=NORMAL`, and a method returns only once an
/// fsync of the WAL has covered its commit.
final class DurabilityTests: StoreTestCase {
    func testEveryDurableWriteReturnsAfterItsCommitIsSynced() throws {
        let store = try openSQLiteStore()
        defer { store.close() }
        var before = store.durability.syncedThrough
        _ = try store.enqueueOutbound(outbound("m1", at: t0))
        XCTAssertGreaterThan(store.durability.syncedThrough, before, "enqueue returned before an fsync covered it")
        before = store.durability.syncedThrough
        _ = try store.recordInbound(inbound("in-1", at: t0), duplicateWindow: 3600)
        XCTAssertGreaterThan(store.durability.syncedThrough, before, "recordInbound returned before an fsync covered it")
    }

    func testALeaseClaimDoesNotWaitForItsOwnFsync() throws {
        let store = try openSQLiteStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m1", at: t0))
        let synced = store.durability.syncedThrough
        let jobs = try store.claimDue(now: t0, limit: 1, owner: "w0", lease: 60)
        XCTAssertEqual(jobs.count, 1)
        XCTAssertEqual(store.durability.syncedThrough, synced, "a claim is redone after a crash: it needs no fsync of its own")
        // The next durable commit covers the claim too (WAL order).
        try store.markFailed(messageId: "m1", owner: "w0", error: DeliveryError(code: "X", reason: "test"), at: t0)
        XCTAssertEqual(store.durability.syncedThrough, synced + 2)
    }

    /// Many threads writing at once: each sees its own commit covered when it returns, and what
    /// they wrote is all there after a reopen.
    func testConcurrentWritersShareFsyncsAndLoseNothing() throws {
        let store = try openSQLiteStore()
        let threads = 8, perThread = 40
        let failures = Failures()
        let group = DispatchGroup()
        for t in 0..<threads {
            let messages = (0..<perThread).map { i in inbound("t\(t)-\(i)", at: t0) }
            group.enter()
            Thread {
                defer { group.leave() }
                for (i, message) in messages.enumerated() {
                    do {
                        _ = try store.recordInbound(message, duplicateWindow: 3600)
                        // This thread's commit is numbered at most the total so far.
                        if store.durability.syncedThrough < UInt64(i + 1) {
                            failures.add("t\(t)-\(i): returned before its fsync")
                        }
                    } catch {
                        failures.add("t\(t)-\(i): \(error)")
                    }
                }
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(failures.all, [])
        store.close()

        let reopened = try openSQLiteStore()
        defer { reopened.close() }
        let all = try reopened.listMessages(status: .received, since: nil, direction: .inbound, limit: 10_000)
        XCTAssertEqual(all.count, threads * perThread)
    }

    func testAFailedFsyncIsPermanent() throws {
        let store = try openSQLiteStore()
        defer { store.close() }
        _ = try store.enqueueOutbound(outbound("m1", at: t0))
        // Removing the WAL under the store makes its next sync fail to find it.
        XCTAssertEqual(unlink(store.databasePath + "-wal"), 0)
        XCTAssertThrowsError(try store.enqueueOutbound(outbound("m2", at: t0)))
        XCTAssertThrowsError(try store.enqueueOutbound(outbound("m3", at: t0)), "a store whose fsync failed must stay failed")
    }
}

private final class Failures: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ failure: String) { list.withLock { $0.append(failure) } }
    var all: [String] { list.withLock { $0 } }
}

/// Which write failures leave it open that the write committed (so nothing it names may be removed).
final class CommitOutcomeTests: XCTestCase {
    func testOnlyALostCommitAndAFailedWALSyncMayHaveCommitted() {
        XCTAssertTrue(mayHaveCommitted(StoreError.connectionLost("server closed the connection (\(StoreError.commitOutcomeUnknown))")))
        XCTAssertFalse(mayHaveCommitted(StoreError.connectionLost("server closed the connection")), "lost before COMMIT: rolled back")
        XCTAssertTrue(mayHaveCommitted(StoreError.io(operation: "fdatasync", path: "/data/messages.sqlite-wal", errno: EIO)))
        XCTAssertFalse(mayHaveCommitted(StoreError.io(operation: "write", path: "/data/payloads/x", errno: ENOSPC)))
        XCTAssertFalse(mayHaveCommitted(StoreError.duplicateMessageId("m")))
        XCTAssertFalse(mayHaveCommitted(CocoaError(.fileNoSuchFile)))
    }
}

/// Store URLs in logs and messages never show a password, wherever the URL carries it.
final class StoreURLRedactionTests: XCTestCase {
    func testPasswordsAreMaskedInTheUserPartAndInParameters() {
        XCTAssertEqual(StoreLocation.redacted("postgres://as4gw:S3cret@db:5432/as4gw"), "postgres://as4gw:***@db:5432/as4gw")
        let masked = StoreLocation.redacted("postgres://as4gw@127.0.0.1:5432/as4gw?sslmode=require&password=S3cret&sslpassword=K3y")
        XCTAssertFalse(masked.contains("S3cret") || masked.contains("K3y"), masked)
        XCTAssertTrue(masked.contains("sslmode=require"), masked)
        XCTAssertEqual(StoreLocation.redacted("sqlite:/var/lib/as4gw"), "sqlite:/var/lib/as4gw")
        XCTAssertEqual(try StoreLocation(parsing: "postgres://u:S3cret@h/db?password=S3cret").description.contains("S3cret"), false)
    }

    /// A store written in libpq's key=value form is refused as not a URL, and the refusal (the
    /// line `serve` dies with) must not repeat the password it holds.
    func testTheKeyValueFormIsRefusedWithoutItsPassword() {
        XCTAssertThrowsError(try StoreLocation(parsing: "host=db user=as4gw password=S3cret dbname=as4gw")) { error in
            XCTAssertFalse("\(error)".contains("S3cret"), "\(error)")
            XCTAssertTrue("\(error)".contains("host=db"), "\(error)")
        }
        XCTAssertEqual(StoreLocation.redacted("host=db password='S3 cret' sslpassword=K3y"), "host=db password='***' sslpassword=***")
    }

    /// libpq quotes a URI it cannot parse, or the token it stumbled on, in its error message; the
    /// store's "cannot connect" error carries that message, so it must be scrubbed. Each of these
    /// fails inside libpq before any connection is tried.
    func testLibpqMessagesAboutABadURLDoNotCarryItsPassword() {
        for url in ["postgres://as4gw:S3cret@[::1/as4gw",             // the whole URI quoted
                    "postgres://as4gw:S3cret@[::1]x/as4gw",           // the whole URI quoted
                    "postgres://as4gw:S3cr%zzet@127.0.0.1/as4gw",     // the password token quoted
                    "postgres://as4gw@127.0.0.1/as4gw?password=S3cr%zzet",
                    "postgres://as4gw:S3cret@127.0.0.1/as4gw?sslmode"] {
            XCTAssertThrowsError(try PostgresConnection(url: url, connectTimeout: 1), url) { error in
                let text = "\(error)"
                XCTAssertFalse(text.contains("S3cr"), "\(url): \(text)")
                XCTAssertTrue(text.contains("***") || text.contains("unparsable URL hidden"), "\(url): \(text)")
            }
        }
    }
}
