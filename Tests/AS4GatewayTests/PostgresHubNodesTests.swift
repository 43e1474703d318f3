import AS4Crypto
import Foundation
import MessageStore
import Synchronization
import XCTest

/// A hub of two `as4gw serve` nodes on one PostgreSQL store: the directory and the backend
/// connections are set up once through the store URL, a document arriving through one node is
/// read, downloaded and confirmed through the other's API, and the sender sees the answer.
final class PostgresHubNodesTests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"

    func testADocumentReceivedByOneHubNodeIsReadAndConfirmedThroughTheOther() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        let (config, second) = try Self.hubOfTwoNodes(h, server)

        try h.importDirectory("gw-a", [h.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b")])
        // The hub's directory and connection go to the shared database, through its store URL,
        // once its schema is there: set-up commands do not migrate a shared schema.
        let migrated = try GatewayProcess.run(["store", "migrate", "--config", config])
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        let entries = try h.file("hub-directory.json", Array("{\"addresses\": [\(GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company"))]}".utf8))
        let imported = try GatewayProcess.run(["directory", "import", entries, "--config", config])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let added = try GatewayProcess.run(["connections", "add", "company", "--config", config, "--address", Self.company])
        XCTAssertEqual(added.status, 0, added.stderr)
        let companyToken = try XCTUnwrap(added.json?["token"] as? String)
        let twice = try GatewayProcess.run(["connections", "add", "company", "--config", config, "--address", Self.company])
        XCTAssertNotEqual(twice.status, 0, "the name is taken in the shared store")
        let looked = try GatewayProcess.run(["directory", "lookup", Self.company, "--config", config, "--json"])
        XCTAssertEqual(looked.status, 0, looked.stderr)
        XCTAssertTrue(looked.stdout.contains("localMailbox"), looked.stdout)
        let exported = try GatewayProcess.run(["directory", "export", "--config", config, "--format", "json"])
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssertTrue(exported.stdout.contains(Self.company), exported.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.root.path + "/hub-payloads/messages.sqlite"), "no SQLite file on the shared folder")

        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [Self.sender]))
        try h.start("gw-a")
        try h.start("gw-b")
        try h.start("gw-b-node2")

        let document = Array("<lemums>Nr. 7</lemums>".utf8)
        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.company]), files: [("lemums.xml", document)])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)

        // gw-a's directory names node 1's endpoint; the company's DMS reads through node 2.
        let dmsCompany = try BackendClient(port: second.submitPort, token: companyToken)
        try h.waitUntil(timeout: 30, "the document in the company's mailbox, seen through node 2") {
            (try dmsCompany.get("/api/v1/inbox?address=\(Self.company)").json["items"] as? [[String: Any]])?.first?["messageId"] as? String == id
        }
        let file = try dmsCompany.get("/api/v1/messages/\(id)/files/1")
        XCTAssertEqual(file.status, 200)
        XCTAssertEqual(file.body, document)
        XCTAssertEqual(try dmsCompany.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\"}").status, 200)
        // Node 1 knows the decision at once: one store.
        let viaNode1 = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: companyToken)
        let again = try viaNode1.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"reject\", \"reason\": \"changed my mind\"}")
        XCTAssertEqual(again.status, 409, again.text)

        try h.waitUntil(timeout: 30, "RecipientAccepted at the sender") {
            let r = try dmsA.get("/api/v1/messages/\(id)")
            return (r.json["recipients"] as? [[String: Any]])?.first?["status"] as? String == "RecipientAccepted"
        }
        // An upload started on node 1, its chunk sent to node 2, completed on node 1 and sent
        // from node 2: its file is in the folder both nodes share.
        let bytes = Array("an uploaded annex".utf8)
        let created = try viaNode1.post("/api/v1/uploads", json: "{\"name\": \"annex.txt\", \"mimeType\": \"text/plain\", \"size\": \(bytes.count)}")
        XCTAssertEqual(created.status, 201, created.text)
        let upload = try XCTUnwrap(created.json["uploadId"] as? String)
        let chunk = try h.file("annex-chunk", bytes)
        let put = try dmsCompany.put("/api/v1/uploads/\(upload)/chunks/1", file: chunk,
                                     headers: [("Content-Digest", "sha-256=:" + Data(try Digest.sha256(bytes)).base64EncodedString() + ":")])
        XCTAssertEqual(put.status, 200, put.text)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(h.root.path)/hub-payloads/uploads/\(upload)"), "chunks go to the shared folder")
        let sha = APIDigest.hex(try Digest.sha256(bytes))
        XCTAssertEqual(try viaNode1.post("/api/v1/uploads/\(upload)/complete", json: "{\"sha256\": \"\(sha)\"}").status, 200)
        let own = try dmsCompany.submit(metadata: "{\"sender\": \"\(Self.company)\", \"recipients\": [\"\(Self.company)\"], \"subject\": \"annex\", \"uploads\": [\"\(upload)\"]}",
                                        files: [])
        XCTAssertEqual(own.status, 202, own.text)
        let ownId = try XCTUnwrap(own.json["messageId"] as? String)
        XCTAssertEqual(try viaNode1.get("/api/v1/messages/\(ownId)/files/1").body, bytes)

        // Each step taken in once although both hub nodes run the mailbox worker.
        let events = try dmsCompany.get("/api/v1/messages/\(id)").json
        let statuses = ((events["recipients"] as? [[String: Any]])?.first?["events"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
        XCTAssertEqual(statuses, ["Accepted", "Delivered", "RecipientAccepted"])
    }

    /// A submission whose node died between its commit and queueing its AS4 message: both hub
    /// nodes start at once and requeue what is unsent; the message is queued and sent once.
    func testADocumentLeftUnqueuedIsQueuedOnceWhenTwoNodesStartTogether() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        let (_, second) = try Self.hubOfTwoNodes(h, server)
        let mailbox = try PostgresMailboxStore(url: server.url, schema: .migrate)
        _ = try mailbox.insertDocument(NewDocument(messageId: "doc-1@gw-b", connection: "company", idempotencyKey: nil, sender: Self.company,
                                                   metadata: "{\"sender\": \"\(Self.company)\", \"recipients\": [\"\(Self.sender)\"], \"subject\": \"s\"}",
                                                   originParty: nil, originMessageId: nil, files: [],
                                                   recipients: [.init(address: Self.sender, route: .remote, status: .submitted, party: "gw-a",
                                                                      as4MessageId: "requeue-1@gw-b")]),
                                       notifications: [], at: Date())
        mailbox.close()
        try h.start("gw-a")
        let first = h.nodes["gw-b"]!
        try h.start("gw-b", waitForStart: false)
        try h.start("gw-b-node2", waitForStart: false)
        try h.waitUntil(timeout: 30, "both hub nodes started") {
            GatewayHarness.starts(in: first.log) == 1 && GatewayHarness.starts(in: second.log) == 1
        }
        let store = try PostgresMessageStore(url: server.url, payloadDirectory: nil, schema: .migrate)
        defer { store.close() }
        try h.waitUntil(timeout: 30, "the requeued AS4 message delivered") {
            try store.findMessage(id: "requeue-1@gw-b", direction: .outbound)?.status == .delivered
        }
        try h.waitUntil(timeout: 30, "the requeue logged") { (first.log + second.log).contains("event=document-requeued") }
        let logs = first.log + second.log
        XCTAssertEqual(logs.components(separatedBy: "event=document-requeued").count - 1, 1, "queued by one node")
        XCTAssertFalse(logs.contains("not requeued"), logs)
        let receiver = try h.store("gw-a")
        defer { receiver.close() }
        XCTAssertEqual(try receiver.listMessages(status: nil, since: nil, direction: .inbound, limit: 10).map(\.metadata.messageId), ["requeue-1@gw-b"])
    }

    /// Two operators ask at once to have a failed intake run again, and both hub nodes follow the
    /// shared history: one request wins, and one node takes the document in, once.
    func testAFailedIntakeRetriedAtOnceFromTwoPlacesIsTakenInOnceByOneNode() throws {
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        let (config, second) = try Self.hubOfTwoNodes(h, server)
        try h.importDirectory("gw-a", [h.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b")])
        let dmsA = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms-a", addresses: [Self.sender]))
        try h.start("gw-a")
        try h.start("gw-b")
        try h.start("gw-b-node2")
        let first = h.nodes["gw-b"]!

        let sent = try dmsA.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.company]), files: [("a.txt", Array("a".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let documentId = try XCTUnwrap(sent.json["messageId"] as? String)
        let store = try PostgresMessageStore(url: server.url, payloadDirectory: nil, schema: .existing)
        defer { store.close() }
        var failed: StoredMessage?
        try h.waitUntil(timeout: 30, "the hub to fail the intake of a document for an address it does not know") {
            failed = try store.listMessages(status: .failed, since: nil, direction: .inbound, limit: 10).first
            return failed != nil
        }
        let id = try XCTUnwrap(failed?.metadata.messageId)
        let entries = try h.file("hub-directory.json", Array("{\"addresses\": [\(GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company"))]}".utf8))
        XCTAssertEqual(try GatewayProcess.run(["directory", "import", entries, "--config", config]).status, 0)

        let results = Mutex<[Int32]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let status = (try? GatewayProcess.run(["messages", "retry-intake", id, "--config", config]).status) ?? -1
            results.withLock { $0.append(status) }
        }
        XCTAssertEqual(results.withLock { $0.sorted() }, [0, 1], "one request wins, the other finds it Received")
        try h.waitUntil(timeout: 30, "the document taken in") {
            try store.findMessage(id: id, direction: .inbound)?.status == .delivered
        }
        // The line follows the store's mark: waited for, then counted.
        try h.waitUntil(timeout: 30, "the retried intake logged") { (first.log + second.log).contains("event=intake-retried") }
        let logs = first.log + second.log
        XCTAssertEqual(logs.components(separatedBy: "event=intake-retried").count - 1, 1, "taken in by one node, once")
        XCTAssertEqual(logs.components(separatedBy: "event=mailbox-delivery").count - 1, 1, logs)
        let added = try GatewayProcess.run(["connections", "add", "company", "--config", config, "--address", Self.company])
        let dmsCompany = try BackendClient(port: second.submitPort, token: try XCTUnwrap(added.json?["token"] as? String))
        let inbox = try dmsCompany.get("/api/v1/inbox?address=\(Self.company)")
        XCTAssertEqual(((inbox.json["items"] as? [[String: Any]]) ?? []).compactMap { $0["messageId"] as? String }, [documentId], inbox.text)
    }

    /// gw-a on SQLite; gw-b as two nodes ("gw-b" and "gw-b-node2") on the server's database, with
    /// one payload folder. Returns the hub's configuration file and its second node.
    static func hubOfTwoNodes(_ h: GatewayHarness, _ server: ThrowAwayPostgres) throws -> (String, GatewayHarness.Node) {
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        let config = h.root.appendingPathComponent("gw-b-postgres.json").path
        try """
            {"store": "\(server.url)", "payloadDirectory": "\(h.root.path)/hub-payloads"}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-b"]!.extraArguments = ["--config", config]
        let second = GatewayHarness.Node(name: "gw-b", as4Port: GatewayHarness.freePort(), submitPort: GatewayHarness.freePort(),
                                         data: h.root.appendingPathComponent("data-gw-b-node2").path,
                                         logPath: h.root.appendingPathComponent("gw-b-node2.log").path)
        second.extraArguments = ["--party", "gw-b", "--config", config]
        h.nodes["gw-b-node2"] = second
        return (config, second)
    }
}
