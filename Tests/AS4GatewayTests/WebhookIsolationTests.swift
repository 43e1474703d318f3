import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One DMS webhook that never answers must not hold up the others: connection "a-hung" (pushed
/// first, by name) points at a listener that takes the connection and never replies, so each of
/// its POSTs waits for the 30 s request timeout; connection "b-live" points at a receiver that
/// answers at once and gets its notifications within seconds all the same, in order.
final class WebhookIsolationTests: XCTestCase {
    static let sender = "DVS@90000048472", hung = "_DEFAULT@40003032949", live = "_DEFAULT@40003000001"

    /// A loopback listener whose connections the kernel accepts and nobody ever reads: its port,
    /// and the descriptor to close.
    static func silentListener() throws -> (port: UInt16, fd: Int32) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard fd >= 0, bound == 0, listen(fd, 64) == 0 else { throw HarnessTimeout(description: "silent listener: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (UInt16(bigEndian: address.sin_port), fd)
    }

    func testAWebhookThatNeverAnswersDoesNotDelayAnotherConnections() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.hung, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(Self.live, ownerId: "40003000001", kind: "company")])
        let config = try h.file("timeouts.json", Array("{\"requestTimeoutSeconds\": 30}".utf8))
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let data = h.nodes["gw-a"]!.data
        let silent = try Self.silentListener()
        defer { close(silent.fd) }
        let sinkPort = GatewayHarness.freePort()
        XCTAssertEqual(try GatewayProcess.run(["connections", "add", "a-hung", "--address", Self.hung, "--webhook",
                                               "http://127.0.0.1:\(silent.port)/hook", "--data", data]).status, 0)
        let added = try GatewayProcess.run(["connections", "add", "b-live", "--address", Self.live, "--webhook",
                                            "http://127.0.0.1:\(sinkPort)/hook", "--data", data])
        let secret = try XCTUnwrap(added.json?["webhookSecret"] as? String, added.stderr)
        let log = h.root.appendingPathComponent("webhook.jsonl").path
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sink.arguments = ["python3", GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/webhook_sink.py").path,
                          String(sinkPort), secret, log, "0"]
        try sink.run()
        defer { sink.terminate(); sink.waitUntilExit() }
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms", addresses: [Self.sender]))
        try h.start("gw-a")
        func pushed() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").flatMap { line -> [String] in
                let push = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                return ((push?["body"] as? [String: Any])?["items"] as? [[String: Any]] ?? []).compactMap { $0["messageId"] as? String }
            }
        }

        // Both connections get a newMessage; a-hung's POST starts first and hangs.
        let first = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.hung, Self.live]), files: [("1.txt", [1])])
        XCTAssertEqual(first.status, 202, first.text)
        let firstId = try XCTUnwrap(first.json["messageId"] as? String)
        let started = Date()
        try h.waitUntil(timeout: 60, "b-live's first notification") { pushed().contains(firstId) }
        let waited = Date().timeIntervalSince(started)
        XCTAssertLessThan(waited, 8, "b-live waited \(waited) s behind a-hung's 30 s POST")

        // While a-hung's POST still hangs, b-live's next notification comes as quickly, after the first.
        let second = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.live]), files: [("2.txt", [2])])
        let secondId = try XCTUnwrap(second.json["messageId"] as? String)
        let again = Date()
        try h.waitUntil(timeout: 60, "b-live's second notification") { pushed().contains(secondId) }
        XCTAssertLessThan(Date().timeIntervalSince(again), 8)
        XCTAssertEqual(pushed(), [firstId, secondId], "each once, in order")
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "all of it while a-hung's first POST was still waiting")
    }
}
