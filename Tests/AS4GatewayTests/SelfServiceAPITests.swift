import AS4Crypto
import Foundation
import XCTest

/// Self-service DMS connections through the API of a running gateway: a company registers with
/// its own certificate, an operator decides, and only an approved registration's usable
/// certificates reach a mailbox; roll-over overlaps, revocation counts from the next request.
final class SelfServiceAPITests: XCTestCase {
    static let company = "40003032949"
    static let ministry = "DVS@90000048472"

    var gw: SelfServiceGateway!
    var companyCert: SelfServiceGateway.Identity!
    var operatorToken = ""
    var ministryToken = ""

    override func setUpWithError() throws {
        gw = try SelfServiceGateway()
        companyCert = try gw.issue("company-a", organizationIdentifier: "NTRLV-\(Self.company)")
        operatorToken = try gw.h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"])
        ministryToken = try gw.h.addConnection("gw-a", name: "ministry", addresses: [Self.ministry])
        try gw.h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.ministry, ownerId: "90000048472", kind: "institution")])
        try gw.start()
    }

    override func tearDown() { gw = nil }

    func register(_ client: BackendClient, _ body: String) throws -> BackendClient.Reply {
        try client.post("/api/v1/registrations", json: body)
    }

    func send(to recipient: String) throws -> BackendClient.Reply {
        try gw.client(token: ministryToken).submit(metadata: BackendClient.metadata(from: Self.ministry, to: [recipient]),
                                                   files: [("a.txt", Array("A".utf8))])
    }

    func testRegistrationIsRefusedWithoutACompanyCertificateOrForeignAddresses() throws {
        let body = "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@\(Self.company)\"]}"
        expectProblem(try register(try gw.client(), body), 401, "unauthenticated")
        let nameless = try gw.issue("nameless")
        expectProblem(try register(try gw.client(nameless), body), 403, "forbidden", "names no company")
        let vatNumber = try gw.issue("vat", organizationIdentifier: "VATLV-\(Self.company)")
        expectProblem(try register(try gw.client(vatNumber), body), 403, "forbidden", "names no company")
        let badNumber = try gw.issue("bad-number", organizationIdentifier: "NTRLV-4000303294")
        expectProblem(try register(try gw.client(badNumber), body), 403, "forbidden", "names no company")
        expectProblem(try register(try gw.client(token: operatorToken), body), 403, "forbidden", "token names no company")
        let foreign = try register(try gw.client(companyCert), "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@\(Self.company)\", \"_DEFAULT@90000048472\"]}")
        expectProblem(foreign, 403, "forbidden", "only its own addresses")
        XCTAssertEqual((foreign.json["errors"] as? [[String: Any]])?.first?["pointer"] as? String, "/addresses/1", foreign.text)
        let personal = try register(try gw.client(companyCert), "{\"kind\": \"dms\", \"addresses\": [\"_PRIVATE@01019012349\"]}")
        expectProblem(personal, 403, "forbidden")

        let bad = try register(try gw.client(companyCert), "{\"kind\": \"printer\", \"addresses\": [\"nope\"], \"endpoint\": \"x\"}")
        expectProblem(bad, 422, "invalid-request")
        let pointers = Set((bad.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String })
        XCTAssertEqual(pointers, ["/kind", "/addresses/0"], bad.text)
        let dmsWithEndpoint = try register(try gw.client(companyCert),
                                           "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@\(Self.company)\"], \"endpoint\": \"https://x.lv/as4\"}")
        expectProblem(dmsWithEndpoint, 422, "invalid-request")
        let apWithoutCertificates = try register(try gw.client(companyCert), """
            {"kind": "accessPoint", "addresses": ["_DEFAULT@\(Self.company)"], "endpoint": "http://ap.lv/as4", "partyId": "ap"}
            """)
        XCTAssertEqual(Set((apWithoutCertificates.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String }),
                       ["/endpoint", "/certificates"], apWithoutCertificates.text)
        let expired = try gw.issue("expired", organizationIdentifier: "NTRLV-\(Self.company)", days: -0.01)
        let withExpired = try register(try gw.client(companyCert),
                                       "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@\(Self.company)\"], \"certificates\": [\(jsonString(expired.pem))]}")
        expectProblem(withExpired, 422, "invalid-request")
        XCTAssertTrue(withExpired.text.contains("expired"), withExpired.text)
        expectProblem(try gw.client(companyCert).post("/api/v1/registrations", json: "{\"kind\": "), 400, "bad-request")
        let otherCompany = try gw.issue("other-company", organizationIdentifier: "NTRLV-90000048472")
        let foreignCertificate = try register(try gw.client(companyCert), "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@\(Self.company)\"], "
                                              + "\"certificates\": [\"not a certificate\", \(jsonString(otherCompany.pem))]}")
        XCTAssertEqual((foreignCertificate.json["errors"] as? [[String: Any]])?.compactMap { $0["pointer"] as? String },
                       ["/certificates/0", "/certificates/1"], foreignCertificate.text)
        XCTAssertTrue(foreignCertificate.text.contains("must name company \(Self.company)"), foreignCertificate.text)

        // A serialNumber names the company when there is no organizationIdentifier.
        let bySerial = try gw.issue("company-b", serialNumber: "90000048472")
        let ok = try register(try gw.client(bySerial), "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@90000048472\"]}")
        XCTAssertEqual(ok.status, 202, ok.text)
        XCTAssertEqual(ok.json["registrationNumber"] as? String, "90000048472")
        let listed = try gw.client(token: operatorToken).get("/api/v1/registrations")
        XCTAssertEqual((listed.json["items"] as? [Any])?.count, 1, "no refused registration was stored: \(listed.text)")
    }

    func testApprovedDMSGetsItsMailboxAndOnlyThen() throws {
        let companyClient = try gw.client(companyCert)
        let address = "_DEFAULT@\(Self.company)"
        let made = try register(companyClient, "{\"kind\": \"dms\", \"addresses\": [\"\(address)\", \"invoices@\(Self.company)\"], \"contact\": \"it@company.lv\"}")
        XCTAssertEqual(made.status, 202, made.text)
        let id = try XCTUnwrap(made.json["id"] as? String)
        XCTAssertEqual(made.json["status"] as? String, "pending")
        XCTAssertEqual(made.json["addresses"] as? [String], [address, "INVOICES@\(Self.company)"])
        XCTAssertEqual(((made.json["certificates"] as? [[String: Any]])?.first?["sha256"] as? String), companyCert.sha256,
                       "a DMS registers the certificate it authenticated with")
        expectProblem(try register(companyClient, "{\"kind\": \"dms\", \"addresses\": [\"\(address)\"]}"), 409, "conflict", id)

        // Pending: no mailbox, nothing routes to it.
        expectProblem(try companyClient.get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")
        XCTAssertEqual(try send(to: address).status, 422, "an address of a pending registration is not routable")
        XCTAssertEqual(try companyClient.get("/api/v1/registrations/\(id)").json["status"] as? String, "pending")
        let other = try gw.issue("other", organizationIdentifier: "NTRLV-90000048472")
        expectProblem(try gw.client(other).get("/api/v1/registrations/\(id)"), 403, "forbidden", "another company")
        expectProblem(try gw.client(other).get("/api/v1/registrations/reg-unknown"), 404, "not-found")

        // Operators only decide and list.
        for client in [companyClient, try gw.client(token: ministryToken)] {
            expectProblem(try client.post("/api/v1/registrations/\(id)/approve", json: "{}"), 403, "forbidden", "operator role")
            expectProblem(try client.get("/api/v1/registrations?status=pending"), 403, "forbidden")
        }
        expectProblem(try gw.client().post("/api/v1/registrations/\(id)/approve", json: "{}"), 401, "unauthenticated")
        let ops = try gw.client(token: operatorToken)
        let pending = try ops.get("/api/v1/registrations?status=pending")
        XCTAssertEqual((pending.json["items"] as? [[String: Any]])?.map { $0["id"] as? String }, [id])
        expectProblem(try ops.get("/api/v1/registrations?status=maybe"), 422, "invalid-request")
        expectProblem(try ops.post("/api/v1/registrations/reg-unknown/approve", json: "{}"), 404, "not-found")
        expectProblem(try ops.get("/api/v1/registrations/\(id)/approve"), 405, "method-not-allowed")

        let approved = try ops.post("/api/v1/registrations/\(id)/approve", json: "{}")
        XCTAssertEqual(approved.status, 200, approved.text)
        XCTAssertEqual(approved.json["status"] as? String, "approved")
        XCTAssertEqual(approved.json["decidedBy"] as? String, "operator:ops")
        XCTAssertEqual(approved.json["connection"] as? String, "registration-\(id)")
        expectProblem(try ops.post("/api/v1/registrations/\(id)/reject", json: "{\"reason\": \"late\"}"), 409, "conflict", "approved")

        // Approved: its certificate reads the mailbox, documents route to it.
        XCTAssertEqual(try companyClient.get("/api/v1/inbox?address=\(address)").status, 200)
        expectProblem(try companyClient.get("/api/v1/inbox?address=DVS@90000048472"), 403, "forbidden")
        let sent = try send(to: "INVOICES@\(Self.company)")
        XCTAssertEqual(sent.status, 202, sent.text)
        let inbox = try companyClient.get("/api/v1/inbox?address=INVOICES@\(Self.company)")
        XCTAssertEqual((inbox.json["items"] as? [Any])?.count, 1, inbox.text)
        let connections = try GatewayProcess.run(["connections", "list", "--data", gw.data])
        XCTAssertTrue(connections.stdout.contains("registration-\(id)"), connections.stdout)

        let history = (try ops.get("/api/v1/registrations/\(id)").json["history"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
        XCTAssertEqual(history, ["registered", "approved", "connection-created", "directory-updated"])
    }

    /// Holding an address is reading all its mail, so approval makes no second holder of an
    /// address another active connection holds, as `connections add` without `--shared`: 409
    /// naming the address and its holder, the registration left pending and nothing made. A
    /// revoked holder is none; `"shared": true` shares an address on purpose.
    func testApprovalRefusesAnAddressAnotherConnectionHoldsUnlessShared() throws {
        let address = "_DEFAULT@\(Self.company)"
        let legacyToken = try gw.h.addConnection("gw-a", name: "company-dms", addresses: [address])
        let made = try register(try gw.client(companyCert), "{\"kind\": \"dms\", \"addresses\": [\"\(address)\", \"INVOICES@\(Self.company)\"]}")
        let id = try XCTUnwrap(made.json["id"] as? String, made.text)
        let ops = try gw.client(token: operatorToken)
        let refused = try ops.post("/api/v1/registrations/\(id)/approve", json: "{}")
        expectProblem(refused, 409, "conflict", "\(address) is held by connection company-dms already")
        let detail = refused.json["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains("stays pending") && detail.contains("{\"shared\": true}"), refused.text)
        let after = try ops.get("/api/v1/registrations/\(id)")
        XCTAssertEqual(after.json["status"] as? String, "pending")
        XCTAssertEqual((after.json["history"] as? [[String: Any]])?.compactMap { $0["action"] as? String }, ["registered"], after.text)
        func connectionNames() throws -> [String] {
            try GatewayProcess.run(["connections", "list", "--data", gw.data]).stdout.split(separator: "\n")
                .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.compactMap { $0["name"] as? String }
        }
        XCTAssertFalse(try connectionNames().contains("registration-\(id)"))
        expectProblem(try gw.client(companyCert).get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")
        XCTAssertTrue(gw.h.nodes["gw-a"]!.log.contains("event=registration-address-held"), gw.h.nodes["gw-a"]!.log)
        expectProblem(try ops.post("/api/v1/registrations/\(id)/approve", json: "{\"shared\": \"yes\"}"), 422, "invalid-request", "shared")

        // The holder revoked, the address is free.
        XCTAssertEqual(try GatewayProcess.run(["connections", "revoke", "company-dms", "--data", gw.data]).status, 0)
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)
        XCTAssertEqual(try gw.client(companyCert).get("/api/v1/inbox?address=\(address)").status, 200)
        expectProblem(try gw.client(token: legacyToken).get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")

        // The ministry's DMS registered by its institution: the address is the `ministry`
        // connection's, and the operator shares it on purpose.
        let institution = try gw.issue("ministry", organizationIdentifier: "NTRLV-90000048472")
        let second = try register(try gw.client(institution), "{\"kind\": \"dms\", \"addresses\": [\"\(Self.ministry)\"]}")
        let secondId = try XCTUnwrap(second.json["id"] as? String, second.text)
        expectProblem(try ops.post("/api/v1/registrations/\(secondId)/approve", json: "{}"), 409, "conflict",
                      "\(Self.ministry) is held by connection ministry already")
        let shared = try ops.post("/api/v1/registrations/\(secondId)/approve", json: "{\"shared\": true}")
        XCTAssertEqual(shared.status, 200, shared.text)
        XCTAssertEqual(shared.json["connection"] as? String, "registration-\(secondId)")
        XCTAssertTrue(gw.h.nodes["gw-a"]!.log.contains("event=registration-address-shared"), gw.h.nodes["gw-a"]!.log)
        for client in [try gw.client(institution), try gw.client(token: ministryToken)] {
            XCTAssertEqual(try client.get("/api/v1/inbox?address=\(Self.ministry)").status, 200, "both hold it")
        }
    }

    /// An institution (registration number starting with 9) registering its DMS stays an
    /// institution in the directory, as the messaging policy judged its address before: it may
    /// write to a person, while a company's DMS registered the same way still may not.
    func testAnInstitutionsDMSKeepsTheOwnerKindOfItsNumber() throws {
        let person = "_PRIVATE@16117519997"
        try gw.h.importDirectory("gw-a", [GatewayHarness.localEntry(person, ownerId: "16117519997", kind: "naturalPerson")])
        let ops = try gw.client(token: operatorToken)
        func approvedDMS(_ number: String) throws -> BackendClient {
            let client = try gw.client(try gw.issue("dms-\(number)", organizationIdentifier: "NTRLV-\(number)"))
            let made = try register(client, "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@\(number)\"]}")
            let id = try XCTUnwrap(made.json["id"] as? String, made.text)
            let approved = try ops.post("/api/v1/registrations/\(id)/approve", json: "{}")
            XCTAssertEqual(approved.status, 200, approved.text)
            return client
        }
        func toPerson(_ client: BackendClient, from number: String) throws -> BackendClient.Reply {
            try client.submit(metadata: BackendClient.metadata(from: "_DEFAULT@\(number)", to: [person]), files: [("a.txt", Array("A".utf8))])
        }
        let institution = try approvedDMS("90000000001")
        let lookup = try GatewayProcess.run(["directory", "lookup", "_DEFAULT@90000000001", "--json", "--data", gw.data])
        XCTAssertEqual(lookup.json?["ownerKind"] as? String, "institution", lookup.stdout + lookup.stderr)
        let sent = try toPerson(institution, from: "90000000001")
        XCTAssertEqual(sent.status, 202, "institution → person is always allowed: \(sent.text)")

        let company = try approvedDMS(Self.company)
        let companyLookup = try GatewayProcess.run(["directory", "lookup", "_DEFAULT@\(Self.company)", "--json", "--data", gw.data])
        XCTAssertEqual(companyLookup.json?["ownerKind"] as? String, "company", companyLookup.stdout)
        let refused = try toPerson(company, from: Self.company)
        XCTAssertEqual(refused.status, 422, refused.text)
        XCTAssertTrue(refused.text.contains("PolicyForbidden"), refused.text)
    }

    func testRejectionNeedsAReasonAndRoutesNothing() throws {
        let companyClient = try gw.client(companyCert)
        let made = try register(companyClient, "{\"kind\": \"dms\", \"addresses\": [\"X@\(Self.company)\"]}")
        let id = try XCTUnwrap(made.json["id"] as? String, made.text)
        let ops = try gw.client(token: operatorToken)
        expectProblem(try ops.post("/api/v1/registrations/\(id)/reject", json: "{}"), 422, "invalid-request", "reason")
        expectProblem(try companyClient.post("/api/v1/registrations/\(id)/reject", json: "{\"reason\": \"mine\"}"), 403, "forbidden")
        let rejected = try ops.post("/api/v1/registrations/\(id)/reject", json: "{\"reason\": \"the contract is not signed\"}")
        XCTAssertEqual(rejected.status, 200, rejected.text)
        XCTAssertEqual(rejected.json["reason"] as? String, "the contract is not signed")
        XCTAssertEqual(try companyClient.get("/api/v1/registrations/\(id)").json["status"] as? String, "rejected", "the company reads why")
        expectProblem(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}"), 409, "conflict", "rejected")
        expectProblem(try companyClient.get("/api/v1/inbox?address=X@\(Self.company)"), 401, "unauthenticated")
        XCTAssertEqual(try send(to: "X@\(Self.company)").status, 422)
        let roll = try gw.issue("company-a2", organizationIdentifier: "NTRLV-\(Self.company)")
        expectProblem(try companyClient.post("/api/v1/registrations/\(id)/certificates", json: "{\"certificate\": \(jsonString(roll.pem))}"),
                      409, "conflict", "rejected")
        // The address is free again for a new registration.
        XCTAssertEqual(try register(companyClient, "{\"kind\": \"dms\", \"addresses\": [\"X@\(Self.company)\"]}").status, 202)
    }

    func testRollOverOverlapsAndRevocationCountsAtOnce() throws {
        let companyClient = try gw.client(companyCert)
        let address = "_DEFAULT@\(Self.company)"
        let id = try XCTUnwrap(try register(companyClient, "{\"kind\": \"dms\", \"addresses\": [\"\(address)\"]}").json["id"] as? String)
        let ops = try gw.client(token: operatorToken)
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)

        // The successor expires in 10 days: it is in the 30-day report, not in the 5-day one.
        let successor = try gw.issue("company-a2", organizationIdentifier: "NTRLV-\(Self.company)", days: 10)
        let stranger = try gw.issue("company-c", organizationIdentifier: "NTRLV-\(Self.company)")
        let notOurs = try gw.issue("other", organizationIdentifier: "NTRLV-90000048472")
        let addBody = { (i: SelfServiceGateway.Identity) in "{\"certificate\": \(jsonString(i.pem)), \"overlapUntil\": \"2099-01-01T00:00:00Z\"}" }
        expectProblem(try gw.client(stranger).post("/api/v1/registrations/\(id)/certificates", json: addBody(successor)), 403, "forbidden",
                      "usable now")
        expectProblem(try companyClient.post("/api/v1/registrations/\(id)/certificates", json: addBody(notOurs)), 422, "invalid-request")
        expectProblem(try companyClient.post("/api/v1/registrations/\(id)/certificates",
                                             json: "{\"certificate\": \(jsonString(successor.pem)), \"overlapUntil\": \"2001-01-01T00:00:00Z\"}"),
                      422, "invalid-request")
        let added = try companyClient.post("/api/v1/registrations/\(id)/certificates", json: addBody(successor))
        XCTAssertEqual(added.status, 201, added.text)
        expectProblem(try companyClient.post("/api/v1/registrations/\(id)/certificates", json: addBody(successor)), 409, "conflict")
        // Overlap: both are accepted.
        XCTAssertEqual(try gw.client(successor).get("/api/v1/inbox?address=\(address)").status, 200)
        XCTAssertEqual(try companyClient.get("/api/v1/inbox?address=\(address)").status, 200)

        let report = try ops.get("/api/v1/registrations/expiring?days=30")
        XCTAssertEqual(report.status, 200, report.text)
        let expiring = report.json["certificates"] as? [[String: Any]] ?? []
        XCTAssertEqual(expiring.map { $0["sha256"] as? String }, [successor.sha256], report.text)
        XCTAssertEqual(expiring.first?["registrationNumber"] as? String, Self.company)
        XCTAssertEqual((expiring.first?["daysLeft"] as? NSNumber)?.intValue, 9)
        XCTAssertEqual((try ops.get("/api/v1/registrations/expiring?days=5").json["certificates"] as? [Any])?.count, 0)
        expectProblem(try ops.get("/api/v1/registrations/expiring?days=soon"), 422, "invalid-request")
        expectProblem(try companyClient.get("/api/v1/registrations/expiring"), 403, "forbidden")
        let cli = try GatewayProcess.run(["certs", "--registrations", "--days", "30", "--data", gw.data, "--json"])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        XCTAssertTrue(cli.stdout.contains(successor.sha256) && !cli.stdout.contains(companyCert.sha256), cli.stdout)
        let text = try GatewayProcess.run(["certs", "--registrations", "--data", gw.data])
        XCTAssertTrue(text.stdout.contains("EXPIRING") && text.stdout.contains(Self.company), text.stdout)
        XCTAssertEqual(try GatewayProcess.run(["certs", "--registrations", "--days", "-1", "--data", gw.data]).status, 2)

        // The successor revokes the old certificate: refused from the next request on.
        let revokePath = "/api/v1/registrations/\(id)/certificates/\(companyCert.sha256)/revoke"
        expectProblem(try gw.client(stranger).post(revokePath, json: "{}"), 403, "forbidden")
        let revoked = try gw.client(successor).post(revokePath, json: "{\"reason\": \"key retired\"}")
        XCTAssertEqual(revoked.status, 200, revoked.text)
        expectProblem(try companyClient.get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")
        expectProblem(try companyClient.get("/api/v1/registrations/\(id)"), 403, "forbidden", "revoked")
        expectProblem(try gw.client(successor).post(revokePath, json: "{}"), 409, "conflict")
        expectProblem(try ops.post("/api/v1/registrations/\(id)/certificates/\(String(repeating: "0", count: 64))/revoke", json: "{}"),
                      404, "not-found")
        XCTAssertEqual(try gw.client(successor).get("/api/v1/inbox?address=\(address)").status, 200)
        // The operator revokes the last one: the DMS is out.
        XCTAssertEqual(try ops.post("/api/v1/registrations/\(id)/certificates/\(successor.sha256)/revoke", json: "{}").status, 200)
        expectProblem(try gw.client(successor).get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")
        let history = (try ops.get("/api/v1/registrations/\(id)").json["history"] as? [[String: Any]] ?? [])
        XCTAssertEqual(history.compactMap { $0["action"] as? String }.suffix(3), ["certificate-added", "certificate-revoked", "certificate-revoked"])
        XCTAssertEqual(history.last?["actor"] as? String, "operator:ops")
    }

    func testTheOldCertificateStopsWhenTheOverlapEnds() throws {
        let companyClient = try gw.client(companyCert)
        let address = "_DEFAULT@\(Self.company)"
        let id = try XCTUnwrap(try register(companyClient, "{\"kind\": \"dms\", \"addresses\": [\"\(address)\"]}").json["id"] as? String)
        XCTAssertEqual(try gw.client(token: operatorToken).post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)
        let successor = try gw.issue("company-a2", organizationIdentifier: "NTRLV-\(Self.company)")
        // Six seconds leave room for the checks during the overlap on a loaded machine. Whole
        // seconds: the store keeps milliseconds, and a parsed fraction may round below them.
        let overlapEnd = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 6).rounded(.up))
        let end = overlapEnd.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let added = try companyClient.post("/api/v1/registrations/\(id)/certificates", json: "{\"certificate\": \(jsonString(successor.pem)), \"overlapUntil\": \"\(end)\"}")
        XCTAssertEqual(added.status, 201, added.text)
        let old = (added.json["certificates"] as? [[String: Any]])?.first { $0["sha256"] as? String == companyCert.sha256 }
        XCTAssertEqual(old?["usableUntil"] as? String, end, "the old certificate ends with the overlap")
        XCTAssertEqual(try companyClient.get("/api/v1/inbox?address=\(address)").status, 200, "during the overlap")
        XCTAssertEqual(try gw.client(successor).get("/api/v1/inbox?address=\(address)").status, 200)
        let report = try gw.client(token: operatorToken).get("/api/v1/registrations/expiring?days=1").json["certificates"] as? [[String: Any]]
        XCTAssertEqual(report?.map { $0["sha256"] as? String }, [companyCert.sha256], "ending with the overlap: in the report")
        Thread.sleep(until: overlapEnd.addingTimeInterval(0.5))
        expectProblem(try companyClient.get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")
        // Retired, the certificate it registered with manages nothing: no certificate of its choosing.
        let intruder = try gw.issue("company-a3", organizationIdentifier: "NTRLV-\(Self.company)")
        expectProblem(try companyClient.post("/api/v1/registrations/\(id)/certificates", json: "{\"certificate\": \(jsonString(intruder.pem))}"),
                      403, "forbidden", "usable now")
        XCTAssertEqual(try gw.client(successor).get("/api/v1/inbox?address=\(address)").status, 200)
        let after = try gw.client(token: operatorToken).get("/api/v1/registrations/expiring?days=1").json["certificates"] as? [[String: Any]]
        XCTAssertEqual(after?.count, 0, "a certificate retired by its successor is not reported as expired")
    }
}

/// `selfService.registrationTrust` narrows which of the truststore's CAs may vouch for a company.
final class SelfServiceRegistrationTrustTests: XCTestCase {
    func testOnlyCertificatesOfTheRegistrationCAsRegister() throws {
        let trust = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-registration-ca-\(UUID().uuidString).pem").path
        defer { try? FileManager.default.removeItem(atPath: trust) }
        let gw = try SelfServiceGateway(settings: "\"selfService\": {\"registrationTrust\": [\"\(trust)\"]}")
        // An intermediate CA under the development CA: the listener's chain check passes for both companies.
        let key = try PrivateKey.generateEC(curve: .p256)
        let intermediate = try gw.ca.issueCertificate(for: key.publicKey, subject: .init(commonName: "organisation certificates CA"),
                                                      validFrom: Date() - 3600, validUntil: Date() + 86_400 * 30,
                                                      keyUsage: [.keyCertSign, .cRLSign, .digitalSignature], isCA: true)
        try intermediate.pemEncoded().write(toFile: trust, atomically: true, encoding: .utf8)
        let organisations = try CertificateAuthority(key: key, certificate: intermediate)
        let vouched = try gw.issue("vouched", organizationIdentifier: "NTRLV-40003032949", issuer: organisations)
        let other = try gw.issue("other", organizationIdentifier: "NTRLV-90000048472")
        try gw.start()

        let refused = try gw.client(other).post("/api/v1/registrations", json: "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@90000048472\"]}")
        expectProblem(refused, 403, "forbidden", "registrationTrust")
        let made = try gw.client(vouched).post("/api/v1/registrations", json: "{\"kind\": \"dms\", \"addresses\": [\"_DEFAULT@40003032949\"]}")
        XCTAssertEqual(made.status, 202, made.text)
    }
}

