import Foundation
@testable import MessageStore
import XCTest

/// Which store failures are worth the same call again (callers retry those, answer 503) and
/// which say the call can never succeed as asked (callers stop).
final class TransientStoreErrorTests: XCTestCase {
    // SQLite's primary result codes (sqlite3.h).
    let SQLITE_BUSY: Int32 = 5, SQLITE_IOERR: Int32 = 10, SQLITE_FULL: Int32 = 13, SQLITE_CONSTRAINT: Int32 = 19

    func testTransientAndPermanentFailures() {
        let transient: [StoreError] = [
            .connectionLost("cannot connect to postgres://as4gw@db/as4gw: Connection refused"),
            .connectionLost("server closed the connection unexpectedly (during COMMIT: the transaction may or may not have committed)"),
            .sqlite(code: SQLITE_BUSY, message: "database is locked", sql: nil),
            .sqlite(code: SQLITE_BUSY | (2 << 8), message: "database is locked", sql: nil),  // SQLITE_BUSY_SNAPSHOT
            .sqlite(code: SQLITE_FULL, message: "database or disk is full", sql: nil),
            .postgres(sqlState: "40001", message: "could not serialize access", sql: nil),
            .postgres(sqlState: "40P01", message: "deadlock detected", sql: nil),
            .postgres(sqlState: "53300", message: "too many connections", sql: nil),
            .postgres(sqlState: "53100", message: "could not extend file", sql: nil),
            .io(operation: "write", path: "/data/payloads/x", errno: ENOSPC),
        ]
        for error in transient { XCTAssertTrue(error.isTransient, "\(error)") }

        let permanent: [StoreError] = [
            .leaseNotHeld(messageId: "m", owner: "node-1/w0", holder: "node-2/w1"),
            .illegalTransition(messageId: "m", from: .submitted, to: .delivered),
            .notFound(messageId: "m", direction: .outbound),
            .invalidArgument("limit must be positive"),
            .closed,
            .sqlite(code: SQLITE_CONSTRAINT, message: "UNIQUE constraint failed", sql: nil),
            .sqlite(code: SQLITE_IOERR, message: "disk I/O error", sql: nil),
            .postgres(sqlState: "23505", message: "duplicate key", sql: nil),
            .io(operation: "fdatasync", path: "/data/messages.sqlite-wal", errno: EIO),
        ]
        for error in permanent { XCTAssertFalse(error.isTransient, "\(error)") }
    }

    func testOnlyALostOrRefusedConnectionIsUnreachable() {
        XCTAssertTrue(StoreError.connectionLost("cannot connect").isUnreachable)
        XCTAssertFalse(StoreError.sqlite(code: SQLITE_BUSY, message: "database is locked", sql: nil).isUnreachable)
        XCTAssertFalse(StoreError.closed.isUnreachable)
        XCTAssertTrue(isTransientStoreFailure(StoreError.connectionLost("x")))
        XCTAssertFalse(isTransientStoreFailure(CocoaError(.fileNoSuchFile)), "not a store error")
    }
}
