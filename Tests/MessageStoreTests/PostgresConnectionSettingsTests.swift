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
}
