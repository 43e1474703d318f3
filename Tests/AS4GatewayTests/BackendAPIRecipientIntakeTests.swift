import AS4Crypto
@testable import AS4Gateway
import Foundation
import MessageStore
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

    /// The sender address in a document is the origin access point's claim; the receiving
    /// gateway's directory decides whether that access point may speak for it. A mailbox of B
    /// (an institution's) and an address B knows to be served by C cannot arrive from A; an
    /// address B lists as A's, and one B does not list, can.
    func testAnAccessPointCannotSendDocumentsFromAddressesItDoesNotServe() throws {
        let institutionAtB = "_DEFAULT@90000048472", servedByC = "_DEFAULT@40003032949", servedByA = "DVS@90000099991",
            unlisted = "_DEFAULT@40003000001", person = "_PRIVATE@16117519997"
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b", "gw-c"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(person, ownerId: "16117519997", kind: "naturalPerson", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(person, ownerId: "16117519997", kind: "naturalPerson"),
                                       GatewayHarness.localEntry(institutionAtB, ownerId: "90000048472", kind: "institution"),
                                       h.remoteEntry(servedByC, ownerId: "40003032949", kind: "company", party: "gw-c"),
                                       h.remoteEntry(servedByA, ownerId: "90000099991", kind: "institution", party: "gw-a")])
        // A's connection claims all four; company → person is on at both, so only the sender check decides.
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort,
                                     token: try h.addConnection("gw-a", name: "dms-a", addresses: [institutionAtB, servedByC, servedByA, unlisted]))
        let config = h.root.appendingPathComponent("policy.json").path
        try "{\"messagingPolicy\": {\"companyToPerson\": true}}".write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        h.nodes["gw-b"]!.extraArguments = ["--config", config]
        let mailbox = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "person", addresses: [person]))
        let optIn = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "opt", addresses: [person]))
        try h.start("gw-a")
        try h.start("gw-b")
        XCTAssertEqual(try optIn.call("PUT", "/api/v1/addresses/\(person)/opt-in", json: "{\"fromCompanies\": true}").status, 200)

        var ids: [String: String] = [:]
        for sender in [institutionAtB, servedByC, servedByA, unlisted] {
            let sent = try dmsA.submit(metadata: BackendClient.metadata(from: sender, to: [person]), files: [("\(sender).txt", Array(sender.utf8))])
            XCTAssertEqual(sent.status, 202, sent.text)
            ids[sender] = try XCTUnwrap(sent.json["messageId"] as? String)
        }
        func recipient(_ message: String) throws -> [String: Any] { try dmsA.recipient(of: message) }
        for (sender, expected) in [(institutionAtB, "has its mailbox on this gateway"), (servedByC, "is served by access point gw-c, not by gw-a")] {
            try h.waitUntil(timeout: 30, "\(sender) refused by B") { try recipient(ids[sender]!)["status"] as? String == "Failed" }
            let detail = ((try recipient(ids[sender]!)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
            XCTAssertTrue(detail.contains("SenderNotServed"), detail)
            XCTAssertTrue(detail.contains(expected), detail)
            XCTAssertEqual(try recipient(ids[sender]!)["sent"] as? Bool, false)
        }
        try h.waitUntil(timeout: 30, "the two allowed documents in the mailbox") {
            (try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [[String: Any]])?.count == 2
        }
        let senders = Set(((try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [[String: Any]]) ?? []).compactMap { $0["sender"] as? String })
        XCTAssertEqual(senders, [servedByA, unlisted])
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual((try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [Any])?.count, 2)

        // A hub whose directory lists every address refuses unlisted senders too.
        h.stop("gw-b")
        let strict = h.root.appendingPathComponent("strict.json").path
        try "{\"messagingPolicy\": {\"companyToPerson\": true}, \"refuseUnlistedSenders\": true}".write(toFile: strict, atomically: true, encoding: .utf8)
        h.nodes["gw-b"]!.extraArguments = ["--config", strict]
        try h.start("gw-b")
        let again = try dmsA.submit(metadata: BackendClient.metadata(from: unlisted, to: [person]), files: [("again.txt", Array("again".utf8))])
        let againId = try XCTUnwrap(again.json["messageId"] as? String, again.text)
        try h.waitUntil(timeout: 30, "the unlisted sender refused") { try recipient(againId)["status"] as? String == "Failed" }
        let detail = ((try recipient(againId)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(detail.contains("SenderNotServed") && detail.contains("is not in this gateway's e-address directory"), detail)
        let listedAgain = try dmsA.submit(metadata: BackendClient.metadata(from: servedByA, to: [person]), files: [("ok.txt", Array("ok".utf8))])
        XCTAssertEqual(listedAgain.status, 202, listedAgain.text)
        try h.waitUntil(timeout: 30, "a listed sender still delivered") {
            (try mailbox.get("/api/v1/inbox?address=\(person)").json["items"] as? [[String: Any]])?.count == 3
        }
    }

    /// The recipient is named twice, in the carrier's finalRecipient and in the document header.
    /// B refuses a document in which they differ before its receipt (EBMS:0003 naming both,
    /// nothing stored, the personal code masked in its log) and still takes one in which they
    /// agree (in any spelling of the same address), and one without finalRecipient, as before.
    func testADocumentWhoseHeaderNamesAnotherRecipientThanItsFinalRecipientIsRefusedBeforeTheReceipt() throws {
        let sender = "DVS@90000048472", person = "_PRIVATE@16117519997", company = "_DEFAULT@40003032949"
        let h = try GatewayHarness()
        // One attempt per document: a refusal is final at once instead of after retries.
        try h.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), GatewayHarness.Leg(action: "EAddressDocument", retries: 0),
                                                 GatewayHarness.Leg(action: "EAddressStatus")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(person, ownerId: "16117519997", kind: "naturalPerson"),
                                       GatewayHarness.localEntry(company, ownerId: "40003032949", kind: "company")])
        let mailboxes = try BackendClient(port: h.nodes["gw-b"]!.submitPort,
                                          token: try h.addConnection("gw-b", name: "mailboxes", addresses: [person, company]))
        try h.start("gw-a")
        try h.start("gw-b")

        /// A document in the form gw-a's exchange sends, but with the header's recipient and
        /// finalRecipient chosen apart; returns the AS4 message id.
        func carry(_ documentId: String, headerRecipient: String, finalRecipient: String?) throws -> String {
            let file = Array("Lēmums \(documentId)".utf8)
            let header = EAddressMessages.DocumentHeader(
                documentId: documentId, sender: sender, recipient: headerRecipient, metadata: "{\"subject\": \"\(documentId)\"}",
                files: [.init(name: "lemums.txt", mimeType: "text/plain", size: Int64(file.count), sha256: InboundProcessor.hex(try Digest.sha256(file)))])
            var args = ["send", "--to", "gw-b", "--service", EAddressMessages.service, "--action", EAddressMessages.documentAction,
                        "--property", "originalSender=\(sender)", "--property", "documentId=\(documentId)", "--submit", h.nodes["gw-a"]!.submitURL]
            if let finalRecipient { args += ["--property", "finalRecipient=\(finalRecipient)"] }
            let r = try GatewayProcess.run(args + [try h.file("\(documentId).json", Array(try EAddressMessages.encode(header))),
                                                   try h.file("\(documentId).txt", file)])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        /// gw-a's message once B answered it, receipt or error.
        func settled(_ id: String) throws -> StoredMessage {
            var last: StoredMessage?
            try h.waitUntil(timeout: 30, "\(id) Delivered or Failed at gw-a") {
                last = try h.message("gw-a", id, .outbound)
                return [.delivered, .failed].contains(last?.status)
            }
            return last!
        }
        func inboxCount(_ address: String) throws -> Int {
            (try mailboxes.get("/api/v1/inbox?address=\(address)").json["items"] as? [Any])?.count ?? -1
        }

        // The pre-receipt checks would judge the company's mailbox; the header would place it in the person's.
        let mismatch = try carry("doc-mismatch", headerRecipient: person, finalRecipient: company)
        let refused = try settled(mismatch)
        XCTAssertEqual(refused.status, .failed)
        XCTAssertEqual(refused.outbound?.lastError?.code, "EBMS:0003", "\(String(describing: refused.outbound?.lastError))")
        let reason = refused.outbound?.lastError?.reason ?? ""
        XCTAssertTrue(reason.contains("recipient \(person)") && reason.contains("finalRecipient is \(company)"), reason)
        XCTAssertNil(try h.message("gw-b", mismatch, .inbound), "nothing stored")

        let agreeing = try carry("doc-agreeing", headerRecipient: person, finalRecipient: person.lowercased())
        let withoutFinalRecipient = try carry("doc-unaddressed", headerRecipient: company, finalRecipient: nil)
        for id in [agreeing, withoutFinalRecipient] {
            let answered = try settled(id)
            XCTAssertEqual(answered.status, .delivered, "\(id): \(String(describing: answered.outbound?.lastError))")
        }
        try h.waitUntil(timeout: 30, "both documents in their mailboxes") { try inboxCount(person) == 1 && inboxCount(company) == 1 }
        let inPersonsMailbox = (try mailboxes.get("/api/v1/inbox?address=\(person)").json["items"] as? [[String: Any]]) ?? []
        XCTAssertEqual(inPersonsMailbox.compactMap { $0["messageId"] as? String }, ["doc-agreeing"], "the refused document is nowhere")

        let logB = h.nodes["gw-b"]!.log
        XCTAssertTrue(logB.split(separator: "\n").contains { $0.contains("event=refused") && $0.contains("error_code=EBMS:0003")
            && $0.contains("_PRIVATE@~") && $0.contains(company) }, logB)
        for node in ["gw-a", "gw-b"] { XCTAssertFalse(h.nodes[node]!.log.contains("16117519997"), "a personal code in clear in \(node)'s log") }
    }
}
