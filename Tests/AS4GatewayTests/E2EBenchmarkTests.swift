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
        XCTAssertNotNil(number("client_cpu_ms_per_msg"))
    }

    /// Profile 2.0 (Ed25519 signatures, X25519 key agreement) end to end; an unknown profile is a usage error.
    func testProfile20MessagesAllDelivered() throws {
        let r = try GatewayProcess.run(["bench", "e2e", "--messages", "30", "--profile", "2.0", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json, "not one JSON object: \(r.stdout)")
        XCTAssertEqual((json["delivered"] as? NSNumber)?.intValue, 30)
        XCTAssertEqual((json["failed"] as? NSNumber)?.intValue, 0)
        let wrong = try GatewayProcess.run(["bench", "e2e", "--profile", "1.0"])
        XCTAssertEqual(wrong.status, 2)
        XCTAssertTrue(wrong.stderr.contains("--profile"), wrong.stderr)
    }

    /// `as4gw bench store`: the store's own figures, every step done (a failed step fails the run).
    func testStoreBenchmarkPrintsItsFigures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-bench-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try GatewayProcess.run(["bench", "store", "--messages", "200", "--concurrency", "4", "--dir", dir.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json, "not one JSON object: \(r.stdout)")
        for key in ["outbound_msgs_per_s", "outbound_cpu_us_per_msg", "outbound_handed_cpu_us_per_msg", "inbound_msgs_per_s",
                    "inbound_cpu_us_per_msg"] {
            XCTAssertGreaterThan((json[key] as? NSNumber)?.doubleValue ?? 0, 0, key)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "the store is removed afterwards")
        XCTAssertEqual(try GatewayProcess.run(["bench", "store", "--messages", "none"]).status, 2)
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
