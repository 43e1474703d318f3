import Foundation
import XCTest

/// A document arriving by AS4 for a mailbox of this gateway meets the same rules as a
/// submission here: gateway A does not know that the person is non-digital or that person ↔
/// person is off at B, so it sends; B refuses, reports the recipient Failed with the same code
/// and reason, and stores nothing in the mailbox.
final class BackendAPIRecipientIntakeTests: XCTestCase {
    func testDocumentsRefusedByTheRulesAtTheReceivingGatewayAreReportedFailedWithTheirCode() throws {
        let ministry = "DVS@90000048472", nonDigital = "_PRIVATE@01019012306", digital = "_PRIVATE@16117519997", sender = "_PRIVATE@32123456789"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(nonDigital, ownerId: "01019012306", kind: "naturalPerson", party: "gw-b"),
                                       h.remoteEntry(digital, ownerId: "16117519997", kind: "naturalPerson", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(nonDigital, ownerId: "01019012306", kind: "naturalPerson"),
                                       GatewayHarness.localEntry(digital, ownerId: "16117519997", kind: "naturalPerson")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [ministry]))
        let personA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "person", addresses: [sender]))
        // A allows person ↔ person; B keeps the law.
        let config = h.root.appendingPathComponent("policy-a.json").path
        try "{\"messagingPolicy\": {\"personToPerson\": true}}".write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let registry = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "registry", addresses: [], roles: ["operator"]))
        let mailbox = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "mailboxes", addresses: [nonDigital, digital]))
        try h.start("gw-a")
        try h.start("gw-b")
        let added = try registry.post("/api/v1/non-digital-persons", json: "{\"personCode\": \"01019012306\", \"reason\": \"Guardianship\"}")
        XCTAssertEqual(added.status, 201, added.text)

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: ministry, to: [nonDigital, digital]), files: [("a.txt", Array("A".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        // The sender's own opt-in does not matter; the recipient has none, and B is the law anyway.
        let p2p = try personA.submit(metadata: BackendClient.metadata(from: sender, to: [digital]), files: [("b.txt", Array("B".utf8))])
        XCTAssertEqual(p2p.status, 202, p2p.text)
        let p2pId = try XCTUnwrap(p2p.json["messageId"] as? String)

        func recipient(_ client: BackendClient, _ message: String, _ address: String) throws -> [String: Any] {
            ((try client.get("/api/v1/messages/\(message)").json["recipients"] as? [[String: Any]]) ?? []).first { $0["address"] as? String == address } ?? [:]
        }
        try h.waitUntil(timeout: 30, "the non-digital recipient reported Failed by B") { try recipient(dmsA, id, nonDigital)["status"] as? String == "Failed" }
        let failed = try recipient(dmsA, id, nonDigital)
        let detail = ((failed["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(detail.contains("RecipientNonDigital"), detail)
        XCTAssertTrue(detail.contains("Guardianship"), detail)
        try h.waitUntil(timeout: 30, "person → person reported Failed by B") { try recipient(personA, p2pId, digital)["status"] as? String == "Failed" }
        let policyDetail = ((try recipient(personA, p2pId, digital)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(policyDetail.contains("PolicyForbidden"), policyDetail)
        XCTAssertTrue(policyDetail.contains("messagingPolicy.personToPerson is off"), policyDetail)

        // The state's message to the digital person arrived; nothing else did.
        try h.waitUntil(timeout: 30, "the digital person's copy at B") {
            (try mailbox.get("/api/v1/inbox?address=\(digital)").json["items"] as? [[String: Any]])?.count == 1
        }
        XCTAssertEqual((try mailbox.get("/api/v1/inbox?address=\(digital)").json["items"] as? [[String: Any]])?.first?["sender"] as? String, ministry)
        XCTAssertEqual((try mailbox.get("/api/v1/inbox?address=\(nonDigital)").json["items"] as? [Any])?.count, 0)
        XCTAssertTrue(h.nodes["gw-b"]!.log.contains("document-refused"))
    }
}
