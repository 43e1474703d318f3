@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// Retention and legal holds through the API and the operators' commands, with real gateway
/// processes: no route deletes a document, the purge leaves what is retained or held, holds are
/// placed and released by operators only, and a purged document answers 410.
final class BackendAPIRetentionTests: XCTestCase {
    let sender = "DVS@90000048472", company = "_DEFAULT@40003032949", archive = "ARHIVS@40003032949"

    func entry(_ address: String, kind: String, ownerId: String, extra: String = "") -> String {
        "{\"address\": \"\(address)\", \"ownerId\": \"\(ownerId)\", \"ownerKind\": \"\(kind)\", \"accessPoint\": \"local\"\(extra)}"
    }

    /// `as4gw retention purge` on a node's store, beside the running daemon; returns the JSON summary.
    func purge(_ h: GatewayHarness, dryRun: Bool = false) throws -> [String: Any] {
        let r = try GatewayProcess.run(["retention", "purge", "--data", h.nodes["gw-a"]!.data] + (dryRun ? ["--dry-run"] : []))
        XCTAssertEqual(r.status, 0, r.stderr)
        lastPurgeLog = r.stderr
        return r.json ?? [:]
    }
    /// What the last `purge` wrote on stderr.
    var lastPurgeLog = ""

    func ids(_ summary: [String: Any], _ key: String) -> [String] {
        ((summary[key] as? [Any]) ?? []).compactMap { ($0 as? String) ?? (($0 as? [String: Any])?["messageId"] as? String) }.sorted()
    }

    /// A hold's reason is the operator's free text and often names whose case it is: its log
    /// lines (placed and released) mask a bare personal code in it, in either spelling, and keep
    /// the rest (a company's registration number, the case number) for the reader.
    func testAHoldsLogLinesMaskAPersonalCodeInItsReason() {
        let hold = LegalHold(id: 4, target: .message("m-1"), reason: "court case 7/2026, person 010190-12306 and 32123456789, company 40003032949",
                             placedBy: "ops", placedAt: Date())
        let fields = RetentionRoutes.logFields(hold, by: "ops")
        XCTAssertEqual(fields["reason"] ?? nil, "court case 7/2026, person *********** and ***********, company 40003032949")
        XCTAssertEqual(fields["document_id"] ?? nil, "m-1")
        XCTAssertEqual(fields["by"] ?? nil, "ops")
    }

    func testNoRouteDeletesADocumentAndItIsKeptForTheLongestRetentionOfItsAddresses() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [entry(sender, kind: "institution", ownerId: "90000048472"),
                                       entry(company, kind: "company", ownerId: "40003032949"),
                                       entry(archive, kind: "company", ownerId: "40003032949", extra: ", \"retentionDays\": 4000")])
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        try h.start("gw-a")

        let before = Date()
        let toCompany = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [company]), files: [("a.txt", Array("kept".utf8))])
        let toArchive = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [archive]), files: [("b.txt", Array("kept".utf8))])
        let companyId = try XCTUnwrap(toCompany.json["messageId"] as? String, toCompany.text)
        let archiveId = try XCTUnwrap(toArchive.json["messageId"] as? String, toArchive.text)
        let after = Date()

        // No method on the document's routes deletes it.
        for path in ["/api/v1/messages/\(companyId)", "/api/v1/messages/\(companyId)/files/1"] {
            let reply = try dms.request("DELETE", path)
            XCTAssertEqual(reply.status, 405, "\(path): \(reply.text)")
            XCTAssertEqual(reply.json["type"] as? String, "urn:as4gw:problem:method-not-allowed")
        }
        // The purge leaves documents whose retention has not ended.
        let summary = try purge(h)
        XCTAssertEqual(ids(summary, "purged"), [])
        XCTAssertEqual(try dms.get("/api/v1/messages/\(companyId)").status, 200)

        // Sender institution (3650 days by default) outlasts the company (1825); the archive
        // address's own retentionDays (4000) outlasts both.
        let store = try SQLiteRetentionStore(dataDirectory: h.nodes["gw-a"]!.data)
        defer { store.close() }
        func days(_ id: String) throws -> ClosedRange<Double> {
            let until = try XCTUnwrap(try store.retainUntil(messageId: id) ?? nil)
            return (until.timeIntervalSince(after) / 86_400)...(until.timeIntervalSince(before) / 86_400)
        }
        let companyDays = try days(companyId), archiveDays = try days(archiveId)
        XCTAssertTrue(companyDays.contains(3650), "\(companyDays)")
        XCTAssertTrue(archiveDays.contains(4000), "\(archiveDays)")
        // The message view tells when the document may go.
        let shown = try XCTUnwrap(try dms.get("/api/v1/messages/\(archiveId)").json["retainUntil"] as? String)
        let stored = try XCTUnwrap(try store.retainUntil(messageId: archiveId) ?? nil)
        XCTAssertEqual(ISO8601DateFormatter().date(from: shown)?.timeIntervalSince1970 ?? 0, stored.timeIntervalSince1970, accuracy: 1)
    }

    func testThePurgeHonoursLegalHoldsAndPurgedDocumentsAnswerGone() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [entry(sender, kind: "institution", ownerId: "90000048472"),
                                       entry(company, kind: "company", ownerId: "40003032949"),
                                       entry(archive, kind: "company", ownerId: "40003032949")])
        // Retention 0 days: every document is due at once; the daemon's own purge runs at its
        // start and then hourly, so the operator's command decides when in between.
        let config = try h.file("retention.json", Array("""
            {"retention": {"institution": 0, "company": 0, "naturalPerson": 0, "purgeIntervalSeconds": 3600}}
            """.utf8))
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let mailbox = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "mailbox", addresses: [company, archive]))
        let ops = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"]))
        let stranger = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "stranger", addresses: ["_DEFAULT@90000048472"]))
        try h.start("gw-a")

        func submit(_ to: String, _ text: String) throws -> String {
            let r = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [to]), files: [("f.txt", Array(text.utf8))])
            return try XCTUnwrap(r.json["messageId"] as? String, r.text)
        }
        let heldByMessage = try submit(company, "one"), free = try submit(company, "two"), heldByAddress = try submit(archive, "three")

        // Only operators place holds, and only well-formed ones.
        XCTAssertEqual(try dms.post("/api/v1/legal-holds", json: "{\"messageId\": \"\(free)\", \"reason\": \"x\"}").status, 403)
        XCTAssertEqual(try dms.get("/api/v1/legal-holds").status, 403)
        let both = try ops.post("/api/v1/legal-holds", json: "{\"messageId\": \"\(free)\", \"address\": \"\(archive)\", \"reason\": \"x\"}")
        XCTAssertEqual(both.status, 422, both.text)
        let noReason = try ops.post("/api/v1/legal-holds", json: "{\"messageId\": \"\(free)\"}")
        XCTAssertEqual(noReason.status, 422)
        XCTAssertEqual((noReason.json["errors"] as? [[String: Any]])?.first?["pointer"] as? String, "/reason")
        XCTAssertEqual(try ops.post("/api/v1/legal-holds", json: "{\"address\": \"not an address\", \"reason\": \"x\"}").status, 422)
        XCTAssertEqual(try ops.post("/api/v1/legal-holds", json: "{\"messageId\": \"no-such\", \"reason\": \"x\"}").status, 404)

        let messageHold = try ops.post("/api/v1/legal-holds", json: "{\"messageId\": \"\(heldByMessage)\", \"reason\": \"court order 12/2026\"}")
        XCTAssertEqual(messageHold.status, 201, messageHold.text)
        XCTAssertEqual(messageHold.json["placedBy"] as? String, "ops")
        XCTAssertEqual(messageHold.json["active"] as? Bool, true)
        let messageHoldId = try XCTUnwrap((messageHold.json["id"] as? NSNumber)?.intValue)
        // Where the placement's Location points: the hold, to operators only.
        let location = try XCTUnwrap(messageHold.headers.first { $0.0.lowercased() == "location" }?.1)
        XCTAssertEqual(location, "/api/v1/legal-holds/\(messageHoldId)")
        let shownHold = try ops.get(location)
        XCTAssertEqual(shownHold.status, 200, shownHold.text)
        XCTAssertEqual(shownHold.json["messageId"] as? String, heldByMessage)
        XCTAssertEqual(shownHold.json["reason"] as? String, "court order 12/2026")
        XCTAssertEqual(try dms.get(location).status, 403)
        XCTAssertEqual(try ops.get("/api/v1/legal-holds/9999").status, 404)
        XCTAssertEqual(try ops.get("/api/v1/legal-holds/x").status, 404)
        XCTAssertEqual(try ops.call("DELETE", location, json: nil).status, 405)
        let addressHold = try ops.post("/api/v1/legal-holds", json: "{\"address\": \"arhivs@40003032949\", \"reason\": \"audit\"}")
        XCTAssertEqual(addressHold.status, 201, addressHold.text)
        XCTAssertEqual(addressHold.json["address"] as? String, archive, "kept in canonical spelling")
        let addressHoldId = try XCTUnwrap((addressHold.json["id"] as? NSNumber)?.intValue)

        // A dry run names what would go and removes nothing.
        let dry = try purge(h, dryRun: true)
        XCTAssertEqual(ids(dry, "due"), [free])
        XCTAssertEqual(ids(dry, "held"), [heldByMessage, heldByAddress].sorted())
        XCTAssertEqual(try dms.get("/api/v1/messages/\(free)").status, 200)
        // Its summary line says it was a dry run: "purged=0" alone reads as "nothing was due".
        let dryLine = lastPurgeLog.split(separator: "\n").first { $0.contains("event=retention-purge ") }
        XCTAssertTrue(dryLine?.contains("dry_run=true") ?? false, lastPurgeLog)
        XCTAssertTrue(dryLine?.contains("would_purge=1") ?? false, lastPurgeLog)
        // Holds are logged with the document or address held and their reason.
        let holdLines = h.nodes["gw-a"]!.log.split(separator: "\n").filter { $0.contains("event=legal-hold-placed") }
        XCTAssertTrue(holdLines.contains { $0.contains("document_id=\(heldByMessage)") && $0.contains("reason=\"court order 12/2026\"") && $0.contains("by=ops") },
                      holdLines.joined(separator: "\n"))
        XCTAssertTrue(holdLines.contains { $0.contains("address=\(archive)") && $0.contains("reason=audit") }, holdLines.joined(separator: "\n"))
        XCTAssertFalse(holdLines.contains { $0.contains("target=") }, holdLines.joined(separator: "\n"))

        let mailboxStore = try SQLiteMailboxStore(dataDirectory: h.nodes["gw-a"]!.data)
        let freeFile = try XCTUnwrap(try mailboxStore.document(messageId: free)?.files.first?.file.path)
        mailboxStore.close()
        XCTAssertTrue(FileManager.default.fileExists(atPath: freeFile))
        let first = try purge(h)
        XCTAssertFalse(FileManager.default.fileExists(atPath: freeFile), "the payload file goes with the document")
        XCTAssertFalse(lastPurgeLog.contains("dry_run"), lastPurgeLog)
        // The command logs as the daemon's purge does, and records the system account that ran it.
        XCTAssertTrue(lastPurgeLog.contains("event=document-purged document_id=\(free)"), lastPurgeLog)
        let records = try SQLiteRetentionStore(dataDirectory: h.nodes["gw-a"]!.data)
        XCTAssertEqual(try records.purges(messageId: free).first?.purgedBy, "cli:" + CLI.operatorAccount())
        records.close()
        XCTAssertEqual(ids(first, "purged"), [free])
        XCTAssertEqual(ids(first, "held"), [heldByMessage, heldByAddress].sorted())
        for (client, path) in [(dms, "/api/v1/messages/\(free)"), (mailbox, "/api/v1/messages/\(free)"), (mailbox, "/api/v1/messages/\(free)/files/1"),
                               (dms, "/api/v1/messages/\(free)/evidence")] {
            let gone = try client.get(path)
            XCTAssertEqual(gone.status, 410, "\(path): \(gone.text)")
            XCTAssertEqual(gone.json["type"] as? String, "urn:as4gw:problem:gone")
            XCTAssertNotNil(gone.json["purgedAt"] as? String)
        }
        XCTAssertEqual(try ops.get("/api/v1/messages/\(free)").status, 410, "operators see purges too")
        XCTAssertEqual(try stranger.get("/api/v1/messages/\(free)").status, 403, "as for a document still held")
        XCTAssertEqual(try mailbox.get("/api/v1/messages/never-was").status, 404)
        XCTAssertEqual(try mailbox.get("/api/v1/messages/\(heldByMessage)/files/1").body, Array("one".utf8))
        XCTAssertEqual(try mailbox.get("/api/v1/messages/\(heldByAddress)/files/1").body, Array("three".utf8))
        XCTAssertEqual(try ops.post("/api/v1/legal-holds", json: "{\"messageId\": \"\(free)\", \"reason\": \"late\"}").status, 410)

        // Releasing: once, by an operator; the document goes at the next purge.
        XCTAssertEqual(try dms.post("/api/v1/legal-holds/\(messageHoldId)/release", json: "{}").status, 403)
        let released = try ops.post("/api/v1/legal-holds/\(messageHoldId)/release", json: "{}")
        XCTAssertEqual(released.status, 200, released.text)
        XCTAssertEqual(released.json["active"] as? Bool, false)
        XCTAssertEqual(released.json["releasedBy"] as? String, "ops")
        XCTAssertTrue(h.nodes["gw-a"]!.log.split(separator: "\n").contains {
            $0.contains("event=legal-hold-released") && $0.contains("document_id=\(heldByMessage)") && $0.contains("reason=\"court order 12/2026\"")
        }, h.nodes["gw-a"]!.log)
        XCTAssertEqual(try ops.post("/api/v1/legal-holds/\(messageHoldId)/release", json: "{}").status, 409)
        XCTAssertEqual(try ops.post("/api/v1/legal-holds/9999/release", json: "{}").status, 404)
        let active = try ops.get("/api/v1/legal-holds?active=true").json["items"] as? [[String: Any]]
        XCTAssertEqual(active?.compactMap { ($0["id"] as? NSNumber)?.intValue }, [addressHoldId])
        XCTAssertEqual((try ops.get("/api/v1/legal-holds").json["items"] as? [Any])?.count, 2)

        let second = try purge(h)
        XCTAssertEqual(ids(second, "purged"), [heldByMessage])
        XCTAssertEqual(ids(second, "held"), [heldByAddress])
        XCTAssertEqual(try mailbox.get("/api/v1/messages/\(heldByAddress)").status, 200)

        // The daemon's own purge (at its start) takes the last one once its address is released.
        XCTAssertEqual(try ops.post("/api/v1/legal-holds/\(addressHoldId)/release", json: "{}").status, 200)
        h.stop("gw-a")
        try h.start("gw-a")
        try h.waitUntil(timeout: 20, "the daemon's purge") { try mailbox.get("/api/v1/messages/\(heldByAddress)").status == 410 }
        // Logged after the purge commits: waited for, not read at once.
        try h.waitUntil(timeout: 20, "gw-a to log the purge") {
            h.nodes["gw-a"]!.log.split(separator: "\n").contains { $0.contains("event=document-purged") && $0.contains("document_id=\(heldByAddress)") }
        }
        XCTAssertEqual(try ops.get("/api/v1/addresses/\(company)/limits").json["mailboxUsedBytes"] as? NSNumber, 0)
    }
}

/// A submission's idempotency key names its first message for as long as that is kept: the
/// purge removes the key with the document. One whose message the purge took between the key's
/// lookup and reading the message back is answered 410 Gone, as the message's own routes answer,
/// not 404 as if it never was.
final class IdempotentReplayAfterPurgeTests: XCTestCase {
    func testAReplayWhoseFirstMessageWasPurgedIsGone() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        let node = try InProcessNode(h, party: "gw-a")
        let past = Date().addingTimeInterval(-86_400)
        var d = NewDocument(messageId: "replayed@gw-a", connection: "dms", idempotencyKey: "k-1", sender: "DVS@90000048472",
                            metadata: "{}", files: [], recipients: [.init(address: "_DEFAULT@40003032949", route: .mailbox, status: .accepted)])
        d.retainUntil = past
        XCTAssertEqual(try node.context.mailbox.insertDocument(d, notifications: [], at: past), .stored)
        XCTAssertEqual(try SubmitRoute.replayed("replayed@gw-a", fingerprint: "", connection: "dms", node.context).status, 200, "kept: the first answer")
        _ = try node.context.retention.purgeDocument(messageId: "replayed@gw-a", by: "test", now: Date(), carrier: nil)
        XCTAssertNil(try node.context.mailbox.documentId(connection: "dms", idempotencyKey: "k-1"), "the key went with the document")

        for id in ["replayed@gw-a", "never-held@gw-a"] {
            XCTAssertThrowsError(try SubmitRoute.replayed(id, fingerprint: "", connection: "dms", node.context), id) { error in
                let p = error as? Problem
                XCTAssertEqual(p?.status, 410, "\(id): \(String(describing: p))")
                XCTAssertEqual(p?.type, "gone")
            }
        }
        do {
            _ = try SubmitRoute.replayed("replayed@gw-a", fingerprint: "", connection: "dms", node.context)
        } catch let p as Problem {
            XCTAssertTrue(p.extensions.contains { $0.0 == "purgedAt" }, "the purge's time, as the message's own routes give it")
        }
    }
}

extension BackendClient {
    /// Any method without a body.
    func request(_ method: String, _ path: String) throws -> Reply { try curl(method, path) }

    /// PUT with a JSON body.
    func put(_ path: String, json: String) throws -> Reply {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("put-\(UUID().uuidString).json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try put(path, file: file)
    }
}

/// Two hub nodes on one PostgreSQL store: limits changed through one node apply to the next
/// submission through the other, a legal hold placed through one keeps documents from the
/// operators' purge on the shared store, and a purged document answers 410 on both.
final class PostgresRetentionNodesTests: XCTestCase {
    func testLimitsAndHoldsSetThroughOneNodeApplyOnTheOther() throws {
        let sender = "DVS@90000048472", company = "_DEFAULT@40003032949"
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        let (config, second) = try PostgresHubNodesTests.hubOfTwoNodes(h, server)
        try """
            {"store": "\(server.url)", "payloadDirectory": "\(h.root.path)/hub-payloads",
             "retention": {"institution": 0, "company": 0, "naturalPerson": 0, "purgeIntervalSeconds": 3600}}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let entries = try h.file("hub-directory.json", Array("""
            {"addresses": [\(GatewayHarness.localEntry(sender, ownerId: "90000048472", kind: "institution")),
                           \(GatewayHarness.localEntry(company, ownerId: "40003032949", kind: "company"))]}
            """.utf8))
        XCTAssertEqual(try GatewayProcess.run(["store", "migrate", "--config", config]).status, 0)
        XCTAssertEqual(try GatewayProcess.run(["directory", "import", entries, "--config", config]).status, 0)
        func token(_ name: String, _ extra: [String]) throws -> String {
            let r = try GatewayProcess.run(["connections", "add", name, "--config", config] + extra)
            return try XCTUnwrap(r.json?["token"] as? String, r.stderr)
        }
        let opsToken = try token("ops", ["--role", "operator"]), dmsToken = try token("dms", ["--address", sender, "--address", company])
        try h.start("gw-b")
        try h.start("gw-b-node2")
        let ops1 = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: opsToken)
        let ops2 = try BackendClient(port: second.submitPort, token: opsToken)
        let dms1 = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: dmsToken)
        let dms2 = try BackendClient(port: second.submitPort, token: dmsToken)
        func submit(_ client: BackendClient) throws -> BackendClient.Reply {
            try client.submit(metadata: BackendClient.metadata(from: sender, to: [company]), files: [("doc.txt", Array("twenty bytes exactly".utf8))])
        }
        func purge() throws -> [String: Any] {
            let r = try GatewayProcess.run(["retention", "purge", "--config", config])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.json ?? [:]
        }
        func purged(_ summary: [String: Any]) -> [String] {
            ((summary["purged"] as? [[String: Any]]) ?? []).compactMap { $0["messageId"] as? String }.sorted()
        }

        let hold = try ops1.post("/api/v1/legal-holds", json: "{\"address\": \"\(company)\", \"reason\": \"audit\"}")
        XCTAssertEqual(hold.status, 201, hold.text)
        let holdId = try XCTUnwrap((hold.json["id"] as? NSNumber)?.intValue)
        let first = try submit(dms2)
        XCTAssertEqual(first.status, 202, first.text)
        XCTAssertEqual(try ops1.put("/api/v1/addresses/\(company)/limits", json: "{\"mailboxBytes\": 30}").status, 200)
        let full = try submit(dms2)
        XCTAssertEqual(full.status, 422, full.text)
        XCTAssertTrue((full.json["detail"] as? String ?? "").contains("holds 20 of its 30 bytes"), full.text)
        XCTAssertEqual(try ops2.put("/api/v1/addresses/\(company)/limits", json: "{\"mailboxBytes\": null}").status, 200)
        let secondDoc = try submit(dms1)
        XCTAssertEqual(secondDoc.status, 202, secondDoc.text)
        let ids = try [first, secondDoc].map { try XCTUnwrap($0.json["messageId"] as? String) }.sorted()

        let kept = try purge()
        XCTAssertEqual(purged(kept), [])
        XCTAssertEqual(((kept["held"] as? [[String: Any]]) ?? []).compactMap { $0["messageId"] as? String }.sorted(), ids)
        XCTAssertEqual(try ops2.post("/api/v1/legal-holds/\(holdId)/release", json: "{}").status, 200)
        XCTAssertEqual(purged(try purge()), ids)
        for client in [dms1, dms2] {
            XCTAssertEqual(try client.get("/api/v1/messages/\(ids[0])").status, 410)
        }
        XCTAssertEqual(try ops1.get("/api/v1/addresses/\(company)/limits").json["mailboxUsedBytes"] as? NSNumber, 0)
    }
}
