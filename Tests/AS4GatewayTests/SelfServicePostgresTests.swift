import Foundation
import XCTest

/// Two nodes of gw-a on one PostgreSQL store: a registration approved through one node serves
/// on the other, and a revocation through one is refused by the other at the next request.
final class SelfServicePostgresTests: XCTestCase {
    var server: ThrowAwayPostgres!

    override func tearDown() {
        server?.stop()
        server = nil
    }

    func testApprovalAndRevocationHoldOnEveryNode() throws {
        server = try ThrowAwayPostgres.start()
        let payloads = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-ss-pg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: payloads) }
        let gw = try SelfServiceGateway(settings: "\"store\": \"\(server.url)\", \"payloadDirectory\": \"\(payloads)\"")
        let h = gw.h
        let second = GatewayHarness.Node(name: "gw-a", as4Port: GatewayHarness.freePort(), submitPort: GatewayHarness.freePort(),
                                         data: h.root.appendingPathComponent("data-gw-a-node2").path,
                                         logPath: h.root.appendingPathComponent("gw-a-node2.log").path)
        second.extraArguments = ["--party", "gw-a", "--config", gw.configFile]
        h.nodes["gw-a-node2"] = second
        XCTAssertEqual(try GatewayProcess.run(["store", "migrate", "--config", gw.configFile]).status, 0)
        let added = try GatewayProcess.run(["connections", "add", "ops", "--role", "operator", "--config", gw.configFile])
        let operatorToken = try XCTUnwrap(added.json?["token"] as? String, added.stderr)
        let companyCert = try gw.issue("company-a", organizationIdentifier: "NTRLV-40003032949")
        try gw.start()
        try h.start("gw-a-node2")

        let address = "_DEFAULT@40003032949"
        let made = try gw.client(companyCert).post("/api/v1/registrations", json: "{\"kind\": \"dms\", \"addresses\": [\"\(address)\"]}")
        let id = try XCTUnwrap(made.json["id"] as? String, made.text)
        XCTAssertEqual(try gw.client(companyCert, node: "gw-a-node2").get("/api/v1/registrations/\(id)").json["status"] as? String, "pending")
        expectProblem(try gw.client(companyCert, node: "gw-a-node2").get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")
        XCTAssertEqual(try gw.client(token: operatorToken, node: "gw-a-node2").post("/api/v1/registrations/\(id)/approve", json: "{}").status, 200)
        XCTAssertEqual(try gw.client(companyCert).get("/api/v1/inbox?address=\(address)").status, 200, "approved on node 2, served by node 1")
        XCTAssertEqual(try gw.client(companyCert, node: "gw-a-node2").get("/api/v1/inbox?address=\(address)").status, 200)
        let revoke = "/api/v1/registrations/\(id)/certificates/\(companyCert.sha256)/revoke"
        XCTAssertEqual(try gw.client(token: operatorToken).post(revoke, json: "{}").status, 200)
        // Revoked through node 1, refused by node 2 at once.
        expectProblem(try gw.client(companyCert, node: "gw-a-node2").get("/api/v1/inbox?address=\(address)"), 401, "unauthenticated")
        let history = try gw.client(token: operatorToken, node: "gw-a-node2").get("/api/v1/registrations/\(id)").json["history"] as? [[String: Any]]
        XCTAssertEqual(history?.compactMap { $0["action"] as? String },
                       ["registered", "approved", "connection-created", "directory-updated", "certificate-revoked"])
    }
}
