@testable import AS4Gateway
import Foundation
import HTTPServer
import MessageStore
import Synchronization
import XCTest

/// Who may do what, and bad input, on one gateway whose directory serves every address from its
/// own mailboxes: each refusal is a precise problem+json and changes nothing.
final class BackendAPIRefusalTests: XCTestCase {
    static let ministry = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"
    static let institution = "_DEFAULT@90000048472"
    static let small = "SMALL@90000048472"

    var h: GatewayHarness!
    var ministry: BackendClient!
    var company: BackendClient!
    var stranger: BackendClient!
    var anonymous: BackendClient!

    override func setUpWithError() throws {
        h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company"),
                                       GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution"),
                                       GatewayHarness.localEntry(Self.small, ownerId: "90000048472", kind: "institution", maxBytes: 100)])
        let port = h.nodes["gw-a"]!.submitPort
        ministry = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ministry", addresses: [Self.ministry]))
        company = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "company", addresses: [Self.company]))
        stranger = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "stranger", addresses: [Self.institution]))
        anonymous = try BackendClient(port: port, token: nil)
        let config = h.root.appendingPathComponent("limits.json").path
        try "{\"maxMessageBytes\": 50000}".write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        try h.start("gw-a")
    }

    override func tearDown() { h = nil }

    func assertProblem(_ r: BackendClient.Reply, _ status: Int, _ type: String, _ detail: String? = nil,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.contentType, "application/problem+json", file: file, line: line)
        XCTAssertEqual(r.json["type"] as? String, "urn:as4gw:problem:" + type, r.text, file: file, line: line)
        XCTAssertEqual((r.json["status"] as? NSNumber)?.intValue, status, file: file, line: line)
        XCTAssertNotNil(r.json["title"] as? String, file: file, line: line)
        if let detail { XCTAssertTrue((r.json["detail"] as? String ?? "").contains(detail), r.text, file: file, line: line) }
    }

    func sendOne(key: String? = nil) throws -> String {
        let r = try ministry.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [Self.company], key: key), files: [("a.txt", Array("A".utf8))])
        XCTAssertEqual(r.status, key == nil ? 202 : r.status, r.text)
        return try XCTUnwrap(r.json["messageId"] as? String, r.text)
    }

    func inboxCount(_ client: BackendClient, _ address: String) throws -> Int {
        (try client.get("/api/v1/inbox?address=\(address)").json["items"] as? [Any])?.count ?? -1
    }

    func testEveryRouteRefusesMissingAndForeignCredentialsAndTouchesNothing() throws {
        let id = try sendOne()
        let routes: [(String, String, String?)] = [
            ("POST", "/api/v1/messages", nil), ("GET", "/api/v1/messages/\(id)", nil), ("GET", "/api/v1/messages/\(id)/receipt", nil),
            ("GET", "/api/v1/messages/\(id)/files/1", nil), ("POST", "/api/v1/messages/\(id)/confirm", "{\"decision\": \"accept\"}"),
            ("GET", "/api/v1/inbox?address=\(Self.company)", nil), ("GET", "/api/v1/notifications", nil),
            ("POST", "/api/v1/notifications/confirm", "{\"upTo\": 1}"),
        ]
        let wrongToken = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: "as4gw_" + String(repeating: "0", count: 64))
        for (method, path, body) in routes {
            for client in [anonymous!, wrongToken] {
                let r = method == "GET" ? try client.get(path) : try client.post(path, json: body ?? "{}")
                assertProblem(r, 401, "unauthenticated")
            }
        }
        // Another connection: neither sender nor recipient of the message.
        for (method, path, body) in routes where path.contains(id) || path.contains("inbox") {
            let r = method == "GET" ? try stranger.get(path) : try stranger.post(path, json: body ?? "{}")
            assertProblem(r, 403, "forbidden")
        }
        // A recipient reads but does not see the sender's receipts; the sender does not confirm.
        assertProblem(try company.get("/api/v1/messages/\(id)/receipt"), 403, "forbidden")
        assertProblem(try ministry.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\"}"), 403, "forbidden")
        // A forged sender address: refused, nothing stored or announced.
        let forged = try company.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [Self.institution]), files: [("x.txt", [1])])
        assertProblem(forged, 403, "forbidden", "may not send as \(Self.ministry)")
        XCTAssertEqual(try inboxCount(stranger, Self.institution), 0)
        XCTAssertEqual((try stranger.get("/api/v1/notifications").json["items"] as? [Any])?.count, 0)
        // The message is untouched by all of it: still Accepted, unconfirmed.
        let view = try ministry.get("/api/v1/messages/\(id)").json
        XCTAssertEqual((view["recipients"] as? [[String: Any]])?.first?["status"] as? String, "Accepted")
        // A revoked connection is refused from the next request on.
        XCTAssertEqual(try GatewayProcess.run(["connections", "revoke", "company", "--data", h.nodes["gw-a"]!.data]).status, 0)
        assertProblem(try company.get("/api/v1/inbox?address=\(Self.company)"), 401, "unauthenticated")
        // Unknown routes and methods.
        assertProblem(try ministry.get("/api/v1/nothing"), 404, "not-found")
        assertProblem(try ministry.post("/api/v1/messages/\(id)", json: "{}"), 405, "method-not-allowed")
    }

    /// A token of no connection is refused before the body is read: curl, waiting for
    /// `100 Continue`, gets the 401 instead and sends none of its body.
    /// A method a route never answers is 405 with `Allow` before anything of the request is
    /// judged: TRACE on a notice address that is no e-address is 405, not 422.
    func testAMethodARouteDoesNotAnswerIs405BeforeItsInputIsJudged() throws {
        for (method, path, allow) in [("TRACE", "/api/v1/addresses/0/notice-email", "GET, PUT, DELETE"),
                                      ("PATCH", "/api/v1/addresses/\(Self.company)/notice-email", "GET, PUT, DELETE"),
                                      ("POST", "/api/v1/uploads/no-such", "GET, DELETE"), ("DELETE", "/api/v1/messages/no-such", "GET")] {
            let r = try company.call(method, path, json: nil)
            assertProblem(r, 405, "method-not-allowed")
            XCTAssertEqual(r.headers.first { $0.0.lowercased() == "allow" }?.1, allow, "\(method) \(path)")
        }
        XCTAssertEqual(try company.call("GET", "/api/v1/addresses/0/notice-email", json: nil).status, 422, "an allowed method's input is judged")
    }

    /// A control character in the decoded path or query (`%00` first) names no resource: 400
    /// with a problem before the route, nothing looked up (on PostgreSQL a NUL cannot even be
    /// sent as a parameter) and nothing stored. An encoded `/` stays inside its segment: it
    /// cannot reach another route or another message's resources.
    func testAControlCharacterInTheTargetIs400AndAnEncodedSlashStaysData() throws {
        let id = try sendOne()
        let before = try inboxCount(company, Self.company)
        for (client, path) in [(ministry!, "/api/v1/messages/\(id)%00x"), (ministry!, "/api/v1/messages/\(id)%0A"), (ministry!, "/api/v1/messages%00"),
                               (company!, "/api/v1/inbox?address=\(Self.company)%00"), (ministry!, "/api/v1/messages/\(id)/files/1%7F")] {
            assertProblem(try client.get(path), 400, "bad-request", "control character U+00")
        }
        let confirmed = try company.call("POST", "/api/v1/messages/\(id)/confirm%00", json: "{\"decision\": \"accepted\"}")
        assertProblem(confirmed, 400, "bad-request", "U+0000")
        XCTAssertEqual(try inboxCount(company, Self.company), before, "nothing changed")
        let log = h.nodes["gw-a"]!.log
        XCTAssertTrue(log.contains("path=/api/v1/messages/\(id)%00x"), "logged as sent: \(log)")
        XCTAssertFalse(log.contains("\\u0000"), "no NUL reached a log line: \(log)")
        XCTAssertFalse(log.contains("event=api "), "no request reached the store and failed there: \(log)")

        // An encoded slash is part of its segment: {id}%2Freceipt is an id, not the receipt's route.
        assertProblem(try ministry.get("/api/v1/messages/\(id)%2Freceipt"), 404, "not-found", "no message \(id)/receipt")
        assertProblem(try ministry.get("/api/v1/messages%2F\(id)"), 404, "not-found")
        assertProblem(try ministry.get("/api/v1%2Fmessages/\(id)"), 404, "not-found")
        XCTAssertEqual(try ministry.get("/api/v1/messages/\(id)").status, 200)
    }

    func testAnUnknownTokenIsRefusedBeforeTheBody() throws {
        let body = try h.file("body.bin", Array(repeating: 0x41, count: 40_000))
        func upload(_ token: String) throws -> (status: String, uploaded: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_upload}", "-X", "POST", "--data-binary", "@" + body,
                           "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue", "-H", "Content-Type: application/json",
                           "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(h.nodes["gw-a"]!.submitPort)/api/v1/uploads"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ").map(String.init)
            p.waitUntilExit()
            return (text.first ?? "", text.last ?? "")
        }
        let refused = try upload("as4gw_not-a-token")
        XCTAssertEqual(refused.status, "401")
        XCTAssertEqual(refused.uploaded, "0", "no byte of the body was taken")
        XCTAssertNotEqual(try upload(ministry.token!).uploaded, "0", "a real connection's body is read (and judged by its route)")
    }

    func testBadSubmissionsArePreciseProblemsAndStoreNothing() throws {
        func submit(_ metadata: String?, files: [(String, [UInt8])] = [("a.txt", Array("A".utf8))]) throws -> BackendClient.Reply {
            try ministry.submit(metadata: metadata, files: files.map { (name: $0.0, bytes: $0.1) })
        }
        assertProblem(try submit("{\"sender\": \"\(Self.ministry)\", \"recipients\": [}"), 400, "bad-request", "not valid JSON")
        assertProblem(try submit(nil), 400, "bad-request", "no metadata part")
        assertProblem(try submit(BackendClient.metadata(from: Self.ministry, to: [Self.company]), files: []), 400, "bad-request", "no file part")
        let fields = try submit("{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"nobody\"], \"deliveryBy\": \"tomorrow\", \"colour\": 1}")
        assertProblem(fields, 422, "invalid-request")
        let pointers = Set(((fields.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["pointer"] as? String })
        XCTAssertEqual(pointers, ["/recipients/0", "/deliveryBy", "/colour", "/subject"], fields.text)
        // Text XML cannot carry would be refused by a receiving gateway and break the evidence bundle.
        let uncarriable = try submit("{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"\(Self.company)\"], \"subject\": \"bad \\uffff char \\ufffe\", "
                                     + "\"referenceNumber\": \"1\\u0002\"}")
        assertProblem(uncarriable, 422, "invalid-request", "XML cannot carry")
        XCTAssertEqual(((uncarriable.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["pointer"] as? String }, ["/subject", "/referenceNumber"], uncarriable.text)

        let unknown = try submit(BackendClient.metadata(from: Self.ministry, to: [Self.company, "_DEFAULT@40003000001"]))
        assertProblem(unknown, 422, "recipient-refused", "_DEFAULT@40003000001 is not in the e-address directory")
        let outcomes = ((unknown.json["recipients"] as? [[String: Any]]) ?? []).map { "\($0["address"] as! String) \($0["route"] as! String)" }
        XCTAssertEqual(outcomes, ["\(Self.company) localMailbox", "_DEFAULT@40003000001 unknownAddress"])
        let oversize = try submit(BackendClient.metadata(from: Self.ministry, to: [Self.small]), files: [("big.bin", Array(repeating: 7, count: 101))])
        assertProblem(oversize, 422, "recipient-refused", "the message is 101 bytes; \(Self.small) accepts at most 100 bytes")
        XCTAssertEqual(((oversize.json["recipients"] as? [[String: Any]]) ?? []).first?["route"] as? String, "tooLarge")
        let overLimit = try submit(BackendClient.metadata(from: Self.ministry, to: [Self.company]), files: [("big.bin", Array(repeating: 1, count: 60_000))])
        assertProblem(overLimit, 413, "too-large", "exceeds this gateway's limit of 50000 bytes")
        let badAddress = try company.get("/api/v1/inbox?address=not-an-address")
        assertProblem(badAddress, 422, "invalid-request", "address is not an e-address")
        let noContentType = try ministry.post("/api/v1/messages", json: "{}")
        assertProblem(noContentType, 415, "unsupported-media-type")

        // A member given twice names two things: refused, not read as the last one.
        let twice = try ministry.submit(metadata: "{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"\(Self.institution)\"], \"subject\": \"s\", "
                                        + "\"recipients\": [\"\(Self.company)\"]}", files: [("a.txt", [1])])
        assertProblem(twice, 422, "invalid-request", "/recipients more than once")
        XCTAssertEqual(((twice.json["errors"] as? [[String: Any]]) ?? []).first?["pointer"] as? String, "/recipients", twice.text)

        // Nothing of any of it reached a mailbox, a feed or the payload folder.
        XCTAssertEqual(try inboxCount(company, Self.company), 0)
        XCTAssertEqual((try ministry.get("/api/v1/notifications").json["items"] as? [Any])?.count, 0)
        let payloads = try FileManager.default.subpathsOfDirectory(atPath: h.nodes["gw-a"]!.data + "/payloads")
            .filter { !$0.hasSuffix("/") && (try? FileManager.default.attributesOfItem(atPath: h.nodes["gw-a"]!.data + "/payloads/" + $0)[.type] as? FileAttributeType) == .typeRegular }
        XCTAssertEqual(payloads, [])

        // Confirmation input.
        let id = try sendOne()
        assertProblem(try company.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"maybe\"}"), 422, "invalid-request", "/decision")
        assertProblem(try company.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": "), 400, "bad-request", "not valid JSON")
        // A control character would make the sender's evidence bundle unwritable: refused.
        assertProblem(try company.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"reject\", \"reason\": \"no\\u0001\"}"),
                      422, "invalid-request", "/reason")
        XCTAssertEqual(try company.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\"}").status, 200)
        assertProblem(try company.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"reject\", \"reason\": \"no\"}"),
                      409, "conflict", "already accepted")
        assertProblem(try company.get("/api/v1/inbox?address=\(Self.company)&limit=0"), 422, "invalid-request", "limit")
        assertProblem(try company.get("/api/v1/inbox"), 422, "invalid-request", "address")
        assertProblem(try ministry.post("/api/v1/notifications/confirm", json: "{\"upTo\": 999999}"), 422, "invalid-request", "not one of this connection's")
        assertProblem(try ministry.get("/api/v1/messages/no-such-id"), 404, "not-found")
    }

    /// Numbers in queries and paths are plain ASCII digits: "+5", which Swift's `Int` reads as
    /// 5, is refused like any other bad value, 422 for a query value and 404 for a file number.
    func testNumbersInQueriesAndPathsArePlainDigits() throws {
        let id = try sendOne()
        let inbox = "/api/v1/inbox?address=\(Self.company)"
        XCTAssertEqual(try company.get(inbox + "&limit=5&cursor=0").status, 200)
        XCTAssertEqual(try ministry.get("/api/v1/notifications?limit=5").status, 200)
        for bad in ["%2B5", "-5", "%205", "%D9%A3"] {
            assertProblem(try company.get(inbox + "&limit=\(bad)"), 422, "invalid-request", "limit")
            assertProblem(try company.get(inbox + "&cursor=\(bad)"), 422, "invalid-request", "cursor")
            assertProblem(try ministry.get("/api/v1/notifications?limit=\(bad)"), 422, "invalid-request", "limit")
        }
        for bad in ["%2B1", "+1", "%D9%A1"] { assertProblem(try company.get("/api/v1/messages/\(id)/files/\(bad)"), 404, "not-found") }
        XCTAssertEqual(try company.get("/api/v1/messages/\(id)/files/1").status, 200)
        XCTAssertEqual(PlainNumber.parse("007"), 7)
        XCTAssertEqual(PlainNumber.parse("9223372036854775807", as: Int64.self), .max)
        for bad in ["", "+5", "-5", " 5", "5 ", "٣", "9223372036854775808", "0x1"] { XCTAssertNil(PlainNumber.parse(bad), bad) }
    }

    /// A DMS whose answer timed out sends it again: the same answer gets the first one's 200
    /// (`Idempotent-Replayed`), also when both race, and the sender is told once; another answer
    /// is 409 with the answer that stands.
    func testTheSameAnswerAgainGetsTheFirstOnesAnswer() throws {
        let id = try sendOne()
        let answer = "{\"decision\": \"reject\", \"code\": \"R1\", \"reason\": \"Nav paraksta\"}"
        let port = h.nodes["gw-a"]!.submitPort, token = company.token
        let replies = Mutex<[BackendClient.Reply]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let r = try! BackendClient(port: port, token: token).post("/api/v1/messages/\(id)/confirm", json: answer)
            replies.withLock { $0.append(r) }
        }
        for r in replies.withLock({ $0 }) {
            XCTAssertEqual(r.status, 200, r.text)
            XCTAssertEqual(r.json["status"] as? String, "RecipientRejected", r.text)
            XCTAssertEqual(r.json["messageId"] as? String, id, r.text)
        }
        XCTAssertEqual(replies.withLock { $0 }.filter { r in r.headers.contains { $0.0.lowercased() == "idempotent-replayed" && $0.1 == "true" } }.count, 3)
        let again = try company.post("/api/v1/messages/\(id)/confirm", json: answer)
        XCTAssertEqual(again.status, 200, again.text)
        XCTAssertEqual(again.headers.first { $0.0.lowercased() == "idempotent-replayed" }?.1, "true")
        // Told once: one rejection in the sender's feed, one in the history.
        let feed = (try ministry.get("/api/v1/notifications").json["items"] as? [[String: Any]]) ?? []
        XCTAssertEqual(feed.filter { $0["messageId"] as? String == id && $0["kind"] as? String == "recipientRejected" }.count, 1, "\(feed)")
        let history = ((try company.recipient(of: id))["events"] as? [[String: Any]]) ?? []
        XCTAssertEqual(history.filter { $0["status"] as? String == "RecipientRejected" }.count, 1, "\(history)")
        // Another answer (other decision, code or reason) is refused, naming the one recorded.
        for other in ["{\"decision\": \"accept\"}", "{\"decision\": \"reject\", \"reason\": \"Nav paraksta\"}",
                      "{\"decision\": \"reject\", \"code\": \"R1\", \"reason\": \"cits\"}"] {
            let r = try company.post("/api/v1/messages/\(id)/confirm", json: other)
            assertProblem(r, 409, "conflict", "already rejected")
            let recorded = r.json["answer"] as? [String: Any]
            XCTAssertEqual(recorded?["decision"] as? String, "reject", r.text)
            XCTAssertEqual(recorded?["code"] as? String, "R1", r.text)
            XCTAssertEqual(recorded?["reason"] as? String, "Nav paraksta", r.text)
            XCTAssertNotNil(recorded?["at"] as? String, r.text)
        }
    }

    func testTheSameIdempotencyKeyGivesTheFirstMessageEvenConcurrently() throws {
        let first = try sendOne(key: "dms-42")
        let replay = try ministry.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [Self.company], key: "dms-42"), files: [("a.txt", Array("A".utf8))])
        XCTAssertEqual(replay.status, 200, replay.text)
        XCTAssertEqual(replay.json["messageId"] as? String, first)
        // The replay is answered from the first submission, not judged again: here its deadline
        // (RFC 3339 with a fraction of a second) has passed in between.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let due = "{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"\(Self.company)\"], \"subject\": \"due\", \"idempotencyKey\": \"due-1\", "
            + "\"deliveryBy\": \"\(formatter.string(from: Date().addingTimeInterval(1.5)))\"}"
        let dueFirst = try ministry.submit(metadata: due, files: [("d.txt", [3])])
        XCTAssertEqual(dueFirst.status, 202, dueFirst.text)
        Thread.sleep(forTimeInterval: 2)
        let dueReplay = try ministry.submit(metadata: due, files: [("d.txt", [3])])
        XCTAssertEqual(dueReplay.status, 200, dueReplay.text)
        XCTAssertEqual(dueReplay.json["messageId"] as? String, dueFirst.json["messageId"] as? String)
        // A new key with that deadline is refused: it has passed.
        assertProblem(try ministry.submit(metadata: due.replacingOccurrences(of: "due-1", with: "due-2"), files: [("d.txt", [3])]),
                      422, "invalid-request", "deliveryBy has passed")
        // Another connection's key space is its own.
        let port = h.nodes["gw-a"]!.submitPort
        let ministry2 = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ministry-2", addresses: [Self.ministry], shared: true))
        let own = try ministry2.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [Self.company], key: "dms-42"), files: [("a.txt", [1])])
        XCTAssertEqual(own.status, 202)
        XCTAssertNotEqual(own.json["messageId"] as? String, first)

        let ids = Mutex<[String]>([])
        let token = ministry.token
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            let client = try! BackendClient(port: port, token: token)
            let r = try! client.submit(metadata: BackendClient.metadata(from: Self.ministry, to: [Self.institution], key: "race"), files: [("r.txt", [2])])
            ids.withLock { $0.append((r.json["messageId"] as? String) ?? "status \(r.status)") }
        }
        XCTAssertEqual(Set(ids.withLock { $0 }).count, 1, "\(ids.withLock { $0 })")
        XCTAssertEqual(try inboxCount(stranger, Self.institution), 1)
        XCTAssertEqual(try inboxCount(company, Self.company), 3)
    }

    /// A key is one submission: a retry of it (the same metadata, in any order or spelling of
    /// its addresses, and the same files) gets the first answer; another document under the key
    /// is refused with 422 and stored nowhere, instead of silently answered with the first one.
    func testAnIdempotencyKeyReusedForAnotherSubmissionIsRefusedNotDropped() throws {
        func submit(_ metadata: String, _ files: [(name: String, bytes: [UInt8])]) throws -> BackendClient.Reply {
            try ministry.submit(metadata: metadata, files: files)
        }
        let a = "{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"\(Self.company)\"], \"subject\": \"A\", \"idempotencyKey\": \"k-1\"}"
        let first = try submit(a, [("a.txt", Array("body A".utf8))])
        XCTAssertEqual(first.status, 202, first.text)
        let id = try XCTUnwrap(first.json["messageId"] as? String)

        // The same submission, members reordered and an address spelled otherwise: replayed.
        let same = "{\"idempotencyKey\": \"k-1\", \"subject\": \"A\", \"recipients\": [\"_default@40003032949\"], \"sender\": \"\(Self.ministry)\"}"
        let replay = try submit(same, [("a.txt", Array("body A".utf8))])
        XCTAssertEqual(replay.status, 200, replay.text)
        XCTAssertEqual(replay.json["messageId"] as? String, id)
        // The key is the sending connection's retry token: the recipient's inbox and message view,
        // and the sender's own view, show the metadata without it.
        for (who, client) in [("recipient", company!), ("sender", ministry!)] {
            let view = try client.get("/api/v1/messages/\(id)")
            XCTAssertEqual(view.status, 200, "\(who): \(view.text)")
            XCTAssertEqual((view.json["metadata"] as? [String: Any])?["subject"] as? String, "A", "\(who): \(view.text)")
            XCTAssertFalse(view.text.contains("k-1"), "\(who): \(view.text)")
        }
        XCTAssertFalse(try company.get("/api/v1/inbox?address=\(Self.company)").text.contains("k-1"))

        // Another document under the key: other recipients, subject and file; or only another
        // file, subject, file name or recipient.
        let b = "{\"sender\": \"\(Self.ministry)\", \"recipients\": [\"\(Self.institution)\"], \"subject\": \"B\", \"idempotencyKey\": \"k-1\"}"
        let others: [(String, String, [(name: String, bytes: [UInt8])])] = [
            ("everything", b, [("b.txt", Array("body B".utf8))]),
            ("the file", a, [("a.txt", Array("body B".utf8))]),
            ("a second file", a, [("a.txt", Array("body A".utf8)), ("a.txt", Array("body A".utf8))]),
            ("the file name", a, [("b.txt", Array("body A".utf8))]),
            ("the subject", a.replacingOccurrences(of: "\"A\"", with: "\"A2\""), [("a.txt", Array("body A".utf8))]),
            ("the recipients", a.replacingOccurrences(of: "[\"\(Self.company)\"]", with: "[\"\(Self.company)\", \"\(Self.institution)\"]"),
             [("a.txt", Array("body A".utf8))]),
        ]
        for (what, metadata, files) in others {
            let refused = try submit(metadata, files)
            assertProblem(refused, 422, "idempotency-key-reused", "used for message \(id)")
            XCTAssertEqual(refused.json["messageId"] as? String, id, "\(what): \(refused.text)")
            XCTAssertEqual(((refused.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["pointer"] as? String }, ["/idempotencyKey"], what)
        }
        // Nothing of them was stored or sent; the first answer still comes to a retry.
        XCTAssertEqual(try inboxCount(stranger, Self.institution), 0)
        XCTAssertEqual(try inboxCount(company, Self.company), 1)
        XCTAssertEqual(try submit(a, [("a.txt", Array("body A".utf8))]).status, 200)
        let log = h.nodes["gw-a"]!.log
        XCTAssertEqual(log.components(separatedBy: "event=idempotency-key-reused").count - 1, others.count, log)
        XCTAssertEqual(log.components(separatedBy: "event=idempotent-replay").count - 1, 2, log)
        XCTAssertTrue(log.contains("document_id=\(id)"), log)

        // A key stored before fingerprints were kept cannot be compared: replayed as it always was.
        let store = try SQLiteMailboxStore(dataDirectory: h.nodes["gw-a"]!.data)
        defer { store.close() }
        _ = try store.insertDocument(NewDocument(messageId: "legacy@gw-a", connection: "ministry", idempotencyKey: "legacy", sender: Self.ministry,
                                                 metadata: "{\"subject\": \"old\"}", files: [],
                                                 recipients: [.init(address: Self.company, route: .mailbox, status: .accepted)]),
                                     notifications: [], at: Date())
        let legacy = try submit(b.replacingOccurrences(of: "k-1", with: "legacy"), [("b.txt", Array("body B".utf8))])
        XCTAssertEqual(legacy.status, 200, legacy.text)
        XCTAssertEqual(legacy.json["messageId"] as? String, "legacy@gw-a")
        XCTAssertTrue(h.nodes["gw-a"]!.log.contains("not compared (key stored without a fingerprint)"))
    }
}

/// What the HTTP server refuses before the API sees a request (conflicting lengths, a transfer
/// coding it cannot undo, a body it could not store, a full disk, shutting down) is a problem of a type docs/API.md lists, never
/// an undocumented one; a full disk says when to try again.
final class HTTPRefusalProblemTests: XCTestCase {
    func testRefusalsOfTheHTTPServerUseDocumentedProblemTypes() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"])
        let handler = APIHandler(context: try InProcessNode(h, party: "gw-a").context)
        let head = HTTPRequestHead(method: "POST", path: "/api/v1/messages")
        let documented = ["bad-request", "forbidden", "too-large", "internal-error", "not-implemented", "unavailable", "insufficient-storage"]
        for (status, type) in [(400, "bad-request"), (403, "forbidden"), (413, "too-large"), (500, "internal-error"), (501, "not-implemented"), (503, "unavailable"),
                               (507, "insufficient-storage"), (431, "bad-request"), (502, "internal-error")] {
            let response = handler.refused(head, status: status, reason: "why")
            XCTAssertEqual(response.status, status)
            guard case .bytes(let body) = response.body,
                  let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return XCTFail("\(status): no JSON body") }
            XCTAssertEqual(json["type"] as? String, "urn:as4gw:problem:" + type, "\(status)")
            XCTAssertTrue(documented.contains(type))
            XCTAssertEqual(response.headers["Retry-After"], status == 507 ? String(DiskFull.retryAfterSeconds) : nil, "\(status)")
        }
    }
}
