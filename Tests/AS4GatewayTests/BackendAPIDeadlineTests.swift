import Foundation
import MessageStore
import XCTest

/// `deliveryBy` passing: a recipient whose access point never took the document becomes Failed
/// (its queued AS4 message withdrawn); one that holds it unanswered becomes DeliveryDelayed and
/// may still answer. The sender is notified of both.
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
        // The log says which AS4 message was withdrawn, why, and the deadline.
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
}
