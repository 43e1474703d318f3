@testable import AS4Gateway
import Foundation
import HTTPClient
import MessageStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The mailbox worker failing for a while after a receipt: B's payload directory is a full
/// tmpfs, so taking in a received document (its inline payload written out as a file) fails
/// every round, each time naming a new random file. The failure is logged once, not every
/// second; /readyz says not ready once it lasts past the configured bound; when space returns
/// the document is taken in and both recover. Mounting needs root; skipped loudly otherwise.
final class MailboxWorkerFailureTests: XCTestCase {
    var harness: GatewayHarness?
    var mountPoint: String?

    override func tearDown() {
        if let harness { for node in harness.nodes.values { harness.stop(node, signal: SIGKILL) } }
        if let mountPoint { _ = try? DiskFullTests.run("/bin/umount", [mountPoint]) }
        harness = nil
    }

    func testAFailingMailboxWorkerLogsOnceAndTurnsReadinessOffAfterItsBound() throws {
        guard geteuid() == 0 else {
            print("*** SKIPPED MailboxWorkerFailureTests: mounting a tmpfs needs root (CI runs as root) ***")
            throw XCTSkip("mounting a tmpfs needs root")
        }
        let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        harness = h
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(company, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(company, ownerId: "40003032949", kind: "company")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "a", addresses: [sender]))
        let dmsB = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "b", addresses: [company]))
        let b = h.nodes["gw-b"]!
        let config = h.root.appendingPathComponent("b-admin.json").path
        // The disk check is off: it would fail at once on the full payload folder, and this test
        // is about the mailbox worker's own bound (DiskFullTests covers the disk check).
        try "{\"adminListener\": {\"address\": \"127.0.0.1\", \"port\": \(b.adminPort), \"mailboxWorkerFailingSeconds\": 3, \"minimumFreeBytes\": 0}}"
            .write(toFile: config, atomically: true, encoding: .utf8)
        b.extraArguments = ["--config", config]
        let payloads = b.data + "/payloads"
        try FileManager.default.createDirectory(atPath: payloads, withIntermediateDirectories: true)
        try DiskFullTests.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", payloads])
        mountPoint = payloads
        let filler = payloads + "/filler"
        _ = try DiskFullTests.fill(filler)
        try h.start("gw-a")
        try h.start("gw-b")

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [company]), files: [("a.txt", Array("Lēmums".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        // The receipt needs no payload file (a small payload is kept in the database): A holds it.
        try h.waitUntil(timeout: 30, "the receipt at A") { try dmsA.recipient(of: id)["status"] as? String == "Accepted" }
        try h.waitUntil(timeout: 30, "the worker failing at B") { b.log.contains("event=mailbox-worker ") }

        func readiness() throws -> (status: Int, body: String) {
            let r = try HTTPClient(configuration: HTTPClientConfiguration()).get(url: b.adminURL + "/readyz")
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let early = try readiness()
        XCTAssertEqual(early.status, 200, "a moment's failure does not count: \(early.body)")
        Thread.sleep(forTimeInterval: 5)
        let late = try readiness()
        XCTAssertEqual(late.status, 503, late.body)
        let checks = ((try JSONSerialization.jsonObject(with: Data(late.body.utf8)) as? [String: Any])?["checks"] as? [[String: Any]]) ?? []
        let worker = checks.first { $0["name"] as? String == "mailboxWorker" }
        XCTAssertEqual(worker?["ok"] as? Bool, false, late.body)
        XCTAssertTrue((worker?["detail"] as? String ?? "").contains("No space left on device"), late.body)
        let lines = b.log.split(separator: "\n").filter { $0.contains("event=mailbox-worker ") }
        XCTAssertEqual(lines.count, 1, "one line for the same failure, not one per second:\n\(lines.joined(separator: "\n"))")
        XCTAssertTrue(lines.first?.contains("No space left on device") ?? false, "the first line keeps the full reason")

        // Space returns: the document is taken in, the worker and readiness recover.
        try FileManager.default.removeItem(atPath: filler)
        try h.waitUntil(timeout: 30, "the document in the mailbox at B") {
            ((try dmsB.get("/api/v1/inbox?address=\(company)").json["items"] as? [[String: Any]]) ?? []).count == 1
        }
        try h.waitUntil(timeout: 10, "the recovery logged") { b.log.contains("event=mailbox-worker-recovered") }
        XCTAssertEqual(try readiness().status, 200)
    }
}
