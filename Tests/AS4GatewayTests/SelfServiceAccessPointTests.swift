import AS4Crypto
import Foundation
import MessageStore
import XCTest

/// A company's own access point (gw-b) registers on gw-a, whose P-Modes do not know it: before
/// approval nothing routes to it and its AS4 messages are refused; once approved, gw-a sends its
/// addresses' documents to it and accepts its signed messages under P-Modes copied from the
/// template party; revoking its signing certificate refuses its next message.
final class SelfServiceAccessPointTests: XCTestCase {
    static let company = "40003032949"
    static let ministry = "DVS@90000048472"
    static let invented = "_DEFAULT@90000099999"
    static let otherCompany = "_DEFAULT@40003000002"

    func testARegisteredAccessPointRoutesOnlyWhileApprovedAndItsCertificatesHold() throws {
        let gw = try SelfServiceGateway(settings: "\"selfService\": {\"template\": \"template-ap\"}")
        let h = gw.h
        let pmodeA = try gw.templateOnlyPModes()
        let operatorToken = try h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"])
        let ministryToken = try h.addConnection("gw-a", name: "ministry", addresses: [Self.ministry])
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.ministry, ownerId: "90000048472", kind: "institution")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry("_DEFAULT@\(Self.company)", ownerId: Self.company, kind: "company"),
                                       h.remoteEntry(Self.ministry, ownerId: "90000048472", kind: "institution", party: "gw-a")])
        // The company's own DMS at its access point; it also claims an institution address nobody has.
        let companyDMS = try BackendClient(port: h.nodes["gw-b"]!.submitPort,
                                           token: try h.addConnection("gw-b", name: "company-dms", addresses: ["_DEFAULT@\(Self.company)", Self.invented, Self.otherCompany]))
        // The company's access point names its P-Modes with gw-a as the operator published them:
        // by the template's P-Mode ids.
        let pmodeB = h.pmodeDirectory + "/test.pmode.json"
        try String(contentsOfFile: pmodeB, encoding: .utf8).replacingOccurrences(of: "gw-b-to-gw-a-", with: "template-ap-to-gw-a-")
            .replacingOccurrences(of: "gw-a-to-gw-b-", with: "gw-a-to-template-ap-").write(toFile: pmodeB, atomically: true, encoding: .utf8)
        try gw.start(pmode: pmodeA)
        try h.start("gw-b")

        let company = try gw.client(try gw.issue("company-a", organizationIdentifier: "NTRLV-\(Self.company)"))
        let ops = try gw.client(token: operatorToken)
        let ministry = try gw.client(token: ministryToken)
        let signing = try String(contentsOfFile: gw.certs + "/gw-b.signing.pem", encoding: .utf8)
        let encryption = try String(contentsOfFile: gw.certs + "/gw-b.encryption.pem", encoding: .utf8)
        func registration(partyId: String) -> String {
            """
            {"kind": "accessPoint", "addresses": ["_DEFAULT@\(Self.company)"], "endpoint": "\(h.nodes["gw-b"]!.as4URL)",
             "partyId": "\(partyId)", "certificates": [\(jsonString(signing)), \(jsonString(encryption))], "contact": "ap@company.lv"}
            """
        }
        expectProblem(try company.post("/api/v1/registrations", json: registration(partyId: "template-ap")), 409, "conflict",
                      "configured in this gateway's P-Modes")
        let made = try company.post("/api/v1/registrations", json: registration(partyId: "gw-b"))
        XCTAssertEqual(made.status, 202, made.text)
        let id = try XCTUnwrap(made.json["id"] as? String)

        func sendDocument() throws -> BackendClient.Reply {
            try ministry.submit(metadata: BackendClient.metadata(from: Self.ministry, to: ["_DEFAULT@\(Self.company)"]),
                                files: [("a.txt", Array("A".utf8))])
        }
        /// An AS4 message gw-b signs and sends to gw-a: its final status at gw-b, and whether gw-a kept it.
        func messageFromTheAccessPoint(expect wanted: MessageStatus) throws -> Bool {
            let file = try h.file("doc-\(UUID().uuidString.prefix(6)).txt", Array("from the company's access point".utf8))
            let messageId = try h.send(from: "gw-b", to: "gw-a", files: [file])
            _ = try h.waitFor("gw-b", messageId, .outbound, wanted)
            return try h.message("gw-a", messageId, .inbound) != nil
        }

        // Pending: not routable, not accepted.
        expectProblem(try sendDocument(), 422, "recipient-refused")
        XCTAssertFalse(try messageFromTheAccessPoint(expect: .failed), "an unapproved access point's message is refused")

        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)
        XCTAssertTrue(try messageFromTheAccessPoint(expect: .delivered), "approved: its signed message is accepted\n\(h.nodes["gw-a"]!.log.suffix(2000))")
        let sent = try sendDocument()
        XCTAssertEqual(sent.status, 202, sent.text)
        XCTAssertEqual((sent.json["recipients"] as? [[String: Any]])?.first?["route"] as? String, "remoteAccessPoint", sent.text)
        let documentId = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 30, "the registered access point to take the document") {
            let view = try ministry.get("/api/v1/messages/\(documentId)").json
            return (view["recipients"] as? [[String: Any]])?.first?["status"] as? String == "Accepted"
        }

        // The access point speaks for its registration's addresses only: a document "from" an
        // institution address the directory does not list is refused (SenderNotServed), one from
        // the company's own address reaches the ministry.
        func fromCompany(_ sender: String) throws -> String {
            let r = try companyDMS.submit(metadata: BackendClient.metadata(from: sender, to: [Self.ministry]), files: [("c.txt", Array(sender.utf8))])
            XCTAssertEqual(r.status, 202, r.text)
            return try XCTUnwrap(r.json["messageId"] as? String, r.text)
        }
        // Nor for another company's address that gw-a's directory, changed after the approval,
        // lists under the access point's party id: the party id matched, the registration does not.
        try h.importDirectory("gw-a", [h.remoteEntry(Self.otherCompany, ownerId: "40003000002", kind: "company", party: "gw-b")])
        let forged = try fromCompany(Self.invented)
        let takenOver = try fromCompany(Self.otherCompany)
        let genuine = try fromCompany("_DEFAULT@\(Self.company)")
        func status(_ id: String) throws -> [String: Any] {
            try companyDMS.recipient(of: id)
        }
        try h.waitUntil(timeout: 30, "the forged sender refused") { try status(forged)["status"] as? String == "Failed" }
        let detail = ((try status(forged)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(detail.contains("SenderNotServed") && detail.contains("sends only for the addresses of its registration"), detail)
        try h.waitUntil(timeout: 30, "the other company's address refused") { try status(takenOver)["status"] as? String == "Failed" }
        let takenOverDetail = ((try status(takenOver)["events"] as? [[String: Any]]) ?? []).compactMap { $0["detail"] as? String }.joined(separator: " | ")
        XCTAssertTrue(takenOverDetail.contains("SenderNotServed") && takenOverDetail.contains("not an address of the registration"), takenOverDetail)
        let inbox = try gw.client(token: try h.addConnection("gw-a", name: "ministry-inbox", addresses: [Self.ministry], shared: true))
        try h.waitUntil(timeout: 30, "the company's own document at the ministry") {
            ((try inbox.get("/api/v1/inbox?address=\(Self.ministry)").json["items"] as? [[String: Any]]) ?? []).contains { $0["messageId"] as? String == genuine }
        }
        XCTAssertFalse(((try inbox.get("/api/v1/inbox?address=\(Self.ministry)").json["items"] as? [[String: Any]]) ?? [])
            .contains { [Self.invented, Self.otherCompany].contains($0["sender"] as? String ?? "") })

        // Revoking its signing certificate counts for the very next message.
        let signingSHA = Digest.hexSHA256(try Certificate(pemEncoded: signing).derBytes)
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/certificates/\(signingSHA)/revoke", json: "{\"reason\": \"compromised\"}").status, 200)
        XCTAssertFalse(try messageFromTheAccessPoint(expect: .failed), "a message signed with a revoked certificate is refused")
        // The receipt it gave before the revocation still proves the document was sent.
        func sentView() throws -> [String: Any] {
            try ministry.recipient(of: documentId)
        }
        let afterSigning = try sentView()
        XCTAssertEqual(afterSigning["sent"] as? Bool, true, "\(afterSigning)")
        // Without any usable certificate the access point is out of the routing too.
        let encryptionSHA = Digest.hexSHA256(try Certificate(pemEncoded: encryption).derBytes)
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/certificates/\(encryptionSHA)/revoke", json: "{}").status, 200)
        expectProblem(try sendDocument(), 422, "recipient-refused")
        // Even with the access point gone from the P-Mode set (nothing of it usable now).
        let afterAll = try sentView()
        XCTAssertEqual(afterAll["sent"] as? Bool, true, "\(afterAll)")
        XCTAssertEqual((try ministry.get("/api/v1/messages/\(documentId)/receipt").json["sent"] as? Bool), true)
    }
}
