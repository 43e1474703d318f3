@testable import AS4Gateway
import Foundation
@testable import MessageStore
import XCTest

/// Two `as4gw serve` nodes of one party on one PostgreSQL store, and the job session of the node
/// running a background job ended by the server (`pg_terminate_backend`, what a restart does to
/// it) while the job is at work. That node does not know until its next round, and the other
/// node takes the job over at once: whatever leaves the gateway must still leave once.
final class PostgresJobTakeoverTests: XCTestCase {
    static let sender = "DVS@90000048472"

    /// The server processes of the sessions holding `job`'s lock.
    static func holders(of job: String, _ url: String) throws -> [Int] {
        let c = try PostgresConnection(url: url)
        defer { c.close() }
        return try c.execute("""
            SELECT pid FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND classid = $1::integer::oid AND objid = hashtext($2)::oid AND objsubid = 2
            """, [Int(PostgresSchema.lockNamespace), "job:" + job]).rows.map { $0.int("pid") }
    }

    static func terminate(_ pid: Int, _ url: String) throws {
        let c = try PostgresConnection(url: url)
        defer { c.close() }
        _ = try c.execute("SELECT pg_terminate_backend($1)", [pid])
    }

    /// The review's reproduction: 60 documents for an address the hub does not know wait while
    /// the test holds the mailbox worker's job; once it lets go, the node that takes the job has
    /// its job session ended at once, and the other node starts on the same batch while the
    /// first goes on with it. Before the refusals' status reports were keyed, both nodes
    /// queued one for the same documents (61 and 153 reports for 60 and 150 documents, and
    /// `illegal status change Failed → Failed` errors on the second node).
    func testADocumentRefusedByTwoNodesInOneBatchIsReportedOnce() throws {
        let unknown = "_DEFAULT@40003000001", count = 60
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let h = try GatewayHarness()
        let (config, second) = try PostgresHubNodesTests.hubOfTwoNodes(h, server)
        try h.importDirectory("gw-a", [h.remoteEntry(unknown, ownerId: "40003000001", kind: "company", party: "gw-b")])
        XCTAssertEqual(try GatewayProcess.run(["store", "migrate", "--config", config]).status, 0)
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms", addresses: [Self.sender]))

        let holder = try PostgresConnection(url: server.url)
        _ = try holder.execute("SELECT pg_advisory_lock($1::integer, hashtext($2))", [Int(PostgresSchema.lockNamespace), "job:mailbox-worker"])
        for node in ["gw-a", "gw-b", "gw-b-node2"] { try h.start(node) }
        for i in 0..<count {
            let sent = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [unknown]), files: [("\(i).txt", [UInt8(i)])])
            XCTAssertEqual(sent.status, 202, sent.text)
        }
        let store = try PostgresMessageStore(url: server.url, payloadDirectory: nil, schema: .existing)
        defer { store.close() }
        try h.waitUntil(timeout: 120, "all \(count) documents received by the hub") {
            try store.listMessages(status: .received, since: nil, direction: .inbound, limit: 10 * count).count == count
        }
        holder.close()
        var ended = false
        let deadline = Date().addingTimeInterval(10)
        while !ended, Date() < deadline {
            for pid in try Self.holders(of: "mailbox-worker", server.url) {
                try Self.terminate(pid, server.url)
                ended = true
            }
        }
        XCTAssertTrue(ended, "a node took the job")

        try h.waitUntil(timeout: 60, "all \(count) documents Failed at the hub") {
            try store.listMessages(status: .failed, since: nil, direction: .inbound, limit: 10 * count).count == count
        }
        let reports = try store.listMessages(status: nil, since: nil, direction: .outbound, limit: 10 * count)
            .filter { $0.metadata.action == EAddressMessages.statusAction }
        XCTAssertEqual(reports.count, count, "one status report per refused document")
        XCTAssertEqual(Set(reports.compactMap(\.metadata.refToMessageId)).count, count)
        let logs = h.nodes["gw-b"]!.log + second.log
        XCTAssertEqual(logs.components(separatedBy: "event=document-refused").count - 1, count, "each refusal logged once")
        XCTAssertFalse(logs.contains("illegal status change"), "a document the other node settled is no failure")
        // gw-a hears of each refusal once.
        var heard = 0
        try h.waitUntil(timeout: 60, "every report at gw-a") {
            let sender = try h.store("gw-a")
            defer { sender.close() }
            heard = try sender.listMessages(status: nil, since: nil, direction: .inbound, limit: 10 * count).count
            return heard >= count
        }
        XCTAssertEqual(heard, count)
    }

    /// The e-mail notice's claim is its fence: the node sending it while its job session ends
    /// (or the database restarts) records the notice as sent, and the other node, which takes
    /// the job over meanwhile, finds it claimed. The SMTP server answers 6 s after the message.
    func testANoticeUnderWayWhenTheJobIsLostIsSentOnce() throws {
        let person = "_PRIVATE@16117519997"
        let server = try ThrowAwayPostgres.start()
        defer { server.stop() }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let port = try BackendAPINoticeTests.startSink(out, arguments: ["--data-delay", "6"], for: self)

        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        let config = h.root.appendingPathComponent("gw-a-postgres.json").path
        try """
            {"store": "\(server.url)", "payloadDirectory": "\(h.root.path)/shared-payloads",
             "notices": {"smtp": "smtp://127.0.0.1:\(port)", "from": "e-adrese@as4gw.test", "startTLS": "off"}}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let second = GatewayHarness.Node(name: "gw-a", as4Port: GatewayHarness.freePort(), submitPort: GatewayHarness.freePort(),
                                         data: h.root.appendingPathComponent("data-gw-a-node2").path,
                                         logPath: h.root.appendingPathComponent("gw-a-node2.log").path)
        second.extraArguments = ["--party", "gw-a", "--config", config]
        h.nodes["gw-a-node2"] = second
        XCTAssertEqual(try GatewayProcess.run(["store", "migrate", "--config", config]).status, 0)
        let entries = try h.file("directory.json", Array("""
            {"addresses": [\(GatewayHarness.localEntry(Self.sender, ownerId: "90000048472", kind: "institution")),
                           \(GatewayHarness.localEntry(person, ownerId: "16117519997", kind: "naturalPerson"))]}
            """.utf8))
        XCTAssertEqual(try GatewayProcess.run(["directory", "import", entries, "--config", config]).status, 0)
        func token(_ name: String, _ address: String) throws -> String {
            let added = try GatewayProcess.run(["connections", "add", name, "--address", address, "--config", config])
            return try XCTUnwrap(added.json?["token"] as? String, added.stderr)
        }
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try token("dms", Self.sender))
        let owner = try BackendClient(port: second.submitPort, token: try token("person", person))
        try h.start("gw-a")
        try h.start("gw-a-node2")
        XCTAssertEqual(try owner.call("PUT", "/api/v1/addresses/\(person)/notice-email", json: #"{"email": "janis@example.lv"}"#).status, 200)
        func mails() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasSuffix(".eml") }.count }
        func sentLines() -> Int { (h.nodes["gw-a"]!.log + second.log).components(separatedBy: "event=notice-sent").count - 1 }

        XCTAssertEqual(try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [person]), files: [("1.txt", [1])]).status, 202)
        try h.waitUntil(timeout: 30, "the first notice at the SMTP server") { mails() == 1 }
        let holders = try Self.holders(of: "notice-mailer", server.url)
        XCTAssertEqual(holders.count, 1, "the sending node holds the job")
        for pid in holders { try Self.terminate(pid, server.url) }
        try h.waitUntil(timeout: 30, "the first notice recorded as sent") { sentLines() == 1 }

        XCTAssertEqual(try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [person]), files: [("2.txt", [2])]).status, 202)
        try h.waitUntil(timeout: 30, "the second notice at the SMTP server") { mails() == 2 }
        try server.restart()
        try h.waitUntil(timeout: 30, "the second notice recorded as sent") { sentLines() == 2 }
        // Past another round of both nodes' mailers, which find nothing more to send.
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(mails(), 2, "each notice sent once")
    }
}
