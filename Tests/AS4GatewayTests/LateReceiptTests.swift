import Foundation
import MessageStore
import XCTest

/// A document from gw-a's DMS to a mailbox on gw-b, with the answer proxy (mode `hold`) in front
/// of gw-b holding gw-b's answer back while gw-a's own state moves on: its lease runs out, the
/// document's deadline passes, gw-a is killed. The receiver's signed receipt decides all the
/// same: a message it answered counts as sent, and the sender's DMS learns so.
final class LateReceiptTests: AnswerProxyTestCase {
    static let sender = "DVS@90000048472"
    static let institution = "_DEFAULT@90000048472"
    var dms: BackendClient!
    var reader: BackendClient!
    var proxyText: String { (try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? "" }

    /// gw-b runs with the institution's mailbox; gw-a sends to it through the proxy (its
    /// `hold` arguments), with `retries` retries for documents.
    func start(retries: Int, hold: [String]) throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(), .init(action: "EAddressDocument", retries: retries, interval: 1),
                                                     .init(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [harness.remoteEntry(Self.institution, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        try harness.importDirectory("gw-b", [GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        dms = try BackendClient(port: harness.nodes["gw-a"]!.submitPort, token: try harness.addConnection("gw-a", name: "dms", addresses: [Self.sender]))
        reader = try BackendClient(port: harness.nodes["gw-b"]!.submitPort,
                                   token: try harness.addConnection("gw-b", name: "institution", addresses: [Self.institution]))
        try harness.start("gw-b")
        proxy = try harness.startAnswerProxy(inFrontOf: "gw-b", mode: "hold", extra: hold, log: proxyLog)
        try harness.start("gw-a")
    }

    func submit(deliveryBy: Date? = nil) throws -> String {
        var metadata = BackendClient.metadata(from: Self.sender, to: [Self.institution])
        if let deliveryBy {
            metadata = String(metadata.dropLast()) + ", \"deliveryBy\": \"\(ISO8601DateFormatter().string(from: deliveryBy))\"}"
        }
        let sent = try dms.submit(metadata: metadata, files: [("d.txt", Array("late but there".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        return try XCTUnwrap(sent.json["messageId"] as? String)
    }

    func recipient(_ id: String) throws -> [String: Any] {
        try XCTUnwrap((try dms.get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]])?.first)
    }

    func status(_ id: String) throws -> String { try recipient(id)["status"] as? String ?? "" }

    /// gw-a's AS4 message carrying the document (the only one it sends in these tests).
    func as4() throws -> StoredMessage {
        let store = try harness.store("gw-a")
        defer { store.close() }
        return try XCTUnwrap(try store.listMessages(status: nil, since: nil, direction: .outbound, limit: 10)
            .first { $0.metadata.action == "EAddressDocument" })
    }

    func codes(_ m: StoredMessage) throws -> [String] {
        let store = try harness.store("gw-a")
        defer { store.close() }
        return try store.events(for: m.rowId).compactMap(\.code)
    }

    var feed: [String] {
        get throws { ((try dms.get("/api/v1/notifications").json["items"] as? [[String: Any]]) ?? []).map { "\($0["kind"]!)" } }
    }

    /// F1: while gw-b's answer to the only attempt is held (6 s), a claimer whose clock is ten
    /// minutes ahead (a clock step, or another node's skewed clock) judges the lease run out
    /// and fails the message, and the recipient becomes Failed; then the receipt arrives.
    func testAReceiptAfterTheMessageWasFailedMakesItDelivered() throws {
        try start(retries: 0, hold: ["--hold", "6"])
        let id = try submit()
        try harness.waitUntil(timeout: 20, "gw-b to take the document") { self.proxyText.contains("1 holding 200") }
        let store = try harness.store("gw-a")
        XCTAssertEqual(try store.reclaimExpiredLeases(now: Date().addingTimeInterval(600)), 1)
        store.close()
        XCTAssertEqual(try as4().status, .failed)
        try harness.waitUntil(timeout: 20, "the recipient to be Failed") { try self.status(id) == "Failed" }
        try harness.waitUntil(timeout: 30, "the late receipt to be recorded") { try self.status(id) == "Accepted" }
        let message = try as4()
        XCTAssertEqual(message.status, .delivered)
        XCTAssertNotNil(message.receipt)
        XCTAssertTrue(try codes(message).contains("late-receipt"))
        let view = try recipient(id)
        XCTAssertEqual(view["sent"] as? Bool, true, "\(view)")
        XCTAssertTrue((view["sentStatement"] as? String ?? "").hasPrefix("Sent on"), "\(view)")
        XCTAssertTrue(((view["events"] as? [[String: Any]])?.last?["detail"] as? String ?? "").contains("delivered after all"), "\(view)")
        XCTAssertEqual(try feed.suffix(2), ["failed", "accepted"])
        XCTAssertEqual(try dms.get("/api/v1/messages/\(id)/receipt").json["sent"] as? Bool, true)
    }

    /// F2: the deadline passes while the first attempt is under way. The recipient is Failed at
    /// the deadline; the attempt's receipt then makes it Accepted, and gw-b's reports of the
    /// reading and the answer count. No second attempt is made.
    func testADeadlineDuringAnAttemptIsRepairedByItsReceipt() throws {
        try start(retries: 5, hold: ["--hold", "6"])
        let id = try submit(deliveryBy: Date().addingTimeInterval(2))
        try harness.waitUntil(timeout: 20, "the deadline to act") { try self.status(id) == "Failed" }
        try harness.waitUntil(timeout: 30, "the receipt of the attempt under way") { try self.status(id) == "Accepted" }
        let message = try as4()
        XCTAssertEqual(message.status, .delivered)
        XCTAssertEqual(message.outbound?.attempts, 1)
        XCTAssertEqual(try codes(message).filter { ["withdrawn", "late-receipt"].contains($0) }, ["withdrawn", "late-receipt"])

        // The institution reads and accepts at gw-b; its reports are applied at gw-a.
        try harness.waitUntil(timeout: 30, "the document in the mailbox") {
            ((try self.reader.get("/api/v1/inbox?address=\(Self.institution)").json["items"] as? [[String: Any]]) ?? []).count == 1
        }
        XCTAssertEqual(try reader.get("/api/v1/messages/\(id)/files/1").status, 200)
        XCTAssertEqual(try reader.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\"}").status, 200)
        try harness.waitUntil(timeout: 30, "the answer at gw-a") { try self.status(id) == "RecipientAccepted" }
        XCTAssertEqual(try recipient(id)["sent"] as? Bool, true)
        // (A "read" report overtaken by the answer is logged not applied; the answer records it.)
        let history = (try recipient(id)["events"] as? [[String: Any]])?.compactMap { $0["status"] as? String } ?? []
        XCTAssertEqual(history, ["Submitted", "Failed", "Accepted", "Delivered", "RecipientAccepted"])
        XCTAssertFalse(proxyText.contains("\n2 "), proxyText)
    }

    /// F2: the attempt under way at the deadline ends without a receipt (503 after 5 s): the
    /// message fails with the deadline's reason and no further attempt starts.
    func testADeadlineDuringAnAttemptStopsFurtherAttempts() throws {
        try start(retries: 5, hold: ["--hold", "5", "--held-status", "503"])
        let id = try submit(deliveryBy: Date().addingTimeInterval(2))
        try harness.waitUntil(timeout: 20, "the deadline to act") { try self.status(id) == "Failed" }
        try harness.waitUntil(timeout: 20, "the attempt under way to end") { self.proxyText.contains("1 held 503") }
        Thread.sleep(forTimeInterval: 3)  // the P-Mode's retry interval is 1 s
        let message = try as4()
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.attempts, 1)
        XCTAssertEqual(message.outbound?.lastError?.code, "deadline")
        XCTAssertFalse(proxyText.contains("\n2 "), "no second attempt: \(proxyText)")
        XCTAssertEqual(try status(id), "Failed")
    }

    /// F3: gw-a is killed during its only attempt, after gw-b took the document; at restart the
    /// cut-off attempt is not counted, the message is sent again and gw-b answers the copy with
    /// its receipt.
    func testARestartDuringTheLastAttemptResendsIt() throws {
        try start(retries: 0, hold: ["--hold", "60"])
        let id = try submit()
        try harness.waitUntil(timeout: 20, "gw-b to take the document") { self.proxyText.contains("1 holding 200") }
        harness.stop("gw-a", signal: SIGKILL)
        try harness.start("gw-a")
        try harness.waitUntil(timeout: 30, "the resent copy's receipt") { try self.status(id) == "Accepted" }
        let message = try as4()
        XCTAssertEqual(message.status, .delivered)
        XCTAssertTrue(try codes(message).contains("restart-recovery"))
        XCTAssertTrue(proxyText.contains("2 forwarded 200"), proxyText)
        XCTAssertEqual(try recipient(id)["sent"] as? Bool, true)
        XCTAssertFalse(try feed.contains("failed"))
    }
}
