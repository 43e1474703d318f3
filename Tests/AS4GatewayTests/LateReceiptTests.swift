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

    /// gw-b runs with the institution's mailbox; gw-a sends to it through the proxy (in `mode`,
    /// with the `hold` arguments), with `retries` retries for documents.
    func start(retries: Int, hold: [String], mode: String = "hold") throws {
        harness = try GatewayHarness()
        try harness.configure(["gw-a", "gw-b"], legs: [.init(), .init(action: "EAddressDocument", retries: retries, interval: 1),
                                                     .init(action: "EAddressStatus")])
        try harness.importDirectory("gw-a", [harness.remoteEntry(Self.institution, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        try harness.importDirectory("gw-b", [GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        dms = try BackendClient(port: harness.nodes["gw-a"]!.submitPort, token: try harness.addConnection("gw-a", name: "dms", addresses: [Self.sender]))
        reader = try BackendClient(port: harness.nodes["gw-b"]!.submitPort,
                                   token: try harness.addConnection("gw-b", name: "institution", addresses: [Self.institution]))
        try harness.start("gw-b")
        proxy = try harness.startAnswerProxy(inFrontOf: "gw-b", mode: mode, extra: hold, log: proxyLog)
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
        get throws { try feedItems.map { "\($0["kind"]!)" } }
    }

    var feedItems: [[String: Any]] {
        get throws { (try dms.get("/api/v1/notifications").json["items"] as? [[String: Any]]) ?? [] }
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
        // The start names what it gave back, not only how many.
        let released = harness.nodes["gw-a"]!.log.split(separator: "\n").filter { $0.contains("event=leases-released") }
        XCTAssertEqual(released.count, 1, harness.nodes["gw-a"]!.log)
        XCTAssertTrue(released.first?.contains(message.metadata.messageId) ?? false, "\(released)")
        XCTAssertTrue(proxyText.contains("2 forwarded 200"), proxyText)
        XCTAssertEqual(try recipient(id)["sent"] as? Bool, true)
        XCTAssertFalse(try feed.contains("failed"))
    }

    /// What the sender's DMS is told of a message gw-b took but whose receipt never came: the
    /// answer to the resend (phase4's "already received", by the proxy) fails it at once as
    /// `ReceiptLost`, said so in its history, its `failed` notification and its statement, and
    /// not as a refusal: gw-b holds the document.
    func assertReceiptLost(_ id: String) throws {
        let message = try as4()
        XCTAssertEqual(message.status, .failed)
        XCTAssertEqual(message.outbound?.lastError?.code, "ReceiptLost")
        XCTAssertEqual(message.outbound?.attempts, 2, "the third attempt the agreement allows is not made")
        let said = "ReceiptLost: the receiver reports it already holds this message (its receipt to an earlier attempt was lost): no proof of delivery"
        let view = try recipient(id)
        XCTAssertTrue(((view["events"] as? [[String: Any]])?.last?["detail"] as? String ?? "").hasPrefix(said), "\(view)")
        XCTAssertEqual(view["sent"] as? Bool, false)
        XCTAssertTrue((view["sentStatement"] as? String ?? "").contains("(status Failed). The AS4 message failed: " + said), "\(view)")
        let notice = try XCTUnwrap(try feedItems.last)
        XCTAssertEqual(notice["kind"] as? String, "failed")
        XCTAssertTrue((notice["detail"] as? String ?? "").hasPrefix(said), "\(notice)")
        XCTAssertNotNil(try harness.message("gw-b", message.metadata.messageId, .inbound), "gw-b holds it")
    }

    /// gw-b's receipt to the first attempt is lost on the way (503); phase4 answers the
    /// resend with "already received" (from 2.6 in its ErrorDetail).
    func testAResendTheReceiverAlreadyHoldsEndsReceiptLost() throws {
        try start(retries: 2, hold: ["--wording", "new"], mode: "duplicate")
        let id = try submit()
        try harness.waitUntil(timeout: 30, "the recipient to be Failed") { try self.status(id) == "Failed" }
        try assertReceiptLost(id)
        XCTAssertTrue(proxyText.contains("1 lost 503") && proxyText.contains("2 already-received 200"), proxyText)
        XCTAssertFalse(proxyText.contains("\n3 "), proxyText)
    }

    /// The receipt to the only attempt is late: while gw-b's answer is held, a claimer whose
    /// clock is ten minutes ahead fails the message, an operator sends it again, and that resend
    /// (the first of its new attempt budget, but not the message's first send) gets phase4's
    /// "already received": ReceiptLost. Then the held receipt comes and makes it Delivered, and
    /// the DMS learns it was sent after all.
    func testAReceiptLostMessageIsDeliveredByItsLateReceipt() throws {
        let releaseFile = FileManager.default.temporaryDirectory.appendingPathComponent("release-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: releaseFile) }
        try start(retries: 0, hold: ["--release-file", releaseFile], mode: "duplicate")
        let id = try submit()
        try harness.waitUntil(timeout: 20, "gw-b to take the document") { self.proxyText.contains("1 holding 200") }
        let store = try harness.store("gw-a")
        XCTAssertEqual(try store.reclaimExpiredLeases(now: Date().addingTimeInterval(600)), 1)
        XCTAssertEqual(try as4().status, .failed)
        try store.retryFailed(messageId: try as4().metadata.messageId, at: Date())
        store.close()
        try harness.waitUntil(timeout: 30, "the resend to fail ReceiptLost") { try self.as4().outbound?.lastError?.code == "ReceiptLost" }
        XCTAssertEqual(try as4().status, .failed)
        XCTAssertTrue(proxyText.contains("2 already-received 200"), proxyText)
        try harness.waitUntil(timeout: 20, "the recipient to be Failed") { try self.status(id) == "Failed" }

        FileManager.default.createFile(atPath: releaseFile, contents: Data())
        try harness.waitUntil(timeout: 30, "the late receipt to be recorded") { try self.status(id) == "Accepted" }
        let message = try as4()
        XCTAssertEqual(message.status, .delivered)
        XCTAssertNotNil(message.receipt)
        XCTAssertTrue(try codes(message).contains("late-receipt"))
        let view = try recipient(id)
        XCTAssertEqual(view["sent"] as? Bool, true, "\(view)")
        XCTAssertTrue(((view["events"] as? [[String: Any]])?.last?["detail"] as? String ?? "").contains("delivered after all"), "\(view)")
        XCTAssertEqual(try feed.suffix(2), ["failed", "accepted"])
        XCTAssertFalse(proxyText.contains("\n3 "), proxyText)
    }
}
