import Foundation
import MessageStore
import XCTest

/// Two nodes of one PostgreSQL store whose configuration leaves `payloadDirectory` at its per-node
/// default (`dataDirectory/payloads`): each would write payloads no other node can read. The
/// second node is refused at start, and by `serve --check-config`, with both directories named;
/// once the files move to a shared directory with their marker, both start.
final class PostgresPayloadDirectoryTests: XCTestCase {
    func testNodesThatDoNotShareTheirPayloadDirectoryAreRefused() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        let config = h.root.appendingPathComponent("gw-a-postgres.json").path
        try "{\"store\": \"\(server.url)\"}".write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let second = GatewayHarness.Node(name: "gw-a", as4Port: GatewayHarness.freePort(), submitPort: GatewayHarness.freePort(),
                                         data: h.root.appendingPathComponent("data-gw-a-node2").path,
                                         logPath: h.root.appendingPathComponent("gw-a-node2.log").path)
        second.extraArguments = ["--party", "gw-a", "--config", config]
        h.nodes["gw-a-node2"] = second
        let first = h.nodes["gw-a"]!
        func checkConfig(_ node: GatewayHarness.Node) throws -> GatewayProcess.Result {
            try GatewayProcess.run(["serve", "--check-config", "--config", config, "--party", "gw-a", "--data", node.data,
                                    "--pmode", h.pmodeDirectory])
        }

        let before = try checkConfig(first)
        XCTAssertEqual(before.status, 0, before.stderr)
        XCTAssertTrue(before.stderr.contains("the store records none yet"), before.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.data + "/payloads/.as4gw-store"), "the check writes nothing")
        try h.start("gw-a")
        XCTAssertTrue(first.log.contains("event=payload-directory"), first.log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: first.data + "/payloads/.as4gw-store"))
        XCTAssertEqual(try checkConfig(first).status, 0)

        let checked = try checkConfig(second)
        XCTAssertEqual(checked.status, 2, checked.stdout)
        XCTAssertTrue(checked.stderr.contains("payload directory \(second.data)/payloads is not the one the other nodes of this store use"),
                      checked.stderr)
        XCTAssertTrue(checked.stderr.contains("first recorded at \(first.data)/payloads"), checked.stderr)

        try h.start("gw-a-node2", waitForStart: false)
        let process = try XCTUnwrap(second.process)
        try h.waitUntil(timeout: 30, "node 2 to refuse to start") { !process.isRunning }
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(second.log.contains("event=start-failed reason=\"payload directory \(second.data)/payloads is not the one"), second.log)
        XCTAssertTrue(second.log.contains("set payloadDirectory to where it is mounted"), second.log)
        XCTAssertEqual(GatewayHarness.starts(in: second.log), 0)

        // The operator's fix: the payload files move to a directory both nodes mount, the marker
        // with them, and the configuration names it.
        h.stop("gw-a")
        let shared = h.root.appendingPathComponent("shared-payloads").path
        try FileManager.default.moveItem(atPath: first.data + "/payloads", toPath: shared)
        try "{\"store\": \"\(server.url)\", \"payloadDirectory\": \"\(shared)\"}".write(toFile: config, atomically: true, encoding: .utf8)
        XCTAssertEqual(try checkConfig(second).status, 0)
        try h.start("gw-a")
        try h.start("gw-a-node2")
    }
}
