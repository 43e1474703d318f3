import AS4Crypto
import Foundation
import XCTest

/// The reviewer's case: gw-a's directory lists company B's address as served by party id gw-c,
/// which no configured partner has (onboarding). Company A may not register its access point
/// under gw-c, an approval is refused once the directory names the registration's party id for
/// another address, and a directory row added after the approval does not route B's documents
/// to A's access point.
final class SelfServicePartyIdTests: XCTestCase {
    static let companyA = "40003000001"
    static let companyB = "40003000002"
    static let ministry = "DVS@90000048472"

    func remoteRow(_ address: String, party: String) -> String {
        "{\"address\": \"\(address)\", \"ownerId\": \"\(address.split(separator: "@")[1])\", \"ownerKind\": \"company\", "
            + "\"accessPoint\": \"remote\", \"partyId\": \"\(party)\", \"endpoint\": \"https://\(party).example.lv/as4\", "
            + "\"certificates\": [\"sha256:\(String(repeating: "cd", count: 32))\"]}"
    }

    func testAPartyIdTheDirectoryUsesForAnotherCompanyNeverRoutesItsDocumentsToTheRegistrant() throws {
        let gw = try SelfServiceGateway(settings: "\"selfService\": {\"template\": \"template-ap\"}")
        let h = gw.h
        let pmodeA = try gw.templateOnlyPModes()
        let ops = try gw.client(token: try h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"]))
        let ministry = try gw.client(token: try h.addConnection("gw-a", name: "ministry", addresses: [Self.ministry]))
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.ministry, ownerId: "90000048472", kind: "institution"),
                                       remoteRow("_DEFAULT@\(Self.companyB)", party: "gw-c")])
        try gw.start(pmode: pmodeA)

        let companyA = try gw.client(try gw.issue("company-a", organizationIdentifier: "NTRLV-\(Self.companyA)"))
        let signing = try String(contentsOfFile: gw.certs + "/gw-b.signing.pem", encoding: .utf8)
        let encryption = try String(contentsOfFile: gw.certs + "/gw-b.encryption.pem", encoding: .utf8)
        func registration(partyId: String) -> String {
            """
            {"kind": "accessPoint", "addresses": ["_DEFAULT@\(Self.companyA)"], "endpoint": "\(h.nodes["gw-b"]!.as4URL)",
             "partyId": "\(partyId)", "certificates": [\(jsonString(signing)), \(jsonString(encryption))]}
            """
        }
        func send(to recipient: String) throws -> BackendClient.Reply {
            try ministry.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [recipient]), files: [("a.txt", Array("A".utf8))])
        }

        // At submission: the directory's gw-c serves company B. The answer names no address of B.
        let taken = try companyA.post("/api/v1/registrations", json: registration(partyId: "gw-c"))
        expectProblem(taken, 409, "conflict", "already the access point of addresses in this gateway's e-address directory")
        XCTAssertFalse(taken.text.contains(Self.companyB), taken.text)

        // At approval: the directory changed after the submission.
        let made = try companyA.post("/api/v1/registrations", json: registration(partyId: "ap-a"))
        XCTAssertEqual(made.status, 202, made.text)
        let id = try XCTUnwrap(made.json["id"] as? String)
        try h.importDirectory("gw-a", [remoteRow("INVOICES@\(Self.companyB)", party: "ap-a")])
        expectProblem(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}"), 409, "conflict", "INVOICES@\(Self.companyB)")
        XCTAssertEqual(try ops.get("/api/v1/registrations/\(id)").json["status"] as? String, "pending", "a refused approval decides nothing")
        try h.importDirectory("gw-a", [remoteRow("INVOICES@\(Self.companyB)", party: "gw-c")])
        let approved = try ops.post("/api/v1/registrations/\(id)/approve", json: "{}")
        XCTAssertEqual(approved.status, 200, approved.text)
        let own = try send(to: "_DEFAULT@\(Self.companyA)")
        XCTAssertEqual((own.json["recipients"] as? [[String: Any]])?.first?["route"] as? String, "remoteAccessPoint", own.text)

        // At routing: a row naming ap-a for B, written after the approval, is no route to A.
        try h.importDirectory("gw-a", [remoteRow("SALES@\(Self.companyB)", party: "ap-a")])
        let diverted = try send(to: "SALES@\(Self.companyB)")
        expectProblem(diverted, 422, "recipient-refused")
        XCTAssertEqual((diverted.json["recipients"] as? [[String: Any]])?.first?["route"] as? String, "noAgreement", diverted.text)
        XCTAssertTrue(((diverted.json["recipients"] as? [[String: Any]])?.first?["reason"] as? String ?? "")
                        .contains("registered for other addresses only"), diverted.text)
        // Re-running the approval's effects is refused as well while the directory says so.
        expectProblem(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}"), 409, "conflict", "SALES@\(Self.companyB)")
    }
}
