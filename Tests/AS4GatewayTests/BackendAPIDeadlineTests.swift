import Foundation
import MessageStore
import XCTest

/// `deliveryBy` passing: a recipient whose access point never took the document becomes Failed
/// (its queued AS4 message withdrawn); one that holds it unread becomes DeliveryDelayed and may
/// still read and answer; one that read it in time stays Delivered and only its answer is late.
/// The sender is notified of each.
final class BackendAPIDeadlineTests: XCTestCase {
    func testDeadlineFailsTheUnsentAndDelaysTheUnanswered() throws {
        let sender = "DVS@90000048472", local = "_DEFAULT@40003032949", remote = "_DEFAULT@90000048472"
        let h = try GatewayHarness()
        // gw-b never starts; a long retry budget, so only the deadline can end the attempt.
        let legs = [GatewayHarness.Leg(), .init(action: "EAddressDocument", retries: 50, interval: 1), .init(action: "EAddressStatus")]
        try h.configure(["gw-a", "gw-b"], legs: legs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(local, ownerId: "40003032949", kind: "company"),
                                       h.remoteEntry(remote, ownerId: "90000048472", kind: "institution", party: "gw-b")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let company = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "company", addresses: [local]))
        try h.start("gw-a")

        let deadline = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3))
        let metadata = "{\"sender\": \"\(sender)\", \"recipients\": [\"\(local)\", \"\(remote)\"], \"subject\": \"due\", \"deliveryBy\": \"\(deadline)\"}"
        let sent = try dms.submit(metadata: metadata, files: [("d.txt", Array("due".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        func statuses() throws -> [String: String] {
            let list = (try dms.get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]]) ?? []
            return Dictionary(uniqueKeysWithValues: list.map { ($0["address"] as! String, $0["status"] as! String) })
        }
        XCTAssertEqual(try statuses(), [local: "Accepted", remote: "Submitted"], "nothing before the deadline")
        try h.waitUntil(timeout: 20, "the deadline to act") { try statuses() == [local: "DeliveryDelayed", remote: "Failed"] }

        let feed = ((try dms.get("/api/v1/notifications").json["items"] as? [[String: Any]]) ?? []).map { "\($0["kind"]!) \($0["recipient"]!)" }
        XCTAssertTrue(feed.contains("deliveryDelayed \(local)"), "\(feed)")
        XCTAssertTrue(feed.contains("failed \(remote)"), "\(feed)")
        let remoteView = try XCTUnwrap((try dms.get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]])?.first { $0["address"] as? String == remote })
        XCTAssertTrue(((remoteView["events"] as? [[String: Any]])?.last?["detail"] as? String ?? "").contains("by the deadline"), "\(remoteView)")
        let receipts = try dms.get("/api/v1/messages/\(id)/receipt").json
        XCTAssertEqual(receipts["sent"] as? Bool, false, "no receipt, not sent")

        // The queued AS4 message was withdrawn.
        let store = try h.store("gw-a")
        defer { store.close() }
        let as4 = try XCTUnwrap(try store.listMessages(status: nil, since: nil, direction: .outbound, limit: 10).first)
        XCTAssertEqual(as4.status, .failed)
        XCTAssertEqual(as4.outbound?.lastError?.code, "deadline")
        // The log says which AS4 message was withdrawn, why, and the deadline. The deadline line
        // follows the recipient's update the statuses showed: waited for, not read at once.
        try? h.waitUntil(timeout: 30, "A to log the Failed deadline") {
            h.nodes["gw-a"]!.log.split(separator: "\n").contains { $0.contains("event=document-deadline") && $0.contains("status=Failed") }
        }
        let lines = h.nodes["gw-a"]!.log.split(separator: "\n")
        let withdrawn = lines.filter { $0.contains("event=document-withdrawn") }
        XCTAssertTrue(withdrawn.contains { $0.contains("message_id=\(as4.metadata.messageId)") && $0.contains("document_id=\(id)") && $0.contains("status=Failed") },
                      h.nodes["gw-a"]!.log)
        let failedAtDeadline = lines.first { $0.contains("event=document-deadline") && $0.contains("status=Failed") }
        XCTAssertTrue(failedAtDeadline?.contains("message_id=\(as4.metadata.messageId)") ?? false, "\(String(describing: failedAtDeadline))")
        XCTAssertTrue(failedAtDeadline?.contains("deadline=") ?? false, "\(String(describing: failedAtDeadline))")
        XCTAssertTrue(failedAtDeadline?.contains("by the deadline") ?? false, "the reason: \(String(describing: failedAtDeadline))")

        // Late, the company still reads and answers.
        XCTAssertEqual(try company.get("/api/v1/messages/\(id)/files/1").status, 200)
        XCTAssertEqual(try company.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\"}").status, 200)
        XCTAssertEqual(try statuses(), [local: "RecipientAccepted", remote: "Failed"])
    }

    /// A recipient who read before the deadline is never marked as not having read it: it stays
    /// Delivered, the sender hears `answerDelayed` (not "not read"), and the sealed evidence says
    /// Delivered. One who read after it stays DeliveryDelayed with its reading recorded.
    func testTheDeadlineTellsAReadingInTimeFromALateOne() throws {
        let sender = "DVS@90000048472", early = "_DEFAULT@40003032949", late = "_DEFAULT@40003000002"
        let h = try GatewayHarness()
        // Mailboxes only: gw-b is in the P-Modes and never starts.
        try h.configure(["gw-a", "gw-b"])
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(early, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(late, ownerId: "40003000002", kind: "company")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let first = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "first", addresses: [early]))
        let second = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "second", addresses: [late]))
        try h.start("gw-a")

        // Whole seconds, as the deadline is sent: the gateway judges by what it was given.
        let due = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 6).rounded(.down))
        let metadata = "{\"sender\": \"\(sender)\", \"recipients\": [\"\(early)\", \"\(late)\"], \"subject\": \"due\", "
            + "\"deliveryBy\": \"\(ISO8601DateFormatter().string(from: due))\"}"
        let sent = try dms.submit(metadata: metadata, files: [("d.txt", Array("due".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        XCTAssertEqual(try first.get("/api/v1/messages/\(id)/files/1").status, 200)
        func time(_ text: String) throws -> Date {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return try XCTUnwrap(f.date(from: text), text)
        }
        func recipients() throws -> [String: [String: Any]] {
            let list = (try dms.get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]]) ?? []
            return Dictionary(uniqueKeysWithValues: list.map { ($0["address"] as! String, $0) })
        }
        let readInTime = try XCTUnwrap(try recipients()[early]?["retrievedAt"] as? String)
        try XCTSkipIf(try time(readInTime) >= due, "the machine took longer than the deadline to read")
        try h.waitUntil(timeout: 30, "the deadline to act") { try recipients()[late]?["status"] as? String == "DeliveryDelayed" }
        try h.waitUntil(timeout: 10, "the late answer to be noted") {
            ((try recipients()[early]?["events"] as? [[String: Any]]) ?? []).contains { $0["status"] as? String == "AnswerDelayed" }
        }
        var view = try recipients()
        XCTAssertEqual(view[early]?["status"] as? String, "Delivered", "read in time: never 'not read by the deadline'")
        let answerNote = try XCTUnwrap((view[early]?["events"] as? [[String: Any]])?.last?["detail"] as? String)
        XCTAssertTrue(answerNote.contains("before the deadline") && answerNote.contains("not answered"), answerNote)
        XCTAssertFalse(answerNote.contains("not read"), answerNote)

        // Read late: the reading is recorded with its time, the delay stays.
        XCTAssertEqual(try second.get("/api/v1/messages/\(id)/files/1").status, 200)
        view = try recipients()
        XCTAssertEqual(view[late]?["status"] as? String, "DeliveryDelayed")
        let readLate = try XCTUnwrap(view[late]?["retrievedAt"] as? String)
        XCTAssertGreaterThanOrEqual(try time(readLate), due)
        XCTAssertEqual(((view[late]?["events"] as? [[String: Any]]) ?? []).compactMap { $0["status"] as? String },
                       ["Accepted", "DeliveryDelayed", "Delivered"])

        let feed = ((try dms.get("/api/v1/notifications").json["items"] as? [[String: Any]]) ?? [])
            .map { "\($0["kind"]!) \($0["recipient"]!) \($0["detail"] as? String ?? "")" }
        XCTAssertTrue(feed.contains { $0.hasPrefix("answerDelayed \(early) read at ") }, "\(feed)")
        XCTAssertFalse(feed.contains { $0.hasPrefix("deliveryDelayed \(early)") }, "\(feed)")
        XCTAssertTrue(feed.contains { $0.hasPrefix("deliveryDelayed \(late) not read by the deadline") }, "\(feed)")
        XCTAssertTrue(feed.contains { $0.hasPrefix("delivered \(late) ") && $0.contains("after the deadline") },
                      "a sender told of the delay hears of the late reading without asking notifyOnDelivery: \(feed)")

        let evidence = try dms.get("/api/v1/messages/\(id)/evidence").text
        XCTAssertTrue(evidence.contains("address=\"\(early)\" route=\"localMailbox\" status=\"Delivered\" retrievedAt=\"\(readInTime)\""), evidence)
        XCTAssertTrue(evidence.contains("address=\"\(late)\" route=\"localMailbox\" status=\"DeliveryDelayed\" retrievedAt=\"\(readLate)\""), evidence)
    }
}
