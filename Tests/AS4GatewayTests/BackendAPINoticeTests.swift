import Foundation
import HTTPClient
import XCTest

/// E-mail notices of mailbox arrivals, sent through a small SMTP server the test starts on
/// 127.0.0.1 (Tests/interop/smtp_sink.py): a person is notified without a word of the message;
/// a company without a registered e-mail gets a visible `noContact` notice; an institution none;
/// a server that keeps answering 451 or answers 550 leaves a `failed` notice that the API, the
/// log and `/metrics` all show.
final class BackendAPINoticeTests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let person = "_PRIVATE@16117519997"
    static let company = "_DEFAULT@40003032949"
    static let institution = "_DEFAULT@90000048472"

    /// The SMTP sink; returns its port and stops it with the test.
    func startSink(_ out: String, refuse: [String] = []) throws -> UInt16 {
        try Self.startSink(out, arguments: refuse.flatMap { ["--refuse", $0] }, for: self)
    }

    /// Tests/interop/smtp_sink.py writing to `out` with `arguments`, stopped when `test` ends; its port.
    static func startSink(_ out: String, arguments: [String], for test: XCTestCase) throws -> UInt16 {
        try launchSink(out, arguments: arguments, for: test).port
    }

    /// The same, with the process, for a test that stops the sink itself (terminate, then wait).
    static func launchSink(_ out: String, arguments: [String], for test: XCTestCase) throws -> (port: UInt16, process: Process) {
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sink.arguments = ["python3", GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/smtp_sink.py").path, out] + arguments
        let stdout = Pipe()
        sink.standardOutput = stdout
        try sink.run()
        test.addTeardownBlock {
            if sink.isRunning { sink.terminate() }
            sink.waitUntilExit()
        }
        let line = String(decoding: stdout.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (try XCTUnwrap(UInt16(line), "the sink printed its port: \(line)"), sink)
    }

    /// gw-a with the three mailboxes, a DMS sending from an institution, the recipients' DMSs
    /// and an operator; notices go to the sink.
    func gateway(smtpPort: UInt16) throws -> (h: GatewayHarness, dms: BackendClient, person: BackendClient, company: BackendClient, ops: BackendClient) {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson"),
                                       GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        let config = try h.file("notices.json", Array("""
            {"notices": {"smtp": "smtp://127.0.0.1:\(smtpPort)", "from": "e-adrese@as4gw.test", "startTLS": "off",
                         "maxAttempts": 3, "retrySeconds": 0.2, "maxRetrySeconds": 0.5}}
            """.utf8))
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        let port = h.nodes["gw-a"]!.submitPort
        let dms = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "dms", addresses: [Self.sender]))
        let person = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "person", addresses: [Self.person]))
        let company = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "company", addresses: [Self.company]))
        let ops = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ops", addresses: [], roles: ["operator"]))
        try h.start("gw-a")
        return (h, dms, person, company, ops)
    }

    func notices(_ client: BackendClient, _ query: String) throws -> [[String: Any]] {
        let r = try client.get("/api/v1/notices?\(query)")
        XCTAssertEqual(r.status, 200, r.text)
        return r.json["items"] as? [[String: Any]] ?? []
    }

    func metric(_ h: GatewayHarness, _ name: String, _ labels: [String: String]) throws -> Double? {
        let r = try HTTPClient(configuration: HTTPClientConfiguration()).get(url: h.nodes["gw-a"]!.adminURL + "/metrics")
        return try PrometheusParser.parse(String(decoding: r.body, as: UTF8.self)).value(name, labels)
    }

    func testAPersonIsNotifiedWithoutContentACompanyWithoutAddressIsVisibleAnInstitutionIsNot() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (h, dms, person, company, ops) = try gateway(smtpPort: try startSink(out))

        // Only the address's own connection or an operator sets where its notices go.
        let path = "/api/v1/addresses/\(Self.person)/notice-email"
        XCTAssertEqual(try company.call("PUT", path, json: #"{"email": "x@example.lv"}"#).status, 403)
        XCTAssertEqual(try person.call("PUT", path, json: #"{"email": "not an address"}"#).status, 422)
        XCTAssertEqual(try person.call("PUT", path, json: #"{"email": "a@b.lv", "cc": "c@d.lv"}"#).status, 422)
        XCTAssertEqual(try person.call("GET", path, json: nil).status, 404, "none yet")
        let set = try person.call("PUT", path, json: #"{"email": "janis.berzins@example.lv"}"#)
        XCTAssertEqual(set.status, 200, set.text)
        XCTAssertEqual(set.json["updatedBy"] as? String, "person")
        XCTAssertEqual(try ops.call("GET", path, json: nil).json["email"] as? String, "janis.berzins@example.lv")
        XCTAssertEqual(try person.call("POST", path, json: "{}").status, 405)

        let sent = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.person, Self.company, Self.institution]),
                                  files: [("lemums-par-zemi.pdf", Array("slepens saturs".utf8))])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 20, "the person's notice at the SMTP server") { FileManager.default.fileExists(atPath: out + "/1.eml") }

        let envelope = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/1.json"))) as? [String: Any])
        XCTAssertEqual(envelope["from"] as? String, "<e-adrese@as4gw.test>")
        XCTAssertEqual(envelope["to"] as? [String], ["<janis.berzins@example.lv>"])
        let mail = try String(contentsOfFile: out + "/1.eml", encoding: .utf8)
        let parts = mail.components(separatedBy: "\r\n\r\n")
        let text = String(decoding: Data(base64Encoded: parts.dropFirst().joined().replacingOccurrences(of: "\r\n", with: "")) ?? Data(), as: UTF8.self)
        XCTAssertTrue(text.contains(Self.person), text)
        for secret in ["Lēmums", "lemums-par-zemi", "slepens", "1-2/7", Self.sender, id] {
            XCTAssertFalse(mail.contains(secret) || text.contains(secret), "the notice says nothing of the message: \(secret)")
        }
        XCTAssertTrue(mail.contains("Content-Type: text/plain; charset=UTF-8\r\n"))
        XCTAssertTrue(mail.contains("Subject: =?UTF-8?B?"))

        try h.waitUntil(timeout: 10, "the person's notice recorded as sent") {
            try notices(person, "address=\(Self.person)").first?["status"] as? String == "sent"
        }
        let mine = try notices(person, "address=\(Self.person)")
        XCTAssertEqual(mine.count, 1)
        XCTAssertEqual(mine.first?["messageId"] as? String, id)
        XCTAssertEqual(mine.first?["attempts"] as? Int, 1)
        XCTAssertEqual(try notices(company, "address=\(Self.company)").map { $0["status"] as? String }, ["noContact"],
                       "a company with no e-mail registered: visible, not silent")
        XCTAssertEqual(try company.get("/api/v1/notices?address=\(Self.person)").status, 403)
        XCTAssertEqual(try company.get("/api/v1/notices").status, 422, "a connection names its address")
        XCTAssertEqual(try company.get("/api/v1/notices?address=\(Self.company)&status=lost").status, 422)
        let all = try notices(ops, "")
        XCTAssertEqual(Set(all.compactMap { $0["address"] as? String }), [Self.person, Self.company], "institutions read theirs by DMS: no notice")
        XCTAssertEqual(try notices(ops, "status=noContact").count, 1)
        // The document is named as on every document's line.
        let noticeLines = h.nodes["gw-a"]!.log.split(separator: "\n").filter { $0.contains("event=notice-") }
        XCTAssertTrue(noticeLines.contains { $0.contains("event=notice-no-contact") && $0.contains("document_id=\(id)") }, noticeLines.joined(separator: "\n"))
        XCTAssertTrue(noticeLines.contains { $0.contains("event=notice-sent") && $0.contains("document_id=\(id)") }, noticeLines.joined(separator: "\n"))
        XCTAssertFalse(noticeLines.contains { $0.contains(" message=") }, noticeLines.joined(separator: "\n"))

        XCTAssertEqual(try metric(h, "as4gw_notices_total", ["result": "sent"]), 1)
        XCTAssertEqual(try metric(h, "as4gw_notices_total", ["result": "no_contact"]), 1)
        XCTAssertEqual(try metric(h, "as4gw_notices_stored", ["status": "sent"]), 1)
        XCTAssertEqual(try metric(h, "as4gw_notices_stored", ["status": "failed"]), 0)

        // Removing the address: the next arrival is a noContact notice.
        XCTAssertEqual(try person.call("DELETE", path, json: nil).status, 204)
        XCTAssertEqual(try person.call("DELETE", path, json: nil).status, 404)
        XCTAssertEqual(try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.person]), files: [("b.txt", [2])]).status, 202)
        try h.waitUntil(timeout: 10, "a noContact notice for the second arrival") {
            try notices(person, "address=\(Self.person)&status=noContact").count == 1
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/2.eml"))
    }

    /// A document that reaches the person's mailbox by AS4 (sent from a DMS at another access
    /// point) is announced the same way.
    func testADocumentArrivingByAS4IsAnnouncedToo() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let smtpPort = try startSink(out)
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [h.remoteEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson", party: "gw-b")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.person, ownerId: "16117519997", kind: "naturalPerson")])
        let config = try h.file("notices.json", Array("""
            {"notices": {"smtp": "smtp://127.0.0.1:\(smtpPort)", "from": "e-adrese@as4gw.test", "startTLS": "off"}}
            """.utf8))
        h.nodes["gw-b"]!.extraArguments = ["--config", config]
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms", addresses: [Self.sender]))
        let person = try BackendClient(port: h.nodes["gw-b"]!.submitPort, token: try h.addConnection("gw-b", name: "person", addresses: [Self.person]))
        try h.start("gw-a")
        try h.start("gw-b")
        XCTAssertEqual(try person.call("PUT", "/api/v1/addresses/\(Self.person)/notice-email", json: #"{"email": "janis@example.lv"}"#).status, 200)
        let sent = try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.person]), files: [("x.txt", [7])])
        XCTAssertEqual(sent.status, 202, sent.text)
        let id = try XCTUnwrap(sent.json["messageId"] as? String)
        try h.waitUntil(timeout: 30, "the notice at the SMTP server") { FileManager.default.fileExists(atPath: out + "/1.eml") }
        try h.waitUntil(timeout: 10, "recorded as sent at the hub") {
            try notices(person, "address=\(Self.person)&status=sent").first?["messageId"] as? String == id
        }
        XCTAssertTrue(h.nodes["gw-a"]!.log.contains("event=notices-off"), "A has no notices block: it says so")
    }

    func testRefusingAndFailingServersLeaveAVisibleFailedNotice() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let port = try startSink(out, refuse: ["busy@example.lv=451", "gone@example.lv=550"])
        let (h, dms, person, company, ops) = try gateway(smtpPort: port)
        XCTAssertEqual(try person.call("PUT", "/api/v1/addresses/\(Self.person)/notice-email", json: #"{"email": "busy@example.lv"}"#).status, 200)
        XCTAssertEqual(try company.call("PUT", "/api/v1/addresses/\(Self.company)/notice-email", json: #"{"email": "gone@example.lv"}"#).status, 200)
        XCTAssertEqual(try dms.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.person, Self.company]), files: [("a.txt", [1])]).status, 202)

        try h.waitUntil(timeout: 20, "both notices failed") { try notices(ops, "status=failed").count == 2 }
        let failed = Dictionary(uniqueKeysWithValues: try notices(ops, "status=failed").map { ($0["address"] as! String, $0) })
        XCTAssertEqual(failed[Self.person]?["attempts"] as? Int, 3, "451 is temporary: tried maxAttempts times")
        XCTAssertTrue((failed[Self.person]?["lastError"] as? String)?.contains("451") ?? false, "\(failed)")
        XCTAssertEqual(failed[Self.company]?["attempts"] as? Int, 1, "550 is permanent: given up at once")
        XCTAssertTrue((failed[Self.company]?["lastError"] as? String)?.contains("550") ?? false, "\(failed)")
        let refused = try String(contentsOfFile: out + "/refused.log", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(refused.filter { $0.contains("busy@") }.count, 3)
        XCTAssertEqual(refused.filter { $0.contains("gone@") }.count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/1.eml"))

        XCTAssertEqual(try metric(h, "as4gw_notices_total", ["result": "failed"]), 2)
        XCTAssertEqual(try metric(h, "as4gw_notices_total", ["result": "retried"]), 2)
        XCTAssertEqual(try metric(h, "as4gw_notices_stored", ["status": "failed"]), 2)
        // The mailer counts and stores a failure before it logs it: the lines are waited for, then counted exactly.
        try? h.waitUntil(timeout: 30, "both failures logged") {
            h.nodes["gw-a"]!.log.components(separatedBy: "event=notice-failed").count - 1 >= 2
        }
        let log = h.nodes["gw-a"]!.log
        XCTAssertEqual(log.components(separatedBy: "event=notice-failed").count - 1, 2)
        XCTAssertTrue(log.contains("event=notice-retry"))

        // Still visible after a restart (the counters start again, the store does not forget).
        h.stop("gw-a")
        try h.start("gw-a")
        XCTAssertEqual(try metric(h, "as4gw_notices_stored", ["status": "failed"]), 2)
        XCTAssertEqual(try metric(h, "as4gw_notices_total", ["result": "failed"]), 0)
        XCTAssertEqual(try notices(ops, "status=failed").count, 2)
    }
}
