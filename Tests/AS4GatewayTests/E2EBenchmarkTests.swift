import Foundation
import XCTest

/// `as4gw bench e2e` end to end through the built binary: the figures are present and every
/// message was delivered. No timing is asserted; a benchmark is read, not unit-tested.
final class E2EBenchmarkTests: XCTestCase {
    func testFiftyMessagesAllDeliveredWithFigures() throws {
        let r = try GatewayProcess.run(["bench", "e2e", "--messages", "50", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json, "not one JSON object: \(r.stdout)")
        func number(_ key: String) -> Double? { (json[key] as? NSNumber)?.doubleValue }
        XCTAssertEqual(number("messages"), 50)
        XCTAssertEqual(number("delivered"), 50)
        XCTAssertEqual(number("failed"), 0)
        for key in ["msgs_per_s", "latency_p50_ms", "latency_p99_ms", "peak_rss_a_mb", "peak_rss_b_mb", "raw_rsa2048_sign_per_s"] {
            let value = try XCTUnwrap(number(key), "missing \(key) in \(r.stdout)")
            XCTAssertGreaterThan(value, 0, key)
        }
        XCTAssertLessThanOrEqual(try XCTUnwrap(number("latency_p50_ms")), try XCTUnwrap(number("latency_p99_ms")))
    }
}

/// `as4gw bench e2e --nodes 2` on a throw-away PostgreSQL: gateway A runs as two nodes, every
/// message is delivered, and the SQLite single-node baseline is printed beside.
final class E2ENodesBenchmarkTests: XCTestCase {
    func testTwoNodesOnPostgreSQLPrintTheirFiguresBesideTheSQLiteBaseline() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let r = try GatewayProcess.run(["bench", "e2e", "--messages", "40", "--nodes", "2", "--store", server.url, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json, "not one JSON object: \(r.stdout)")
        func number(_ key: String) -> Double? { (json[key] as? NSNumber)?.doubleValue }
        XCTAssertEqual(number("nodes_a"), 2)
        XCTAssertEqual(number("delivered"), 40)
        XCTAssertEqual(number("sqlite_1node_delivered"), 40)
        for key in ["msgs_per_s", "latency_p99_ms", "sqlite_1node_msgs_per_s", "sqlite_1node_latency_p99_ms"] {
            XCTAssertGreaterThan(try XCTUnwrap(number(key), "missing \(key) in \(r.stdout)"), 0, key)
        }
    }

    func testSeveralNodesWithoutASharedStoreAreAUsageError() throws {
        let r = try GatewayProcess.run(["bench", "e2e", "--nodes", "2"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--nodes"), r.stderr)
    }
}
