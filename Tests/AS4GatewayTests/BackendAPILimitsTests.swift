import Foundation
import XCTest

/// Per-address size limits changed at run time through the operators' API, while both gateways
/// run: enforced on B's REST API (422 before anything is stored) and on AS4 from A (B refuses
/// before its receipt with EBMS:0004, and A's status says why), then lifted again.
final class BackendAPILimitsTests: XCTestCase {
    func testLimitsLoweredAndRaisedAtRunTimeApplyToRESTAndAS4() throws {
        let senderA = "_DEFAULT@90000048472", senderB = "DVS@90000048472", mailbox = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        // One attempt per document: a refusal is final at once instead of after retries.
        try h.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), GatewayHarness.Leg(action: "EAddressDocument", retries: 0),
                                                 GatewayHarness.Leg(action: "EAddressStatus")])
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(senderA, ownerId: "90000048472", kind: "institution"),
                                       h.remoteEntry(mailbox, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(senderB, ownerId: "90000048472", kind: "institution"),
                                       GatewayHarness.localEntry(mailbox, ownerId: "40003032949", kind: "company")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [senderA]))
        let portB = h.nodes["gw-b"]!.submitPort
        let dmsB = try BackendClient(port: portB, token: try h.addConnection("gw-b", name: "dms-b", addresses: [senderB, mailbox]))
        let ops = try BackendClient(port: portB, token: try h.addConnection("gw-b", name: "ops", addresses: [], roles: ["operator"]))
        for node in ["gw-a", "gw-b"] { try h.start(node) }
        let limitsPath = "/api/v1/addresses/\(mailbox)/limits"
        let twenty = Array("twenty bytes exactly".utf8)
        XCTAssertEqual(twenty.count, 20)

        func setLimits(_ json: String) throws -> [String: Any] {
            let r = try ops.put(limitsPath, json: json)
            XCTAssertEqual(r.status, 200, r.text)
            return r.json
        }
        func submitAtB() throws -> BackendClient.Reply {
            try dmsB.submit(metadata: BackendClient.metadata(from: senderB, to: [mailbox]), files: [("doc.txt", twenty)])
        }
        /// A document from A's DMS; returns the recipient's final status at A and its last detail.
        func sendFromA() throws -> (status: String, detail: String) {
            let r = try dmsA.submit(metadata: BackendClient.metadata(from: senderA, to: [mailbox]), files: [("doc.txt", twenty)])
            XCTAssertEqual(r.status, 202, r.text)
            let id = try XCTUnwrap(r.json["messageId"] as? String)
            var recipient: [String: Any] = [:]
            try h.waitUntil(timeout: 30, "A's recipient to be Accepted or Failed") {
                recipient = (try dmsA.get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]])?.first ?? [:]
                return ["Accepted", "Failed"].contains(recipient["status"] as? String)
            }
            let detail = ((recipient["events"] as? [[String: Any]])?.last?["detail"] as? String) ?? ""
            return (recipient["status"] as? String ?? "", detail)
        }
        func inboxCount() throws -> Int { (try dmsB.get("/api/v1/inbox?address=\(mailbox)").json["items"] as? [Any])?.count ?? -1 }

        // Operators only; well-formed limits only; addresses of the directory only.
        XCTAssertEqual(try dmsB.get(limitsPath).status, 403)
        XCTAssertEqual(try dmsB.put(limitsPath, json: "{\"maxMessageBytes\": 10}").status, 403)
        for bad in ["{\"maxMessageBytes\": 0}", "{\"mailboxBytes\": -5}", "{\"mailboxBytes\": 1.5}", "{\"mailboxBytes\": \"10\"}",
                    "{\"maxMessageBytes\": true}", "{\"quota\": 10}", "{}"] {
            let r = try ops.put(limitsPath, json: bad)
            XCTAssertEqual(r.status, 422, "\(bad): \(r.text)")
        }
        XCTAssertEqual(try ops.put("/api/v1/addresses/_DEFAULT@40103000005/limits", json: "{\"mailboxBytes\": 10}").status, 404)
        let initial = try ops.get(limitsPath)
        XCTAssertEqual(initial.status, 200, initial.text)
        XCTAssertTrue(initial.json["maxMessageBytes"] is NSNull)
        XCTAssertEqual(initial.json["mailboxUsedBytes"] as? NSNumber, 0)

        // 1. The message size limit lowered to 10 bytes.
        let lowered = try setLimits("{\"maxMessageBytes\": 10}")
        XCTAssertEqual(lowered["maxMessageBytes"] as? NSNumber, 10)
        XCTAssertTrue(lowered["mailboxBytes"] is NSNull)
        let tooLarge = try submitAtB()
        XCTAssertEqual(tooLarge.status, 422, tooLarge.text)
        XCTAssertEqual(tooLarge.json["type"] as? String, "urn:as4gw:problem:recipient-refused")
        XCTAssertEqual((tooLarge.json["recipients"] as? [[String: Any]])?.first?["route"] as? String, "tooLarge")
        XCTAssertTrue((tooLarge.json["detail"] as? String ?? "").contains("at most 10 bytes"), tooLarge.text)
        var fromA = try sendFromA()
        XCTAssertEqual(fromA.status, "Failed")
        XCTAssertTrue(fromA.detail.contains("EBMS:0004") && fromA.detail.contains("at most 10 bytes"), fromA.detail)
        XCTAssertEqual(try inboxCount(), 0)

        // 2. No message limit; a mailbox limit of 30 bytes: one document fits, the second does not.
        let mailboxLimited = try setLimits("{\"maxMessageBytes\": null, \"mailboxBytes\": 30}")
        XCTAssertTrue(mailboxLimited["maxMessageBytes"] is NSNull)
        XCTAssertEqual(mailboxLimited["mailboxBytes"] as? NSNumber, 30)
        XCTAssertEqual(try submitAtB().status, 202)
        let full = try submitAtB()
        XCTAssertEqual(full.status, 422, full.text)
        XCTAssertEqual((full.json["recipients"] as? [[String: Any]])?.first?["route"] as? String, "mailboxFull")
        XCTAssertTrue((full.json["detail"] as? String ?? "").contains("holds 20 of its 30 bytes"), full.text)
        fromA = try sendFromA()
        XCTAssertEqual(fromA.status, "Failed")
        XCTAssertTrue(fromA.detail.contains("EBMS:0004") && fromA.detail.contains("mailboxFull") && fromA.detail.contains("holds 20 of its 30 bytes"),
                      fromA.detail)
        XCTAssertEqual(try inboxCount(), 1)
        XCTAssertEqual(try ops.get(limitsPath).json["mailboxUsedBytes"] as? NSNumber, 20)

        // 3. Raised again: both sides take the next document.
        XCTAssertEqual(try setLimits("{\"mailboxBytes\": 1000}")["maxMessageBytes"] as? NSNull, NSNull())
        fromA = try sendFromA()
        XCTAssertEqual(fromA.status, "Accepted", fromA.detail)
        XCTAssertEqual(try submitAtB().status, 202)
        try h.waitUntil(timeout: 10, "both documents in the mailbox") { try inboxCount() == 3 }
        XCTAssertEqual(try ops.get(limitsPath).json["mailboxUsedBytes"] as? NSNumber, 60)

        // The command line sees and sets the same limits.
        let cli = try GatewayProcess.run(["directory", "limits", mailbox, "--mailbox-bytes", "none", "--data", h.nodes["gw-b"]!.data])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        XCTAssertTrue(cli.json?["mailboxBytes"] is NSNull, cli.stdout)
        XCTAssertEqual(cli.json?["mailboxUsedBytes"] as? NSNumber, 60)
        XCTAssertEqual(try GatewayProcess.run(["directory", "limits", mailbox, "--mailbox-bytes", "0", "--data", h.nodes["gw-b"]!.data]).status, 2)
        XCTAssertTrue(try ops.get(limitsPath).json["mailboxBytes"] is NSNull)
    }

    /// The agreement with the recipient's access point bounds the AS4 message (its leg's
    /// `payload.maxMessageBytes`: the document header and files together, as the receiver counts
    /// them). A document over it is never sent, to be refused with EBMS:0010 after the retries:
    /// the recipient is Failed at once with the agreement's limit, and one under it goes through.
    func testADocumentOverTheAgreementsLimitIsFailedAtOnceWithTheLimitAndNeverSent() throws {
        let sender = "_DEFAULT@90000048472", mailbox = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), GatewayHarness.Leg(action: "EAddressDocument", retries: 0, maxMessageBytes: 2000),
                                                 GatewayHarness.Leg(action: "EAddressStatus")])
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(sender, ownerId: "90000048472", kind: "institution"),
                                       h.remoteEntry(mailbox, ownerId: "40003032949", kind: "company", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(mailbox, ownerId: "40003032949", kind: "company")])
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let reader = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "reader", addresses: [mailbox]))
        for node in ["gw-a", "gw-b"] { try h.start(node) }

        func send(_ bytes: [UInt8]) throws -> (status: String, detail: String, sent: Bool?) {
            let r = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [mailbox]), files: [("invoice.xml.gz", bytes)])
            XCTAssertEqual(r.status, 202, r.text)
            let id = try XCTUnwrap(r.json["messageId"] as? String)
            var recipient: [String: Any] = [:]
            try h.waitUntil(timeout: 30, "the recipient Delivered or Failed") {
                recipient = try dms.recipient(of: id)
                return ["Delivered", "Accepted", "Failed"].contains(recipient["status"] as? String)
            }
            let detail = ((recipient["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
            return (recipient["status"] as? String ?? "", detail, recipient["sent"] as? Bool)
        }
        // Random bytes: no compression brings them under the limit on the wire either.
        var x: UInt32 = 7
        let large = (0..<2500).map { _ -> UInt8 in x = x &* 1664525 &+ 1013904223; return UInt8(truncatingIfNeeded: x >> 24) }
        let over = try send(large)
        XCTAssertEqual(over.status, "Failed", over.detail)
        XCTAssertTrue(over.detail.contains("takes at most 2000 bytes"), over.detail)
        XCTAssertFalse(over.detail.contains("EBMS:0010"), "refused here, not by the receiver after sending: \(over.detail)")
        XCTAssertEqual(over.sent, false, over.detail)
        let under = try send(Array(large.prefix(20)))
        XCTAssertTrue(["Accepted", "Delivered"].contains(under.status), under.detail)
        try h.waitUntil(timeout: 30, "the small document in the mailbox at B") {
            (try reader.get("/api/v1/inbox?address=\(mailbox)").json["items"] as? [Any])?.count == 1
        }
    }
}
