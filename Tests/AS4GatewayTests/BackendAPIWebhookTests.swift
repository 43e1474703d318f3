import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Notifications pushed to a connection's webhook, signed with HMAC-SHA256 and checked by an
/// independent receiver (Python's hmac), retried after the receiver's failures.
final class BackendAPIWebhookTests: XCTestCase {
    func testNotificationsArePushedSignedAndRetried() throws {
        let sender = "DVS@90000048472", recipient = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(recipient, ownerId: "40003032949", kind: "company")])
        let sinkPort = GatewayHarness.freePort()
        let data = h.nodes["gw-a"]!.data
        let added = try GatewayProcess.run(["connections", "add", "pushed", "--address", recipient, "--webhook", "http://127.0.0.1:\(sinkPort)/hook",
                                            "--data", data])
        XCTAssertEqual(added.status, 0, added.stderr)
        let secret = try XCTUnwrap(added.json?["webhookSecret"] as? String)
        XCTAssertEqual(secret.count, 64)
        XCTAssertEqual(try GatewayProcess.run(["connections", "add", "bad", "--address", recipient, "--webhook", "ftp://x", "--data", data]).status, 2)

        let log = h.root.appendingPathComponent("webhook.jsonl").path
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sink.arguments = ["python3", GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/webhook_sink.py").path,
                          String(sinkPort), secret, log, "2"]
        try sink.run()
        defer { sink.terminate(); sink.waitUntilExit() }
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        try h.start("gw-a")

        let sent = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [recipient]), files: [("n.txt", [1])])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        var lines: [[String: Any]] = []
        try h.waitUntil(timeout: 20, "the webhook to take the notification") {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return lines.contains { ($0["status"] as? Int) == 204 }
        }
        XCTAssertEqual(lines.map { $0["status"] as? Int }, [503, 503, 204], "two failures, then delivered once")
        XCTAssertTrue(lines.allSatisfy { $0["valid"] as? Bool == true }, "every push signed with the connection's secret: \(lines)")
        let items = ((lines.last?["body"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
        XCTAssertEqual(items.map { $0["kind"] as? String }, ["newMessage"])
        XCTAssertEqual(items.first?["messageId"] as? String, id)
        XCTAssertTrue(h.nodes["gw-a"]!.log.contains("event=webhook-failed"), "failures are logged")
        // Delivered once: nothing more is pushed for it.
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual((try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n").count, 3)
    }
}
