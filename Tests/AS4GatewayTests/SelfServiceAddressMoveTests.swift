import Foundation
import XCTest

/// Approving a registration changes where its addresses' new documents go. When something else
/// receives them now (a local connection, another access point), the operator says so on
/// purpose (`"move": true`): otherwise 409 naming each address and where it goes now, and
/// nothing changed. What the operator let through is in the registration's history.
final class SelfServiceAddressMoveTests: XCTestCase {
    static let company = "40003032949"
    static let ministry = "DVS@90000048472"
    var address: String { "_DEFAULT@\(Self.company)" }

    var gw: SelfServiceGateway!
    var ops: BackendClient!
    var ministry: BackendClient!
    var company: BackendClient!

    /// gw-a with an operator, the ministry's connection, and `rows` more in its directory.
    func start(_ rows: [String]) throws {
        gw = try SelfServiceGateway(settings: "\"selfService\": {\"template\": \"template-ap\"}")
        let pmode = try gw.templateOnlyPModes()
        ops = try gw.client(token: try gw.h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"]))
        let ministryToken = try gw.h.addConnection("gw-a", name: "ministry", addresses: [Self.ministry])
        try gw.h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.ministry, ownerId: "90000048472", kind: "institution")] + rows)
        try gw.start(pmode: pmode)
        ministry = try gw.client(token: ministryToken)
        company = try gw.client(try gw.issue("company-a", organizationIdentifier: "NTRLV-\(Self.company)"))
    }

    override func tearDown() { gw = nil }

    func remoteRow(party: String) -> String {
        "{\"address\": \"\(address)\", \"ownerId\": \"\(Self.company)\", \"ownerKind\": \"company\", \"accessPoint\": \"remote\", "
            + "\"partyId\": \"\(party)\", \"endpoint\": \"https://\(party).example.lv/as4\", "
            + "\"certificates\": [\"sha256:\(String(repeating: "cd", count: 32))\"]}"
    }

    func registerAccessPoint(partyId: String = "ap-a") throws -> String {
        let signing = try String(contentsOfFile: gw.certs + "/gw-b.signing.pem", encoding: .utf8)
        let encryption = try String(contentsOfFile: gw.certs + "/gw-b.encryption.pem", encoding: .utf8)
        let made = try company.post("/api/v1/registrations", json: """
            {"kind": "accessPoint", "addresses": ["\(address)"], "endpoint": "\(gw.h.nodes["gw-b"]!.as4URL)",
             "partyId": "\(partyId)", "certificates": [\(jsonString(signing)), \(jsonString(encryption))]}
            """)
        XCTAssertEqual(made.status, 202, made.text)
        return try XCTUnwrap(made.json["id"] as? String, made.text)
    }

    func registerDMS() throws -> String {
        let made = try company.post("/api/v1/registrations", json: "{\"kind\": \"dms\", \"addresses\": [\"\(address)\"]}")
        XCTAssertEqual(made.status, 202, made.text)
        return try XCTUnwrap(made.json["id"] as? String, made.text)
    }

    /// Where the ministry's document to the company goes now.
    func route() throws -> String? {
        let sent = try ministry.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [address]), files: [("a.txt", Array("A".utf8))])
        return (sent.json["recipients"] as? [[String: Any]])?.first?["route"] as? String
    }

    func history(_ id: String) throws -> [String] {
        (try ops.get("/api/v1/registrations/\(id)").json["history"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
    }

    func expectRefused(_ id: String, body: String, naming: String, flag: String) throws {
        let refused = try ops.post("/api/v1/registrations/\(id)/approve", json: body)
        expectProblem(refused, 409, "conflict", naming)
        let detail = refused.json["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains("stays pending") && detail.contains("{\"\(flag)\": true}"), refused.text)
        XCTAssertEqual(try ops.get("/api/v1/registrations/\(id)").json["status"] as? String, "pending", "a refused approval decides nothing")
        XCTAssertEqual(try history(id), ["registered"])
    }

    /// The company's DMS holds its address here; the company's own access point registers. Its
    /// approval would take the address's new documents from that connection.
    func testAnAccessPointTakesAnAddressFromALocalConnectionOnlyOnPurpose() throws {
        try start([GatewayHarness.localEntry(address, ownerId: Self.company, kind: "company")])
        _ = try gw.h.addConnection("gw-a", name: "company-dms", addresses: [address])
        let id = try registerAccessPoint()
        try expectRefused(id, body: "{}", naming: "\(address) goes to connection company-dms now", flag: "move")
        XCTAssertEqual(try route(), "localMailbox")
        XCTAssertTrue(gw.h.nodes["gw-a"]!.log.contains("event=registration-address-move-refused"), gw.h.nodes["gw-a"]!.log)
        expectProblem(try ops.post("/api/v1/registrations/\(id)/approve", json: "{\"move\": 1}"), 422, "invalid-request", "move")

        let moved = try ops.post("/api/v1/registrations/\(id)/approve", json: "{\"move\": true}")
        XCTAssertEqual(moved.status, 200, moved.text)
        XCTAssertEqual(try route(), "remoteAccessPoint")
        XCTAssertEqual(try history(id), ["registered", "approved", "addresses-moved", "directory-updated"])
        XCTAssertTrue(gw.h.nodes["gw-a"]!.log.contains("event=registration-address-moved"), gw.h.nodes["gw-a"]!.log)
        // Approving again re-runs the effects without asking again.
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)
    }

    /// Another access point serves the address now: the company moves to its own.
    func testAnAccessPointTakesAnAddressFromAnotherAccessPointOnlyOnPurpose() throws {
        try start([remoteRow(party: "gw-c")])
        let id = try registerAccessPoint()
        try expectRefused(id, body: "{\"shared\": true}", naming: "\(address) goes to access point gw-c now", flag: "move")
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/approve", json: "{\"move\": true}").status, 200)
        XCTAssertEqual(try history(id), ["registered", "approved", "addresses-moved", "directory-updated"])
    }

    /// An access point serves the address; the company registers a DMS here instead. Another
    /// connection holding the address as well needs both words.
    func testADMSTakesAnAddressFromAnAccessPointOnlyOnPurpose() throws {
        try start([remoteRow(party: "gw-c")])
        _ = try gw.h.addConnection("gw-a", name: "company-dms", addresses: [address])
        let id = try registerDMS()
        try expectRefused(id, body: "{\"shared\": true}", naming: "\(address) goes to access point gw-c now", flag: "move")
        try expectRefused(id, body: "{\"move\": true}", naming: "\(address) is held by connection company-dms already", flag: "shared")
        try expectRefused(id, body: "{}", naming: "goes to access point gw-c now", flag: "shared")
        XCTAssertNotEqual(try route(), "localMailbox", "still gw-c's (which has no P-Mode with gw-a here)")

        let approved = try ops.post("/api/v1/registrations/\(id)/approve", json: "{\"move\": true, \"shared\": true}")
        XCTAssertEqual(approved.status, 200, approved.text)
        XCTAssertEqual(try route(), "localMailbox")
        XCTAssertEqual(try history(id), ["registered", "approved", "addresses-shared", "addresses-moved", "connection-created", "directory-updated"])
    }

    /// A certificate change re-writes an approved access point's directory rows: only those still
    /// its own. Moved elsewhere since (here by the operator, to a local DMS), an address stays
    /// where it went: the registrant's roll-over is not the operator's word to move it back.
    func testACertificateChangeDoesNotTakeBackAnAddressMovedSince() throws {
        try start([])
        let apClient = try gw.issue("company-ap", organizationIdentifier: "NTRLV-\(Self.company)")
        let registrant = try gw.client(apClient)
        let signing = try String(contentsOfFile: gw.certs + "/gw-b.signing.pem", encoding: .utf8)
        let encryption = try String(contentsOfFile: gw.certs + "/gw-b.encryption.pem", encoding: .utf8)
        let made = try registrant.post("/api/v1/registrations", json: """
            {"kind": "accessPoint", "addresses": ["\(address)"], "endpoint": "\(gw.h.nodes["gw-b"]!.as4URL)", "partyId": "ap-a",
             "certificates": [\(jsonString(signing)), \(jsonString(encryption)), \(jsonString(try apClient.certificate.pemEncoded()))]}
            """)
        XCTAssertEqual(made.status, 202, made.text)
        let id = try XCTUnwrap(made.json["id"] as? String, made.text)
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)
        XCTAssertEqual(try route(), "remoteAccessPoint")

        // The operator moves the company to a mailbox here by hand.
        try gw.h.importDirectory("gw-a", [GatewayHarness.localEntry(address, ownerId: Self.company, kind: "company")])
        _ = try gw.h.addConnection("gw-a", name: "company-dms", addresses: [address])
        XCTAssertEqual(try route(), "localMailbox")

        let successor = try gw.issue("company-ap2", organizationIdentifier: "NTRLV-\(Self.company)")
        let added = try registrant.post("/api/v1/registrations/\(id)/certificates",
                                        json: "{\"certificate\": \(jsonString(try successor.certificate.pemEncoded()))}")
        XCTAssertEqual(added.status, 201, added.text)
        XCTAssertEqual(try route(), "localMailbox", "a certificate change moved the address back to the access point")
        let events = try ops.get("/api/v1/registrations/\(id)").json["history"] as? [[String: Any]] ?? []
        XCTAssertEqual(events.filter { $0["action"] as? String == "directory-updated" }.count, 1,
                       "the change wrote no row, and the history does not say it did: \(events)")
        // The operator's re-approval of the approved registration moves nothing without the word either.
        expectProblem(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}"), 409, "conflict", "goes to connection company-dms now")
        XCTAssertEqual(try route(), "localMailbox")
    }

    /// Nothing receives the address now (a new company): approval needs no word.
    func testAnAddressNobodyReceivesNeedsNoWord() throws {
        try start([])
        let id = try registerAccessPoint()
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)
        XCTAssertEqual(try history(id), ["registered", "approved", "directory-updated"])
        XCTAssertEqual(try route(), "remoteAccessPoint")
    }
}
