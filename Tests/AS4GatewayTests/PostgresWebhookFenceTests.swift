import Foundation
import XCTest

/// The reviewer's reproduction: two nodes on one PostgreSQL store, a slow webhook receiver, and
/// PostgreSQL restarted while a push is under way. The restart ends the job lock of the pushing
/// node; the other node must not send the same batch meanwhile, and the first node's answer is
/// recorded, so the notification reaches the receiver once.
final class PostgresWebhookFenceTests: XCTestCase {
    func testADatabaseRestartDuringAPushSendsTheBatchOnce() throws {
        let sender = "DVS@90000048472", recipient = "_DEFAULT@40003032949"
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        let config = h.root.appendingPathComponent("gw-a-postgres.json").path
        try """
            {"store": "\(server.url)", "payloadDirectory": "\(h.root.path)/shared-payloads",
             "connectTimeoutSeconds": 0.5, "requestTimeoutSeconds": 10}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let second = GatewayHarness.Node(name: "gw-a", as4Port: GatewayHarness.freePort(), submitPort: GatewayHarness.freePort(),
                                         data: h.root.appendingPathComponent("data-gw-a-node2").path,
                                         logPath: h.root.appendingPathComponent("gw-a-node2.log").path)
        second.extraArguments = ["--party", "gw-a", "--config", config]
        h.nodes["gw-a-node2"] = second

        XCTAssertEqual(try GatewayProcess.run(["store", "migrate", "--config", config]).status, 0)
        let entries = try h.file("directory.json", Array("""
            {"addresses": [\(GatewayHarness.localEntry(sender, ownerId: "90000048472", kind: "institution")),
                           \(GatewayHarness.localEntry(recipient, ownerId: "40003032949", kind: "company"))]}
            """.utf8))
        XCTAssertEqual(try GatewayProcess.run(["directory", "import", entries, "--config", config]).status, 0)
        let sinkPort = GatewayHarness.freePort()
        let pushed = try GatewayProcess.run(["connections", "add", "pushed", "--address", recipient, "--webhook",
                                             "http://127.0.0.1:\(sinkPort)/hook", "--config", config])
        let secret = try XCTUnwrap(pushed.json?["webhookSecret"] as? String, pushed.stderr)
        let dms = try GatewayProcess.run(["connections", "add", "dms", "--address", sender, "--config", config])
        let token = try XCTUnwrap(dms.json?["token"] as? String, dms.stderr)

        let log = h.root.appendingPathComponent("webhook.jsonl").path
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sink.arguments = ["python3", GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/webhook_sink.py").path,
                          String(sinkPort), secret, log, "0", "6"]
        try sink.run()
        defer { sink.terminate(); sink.waitUntilExit() }
        try h.start("gw-a")
        try h.start("gw-a-node2")
        func pushes() -> [[String: Any]] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        let sent = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: token)
            .submit(metadata: BackendClient.metadata(from: sender, to: [recipient]), files: [("n.txt", [1])])
        XCTAssertEqual(sent.status, 202, sent.text)
        try h.waitUntil(timeout: 20, "the first push to reach the receiver") { !pushes().isEmpty }
        try server.restart()  // while the receiver takes 6 s to answer

        // Past the answer (6 s from the first push), and long enough for a second node's push
        // of the same batch, which the single-threaded receiver would record after the first.
        Thread.sleep(forTimeInterval: 12)
        let seen = pushes()
        XCTAssertEqual(seen.count, 1, "the batch went out once: \(seen)")
        XCTAssertTrue(seen.allSatisfy { $0["valid"] as? Bool == true })
        let logs = h.nodes["gw-a"]!.log + second.log
        XCTAssertEqual(logs.components(separatedBy: "event=webhook-delivered").count - 1, 1, "one node recorded it")
    }
}
