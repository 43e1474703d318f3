import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM while what the gateway waits on has stopped answering: the process still leaves
/// within `shutdownGraceSeconds` (plus the time the stop itself takes), exit status 0, says what
/// it left behind, and a restart delivers every message accepted before, each once.
final class GracefulStopTests: XCTestCase {
    /// Short, so the tests are quick; the bound below leaves ample room over it.
    static let grace = 1.0
    static let exitBound: TimeInterval = 15

    func testSIGTERMLeavesOnTimeWhilePostgreSQLIsFrozenAndLosesNothing() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 100, interval: 1)])
        let config = harness.root.appendingPathComponent("gw-a-postgres.json").path
        try "{\"store\": \"\(server.url)\", \"shutdownGraceSeconds\": \(Self.grace)}".write(toFile: config, atomically: true, encoding: .utf8)
        harness.nodes["gw-a"]!.extraArguments = ["--config", config]
        try harness.start("gw-a")

        // gw-b is not running: the messages wait in the queue, their attempts failing each second.
        let doc = try harness.file("m.txt", Array("accepted before the database froze".utf8))
        let client = try HTTPClient(configuration: HTTPClientConfiguration())
        let ids = try (0..<3).map { _ in try harness.submit(from: "gw-a", to: "gw-b", files: [doc], client: client) }

        let frozen = try server.freeze()
        var thawed = false
        defer { if !thawed { server.thaw(frozen) } }
        // The mailbox worker (on its job session) and the two delivery workers (reading the queue
        // every half second) each send a statement that now waits in the frozen server, unread;
        // the webhook pusher waits for the job session. Three such connections: a worker is among them.
        try harness.waitUntil(timeout: 20, "gw-a's threads to wait on the frozen database") { LoopbackSocket.unanswered(atServerPort: server.port) >= 3 }

        let node = harness.nodes["gw-a"]!
        let exit = try stopAndWait(node, harness)
        XCTAssertEqual(exit, 0, node.log.suffix(3000).description)
        XCTAssertTrue(node.log.contains("event=stop-abandoned"), node.log.suffix(3000).description)
        XCTAssertTrue(node.log.contains("delivery worker"), "the line names the workers left waiting on the store: \(node.log.suffix(1500))")
        XCTAssertTrue(node.log.contains("event=stopped"))

        server.thaw(frozen)
        thawed = true
        try harness.start("gw-b")
        try harness.start("gw-a")
        let receiver = try harness.store("gw-b")
        defer { receiver.close() }
        try harness.waitUntil(timeout: 60, "the messages accepted before the stop to reach gw-b") {
            Set(try receiver.listMessages(status: nil, since: nil, direction: .inbound, limit: 100).map(\.metadata.messageId)) == Set(ids)
        }
        XCTAssertEqual(try receiver.listMessages(status: nil, since: nil, direction: .inbound, limit: 100).count, ids.count, "each stored once")
        let sender = try PostgresMessageStore(url: server.url, payloadDirectory: nil, schema: .existing)
        defer { sender.close() }
        try harness.waitUntil(timeout: 30, "gw-a to record the receipts") {
            try ids.allSatisfy { try sender.findMessage(id: $0, direction: .outbound)?.status == .delivered }
        }
    }

    /// A peer that accepts the connection and never answers: libcurl waits up to
    /// `requestTimeoutSeconds` (120 s here), the stop does not.
    func testSIGTERMLeavesOnTimeWhileAPeerNeverAnswersAndTheDeliveryIsKept() throws {
        let harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(retries: 3, interval: 1)])
        let peerPort = harness.nodes["gw-b"]!.as4Port
        let silent = try SilentListener(port: peerPort)
        let config = harness.root.appendingPathComponent("gw-a-grace.json").path
        try "{\"shutdownGraceSeconds\": \(Self.grace)}".write(toFile: config, atomically: true, encoding: .utf8)
        harness.nodes["gw-a"]!.extraArguments = ["--config", config]
        try harness.start("gw-a")
        let id = try harness.send(from: "gw-a", to: "gw-b", files: [try harness.file("m.txt", Array("to a silent peer".utf8))])
        // The TLS hello sits in the silent listener's backlog: the delivery is waiting on it.
        try harness.waitUntil(timeout: 20, "the delivery to reach the silent peer") { LoopbackSocket.unanswered(atServerPort: peerPort) > 0 }

        let node = harness.nodes["gw-a"]!
        let exit = try stopAndWait(node, harness)
        XCTAssertEqual(exit, 0, node.log.suffix(3000).description)
        XCTAssertTrue(node.log.contains("event=stop-abandoned"), node.log.suffix(3000).description)
        XCTAssertTrue(node.log.contains("delivering \(id)"), "the line names the delivery it cut off")

        silent.close()
        try harness.start("gw-b")
        try harness.start("gw-a")
        _ = try harness.waitFor("gw-a", id, .outbound, .delivered)
        let receiver = try harness.store("gw-b")
        defer { receiver.close() }
        XCTAssertEqual(try receiver.listMessages(status: nil, since: nil, direction: .inbound, limit: 100).map(\.metadata.messageId), [id])
    }

    /// SIGTERM, then the exit status once the process has left; fails (and kills it) when it is
    /// still running `exitBound` seconds later.
    private func stopAndWait(_ node: GatewayHarness.Node, _ harness: GatewayHarness,
                             file: StaticString = #filePath, line: UInt = #line) throws -> Int32 {
        let process = try XCTUnwrap(node.process)
        let signalled = Date()
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning, Date().timeIntervalSince(signalled) < Self.exitBound { Thread.sleep(forTimeInterval: 0.05) }
        defer { node.process = nil }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTFail("\(node.name) still running \(Self.exitBound) s after SIGTERM (grace \(Self.grace) s); log:\n\(node.log.suffix(3000))",
                    file: file, line: line)
            throw HarnessTimeout(description: "no exit after SIGTERM")
        }
        process.waitUntilExit()
        print("\(node.name) left \(String(format: "%.2f", Date().timeIntervalSince(signalled))) s after SIGTERM")
        return process.terminationStatus
    }
}
