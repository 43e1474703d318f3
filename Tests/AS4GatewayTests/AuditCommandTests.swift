import Foundation
@testable import MessageStore
import XCTest

/// `as4gw audit verify` on the stores of real use: an untouched store verifies; a row changed,
/// removed or added behind the gateway's back is named at its link (table, event id, message id,
/// expected and found), on SQLite and on PostgreSQL.
final class AuditCommandTests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let institution = "_DEFAULT@90000048472"

    func audit(_ store: [String], json: Bool = false) throws -> GatewayProcess.Result {
        try GatewayProcess.run(["audit", "verify"] + store + (json ? ["--json"] : []))
    }

    /// Inbound AS4 messages with two events each, straight into the store.
    static func writeMessageEvents(_ store: any MessageStore, count: Int) throws {
        let t0 = Date(timeIntervalSince1970: 1_790_000_000)
        for n in 1...count {
            let metadata = MessageMetadata(messageId: "as4-\(n)@test", conversationId: "c", refToMessageId: nil, fromParty: "gw-b",
                                           toParty: "gw-a", service: "s", action: "a", pmodeId: nil, mpc: nil)
            _ = try store.recordInbound(InboundMessage(metadata: metadata, parts: [], storedPath: "/x", receivedAt: t0, receipt: nil),
                                        duplicateWindow: 60)
            try store.markHandedOver(messageId: "as4-\(n)@test", at: t0 + 1)
        }
    }

    func testAGatewaysHistoryVerifiesAndATamperedDocumentEventIsNamed() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [Self.sender]))
        let recipient = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "institution", addresses: [Self.institution]))
        try h.start("gw-a")
        var ids: [String] = []
        for _ in 0..<2 {
            let r = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.institution]), files: [("a.txt", [1, 2, 3])])
            XCTAssertEqual(r.status, 202, r.text)
            ids.append(try XCTUnwrap(r.json["messageId"] as? String))
        }
        XCTAssertEqual(try recipient.get("/api/v1/messages/\(ids[0])/files/1").status, 200)
        XCTAssertEqual(try recipient.post("/api/v1/messages/\(ids[0])/confirm", json: "{\"decision\": \"accept\"}").status, 200)
        h.stop("gw-a")
        let data = h.nodes["gw-a"]!.data
        let store = try SQLiteMessageStore(dataDirectory: data)
        try Self.writeMessageEvents(store, count: 3)
        store.close()

        var r = try audit(["--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("events: 6 chained, 0 purged, 0 unchained, intact"), r.stdout)
        XCTAssertTrue(r.stdout.contains("document_events: 4 chained, 0 purged, 0 unchained, intact"), r.stdout)

        // Someone with the database file turns the acceptance (event 4) into a rejection.
        let sql = try SQLiteConnection(path: data + "/messages.sqlite")
        try sql.execute(script: """
            DROP TRIGGER document_events_no_update; DROP TRIGGER events_no_delete;
            UPDATE document_events SET status = 'RecipientRejected' WHERE id = 4;
            """)
        r = try audit(["--data", data])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("events: 6 chained, 0 purged, 0 unchained, intact"), r.stdout)
        XCTAssertTrue(r.stdout.contains("document_events: 3 chained, 0 purged, 0 unchained, BROKEN at event 4 (message \(ids[0])): hash expected "), r.stdout)
        XCTAssertTrue(r.stderr.contains("broken link: document_events event 4 (message \(ids[0])): hash expected"), r.stderr)

        // And removes an AS4 message's event: the next one no longer links.
        try sql.execute(script: "DELETE FROM events WHERE id = 3")
        sql.close()
        r = try audit(["--data", data], json: true)
        XCTAssertEqual(r.status, 1)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["intact"] as? Bool, false)
        let chains = try XCTUnwrap(report["chains"] as? [[String: Any]])
        let broken = try XCTUnwrap(chains.first { $0["table"] as? String == "events" }?["firstBreak"] as? [String: Any])
        XCTAssertEqual(broken["eventId"] as? Int, 4)
        XCTAssertEqual(broken["messageId"] as? String, "as4-2@test")
        XCTAssertEqual(broken["field"] as? String, "prev_hash")

        XCTAssertEqual(try GatewayProcess.run(["audit"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["audit", "verify", "--frobnicate"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["audit", "verify", "--store", "mysql://x"]).status, 2)
    }

    func testOnPostgreSQLAnInsertedEventIsNamed() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let store = try PostgresMessageStore(url: server.url, payloadDirectory: nil, schema: .migrate)
        try Self.writeMessageEvents(store, count: 2)
        store.close()
        var r = try audit(["--store", server.url])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("events: 4 chained, 0 purged, 0 unchained, intact"), r.stdout)
        XCTAssertTrue(r.stdout.contains("document_events: 0 chained"), r.stdout)

        // An event added with psql, with a made-up hash that claims the right predecessor.
        let last = try XCTUnwrap(r.stdout.range(of: #"(?<=events: 4 chained, 0 purged, 0 unchained, intact, last hash )[0-9a-f]{64}"#,
                                                options: .regularExpression))
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        psql.arguments = [server.url, "-q", "-v", "ON_ERROR_STOP=1", "-c", """
            INSERT INTO events (message_row, at, direction, status, detail, prev_hash, hash)
            VALUES (1, 0, 'in', 'Retrieved', 'never happened', '\(r.stdout[last])', '\(String(repeating: "0", count: 63))1')
            """]
        try psql.run()
        psql.waitUntilExit()
        XCTAssertEqual(psql.terminationStatus, 0)
        r = try audit(["--store", server.url])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("events: 4 chained, 0 purged, 0 unchained, BROKEN at event 5 (message as4-1@test): hash expected "), r.stdout)
    }

    /// A legal hold released by hand into 1970 (the triggers dropped first, since they refuse it
    /// now) and its document purged: `audit verify` names the hold, where it said "intact".
    func testAHoldReleasedBeforeItWasPlacedIsNamed() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        let company = "_DEFAULT@40003032949", invoices = "INVOICES@40003032949"
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(company, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(invoices, ownerId: "40003032949", kind: "company")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [company]))
        let ops = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"]))
        // Kept no time: only a hold keeps it.
        let config = try h.file("retention.json", Array("{\"retention\": {\"company\": 0, \"purgeIntervalSeconds\": 3600}}".utf8))
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        try h.start("gw-a")
        let sent = try dms.submit(metadata: BackendClient.metadata(from: company, to: [invoices]), files: [("a.txt", [1, 2, 3])])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        let hold = try ops.post("/api/v1/legal-holds", json: "{\"messageId\": \"\(id)\", \"reason\": \"court\"}")
        XCTAssertEqual(hold.status, 201, hold.text)
        let holdId = try XCTUnwrap(hold.json["id"] as? Int)
        h.stop("gw-a")
        let data = h.nodes["gw-a"]!.data

        var r = try audit(["--data", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("legal_holds: 1 holds, 0 purges checked, kept"), r.stdout)

        let sql = try SQLiteConnection(path: data + "/messages.sqlite")
        XCTAssertThrowsError(try sql.run("UPDATE legal_holds SET released_by = 'x', released_at = 1 WHERE id = \(holdId)"), "the trigger refuses it")
        try sql.execute(script: """
            DROP TRIGGER legal_holds_release_checked;
            UPDATE legal_holds SET released_by = 'x', released_at = 1 WHERE id = \(holdId);
            """)
        sql.close()
        let purged = try GatewayProcess.run(["retention", "purge", "--data", data])
        XCTAssertEqual(purged.status, 0, purged.stderr)
        XCTAssertTrue(purged.stdout.contains(id), purged.stdout)

        r = try audit(["--data", data])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("legal_holds: 1 holds, 1 purges checked, 1 NOT KEPT"), r.stdout)
        XCTAssertTrue(r.stderr.contains("legal hold not kept: legal hold \(holdId) was released at 1970-01-01T00:00:00.001Z by x, before it was placed"),
                      r.stderr)
        r = try audit(["--data", data], json: true)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.json?["intact"] as? Bool, false)
        XCTAssertEqual(((r.json?["legalHolds"] as? [String: Any])?["findings"] as? [[String: Any]])?.first?["holdId"] as? Int, holdId)
    }
}
