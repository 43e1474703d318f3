import Foundation
@testable import MessageStore
import XCTest

/// What every store connection asks libpq for, and that an operator's URL still decides.
final class PostgresConnectionSettingsTests: StoreTestCase {
    override class var backend: StoreBackend { .postgres }

    /// A database host that vanishes without a reset is noticed in about a minute, not after
    /// the kernel's quarter-hour retransmission timeout.
    func testEveryConnectionKeepsItsTCPConnectionAliveAndBoundsUnacknowledgedData() throws {
        let connection = try PostgresConnection(url: postgresURL)
        defer { connection.close() }
        XCTAssertEqual(connection.option("keepalives"), "1")
        XCTAssertEqual(connection.option("keepalives_idle"), "30")
        XCTAssertEqual(connection.option("keepalives_interval"), "10")
        XCTAssertEqual(connection.option("keepalives_count"), "3")
        XCTAssertEqual(connection.option("tcp_user_timeout"), "60000")
        XCTAssertEqual(connection.option("application_name"), "as4gw")
        XCTAssertNil(connection.option("no such option"))
        XCTAssertNoThrow(try connection.execute("SELECT 1"), "libpq accepts them all")
    }

    func testTheURLsOwnSettingsWin() throws {
        let connection = try PostgresConnection(url: postgresURL + "&keepalives_idle=5&tcp_user_timeout=0&connect_timeout=3")
        defer { connection.close() }
        XCTAssertEqual(connection.option("keepalives_idle"), "5")
        XCTAssertEqual(connection.option("tcp_user_timeout"), "0")
        XCTAssertEqual(connection.option("connect_timeout"), "3")
        XCTAssertEqual(connection.option("keepalives_count"), "3", "what the URL leaves out keeps ours")
        connection.close()
        XCTAssertNil(connection.option("keepalives_idle"), "a closed connection has no options")
    }

    func setting(_ name: String, on connection: PostgresConnection) throws -> String? {
        try connection.execute("SELECT current_setting($1) AS value", [name]).first?.optionalString("value")
    }

    /// No wait on the server is unbounded: a lock another session holds and never gives back,
    /// a statement that never ends and a session left idle inside its transaction each end in an
    /// error after their bound (`PostgresConnection.sessionBounds`), so no job step hangs holding
    /// its job lock.
    func testEverySessionBoundsItsWaitsOnTheServer() throws {
        let connection = try PostgresConnection(url: postgresURL)
        defer { connection.close() }
        XCTAssertEqual(try setting("lock_timeout", on: connection), "30s")
        XCTAssertEqual(try setting("statement_timeout", on: connection), "5min")
        XCTAssertEqual(try setting("idle_in_transaction_session_timeout", on: connection), "5min")
        // The pool's connections and the job session are opened by this same initializer.
    }

    /// Bounds the operator set (in the URL's options, or on the role or database) are kept; and a
    /// wait on a lock held by a stuck session ends in a transient error, not a hang.
    func testTheOperatorsBoundsWinAndABoundedWaitFailsTransiently() throws {
        // The test's URL names its schema in `options` already: the bound joins it there.
        let connection = try PostgresConnection(url: postgresURL.replacingOccurrences(of: "options=", with: "options=-c%20lock_timeout%3D300ms%20"))
        defer { connection.close() }
        XCTAssertEqual(try setting("lock_timeout", on: connection), "300ms")
        XCTAssertEqual(try setting("statement_timeout", on: connection), "5min", "what the URL leaves out keeps ours")

        let holder = try PostgresConnection(url: postgresURL)
        defer { holder.close() }
        try holder.executeScript("CREATE TABLE IF NOT EXISTS bounds_test (id INTEGER PRIMARY KEY); INSERT INTO bounds_test VALUES (1) ON CONFLICT DO NOTHING")
        // The holder freezes inside its transaction, the row locked.
        try holder.executeScript("BEGIN; SELECT * FROM bounds_test WHERE id = 1 FOR UPDATE")
        XCTAssertThrowsError(try connection.execute("UPDATE bounds_test SET id = 1 WHERE id = 1")) { error in
            XCTAssertTrue((error as? StoreError)?.isTransient ?? false, "\(error)")
        }
        try holder.executeScript("ROLLBACK; DROP TABLE bounds_test")
    }
}
