import Foundation
import MessageStore
import Synchronization
import XCTest

/// `as4gw tail --store postgres://…`: the operator follows a PostgreSQL store's event history,
/// old events with `--from-start` and new ones as another client (a node, here the test) commits them.
final class PostgresTailTests: XCTestCase {
    func testTailFollowsAPostgreSQLStore() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let payloads = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-tail-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: payloads) }
        let store = try PostgresMessageStore(url: server.url, payloadDirectory: payloads, schema: .migrate)
        defer { store.close() }
        let t0 = Date()
        for id in ["pg-watched", "pg-other"] {
            _ = try store.enqueueOutbound(OutboundMessage(
                metadata: MessageMetadata(messageId: id, fromParty: "urn:ap:blue", toParty: "urn:ap:red", service: "urn:svc:invoice", action: "Submit"),
                endpoint: "https://partner.example/as4", contentType: "multipart/related", messagePath: "/msgs/\(id)",
                maxAttempts: 1, submittedAt: t0))
        }
        _ = try store.claimDue(now: t0 + 1, limit: 2, owner: "node-1", lease: 30)

        let output = Mutex(Data())
        let process = Process()
        process.executableURL = GatewayProcess.binary
        process.arguments = ["tail", "--store", server.url, "--message", "pg-watched", "--from-start"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            output.withLock { $0.append(chunk) }
        }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        func text() -> String { output.withLock { String(decoding: $0, as: UTF8.self) } }
        func waitFor(_ what: String) {
            let deadline = Date() + 15
            while !text().contains(what) && Date() < deadline { usleep(50_000) }
        }

        waitFor("status=Sending")
        XCTAssertTrue(text().contains("message_id=pg-watched direction=out status=Submitted"), text())

        // Committed after tail started: it must appear without a restart of tail.
        try store.markFailed(messageId: "pg-watched", owner: "node-1", error: DeliveryError(code: "EBMS:0301", reason: "no receipt"), at: Date())
        try store.markFailed(messageId: "pg-other", owner: "node-1", error: DeliveryError(code: "EBMS:0301", reason: "no receipt"), at: Date())
        waitFor("status=Failed")
        XCTAssertTrue(text().contains("level=error event=message-event message_id=pg-watched direction=out status=Failed code=EBMS:0301"), text())
        XCTAssertFalse(text().contains("pg-other"), "--message filters: \(text())")

        process.terminate()
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
    }
}
