import Foundation
import XCTest

/// Issue 6 through the API of one gateway (real process): the non-digital persons register and
/// its audit, the channel lookup with its log, the company register and who may write to whom.
/// Every refusal is checked as carefully as the good path, and that it stored nothing.
final class BackendAPIRecipientRulesTests: XCTestCase {
    static let ministry = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"
    static let liquidated = "_DEFAULT@40003000001"
    static let unregistered = "_DEFAULT@50003000003"
    static let institution = "_DEFAULT@90000048472"
    static let personA = "_PRIVATE@16117519997"
    /// Another network's company: not in the Latvian register, never checked against it.
    static let foreign = "iso6523-actorid-upis::0088:5790000435975"
    static let personB = "_PRIVATE@32123456789"
    /// In the directory too, yet non-digital once registered: the register wins.
    static let nonDigitalCode = "01019012306"
    /// Non-digital and without any e-address.
    static let paperOnlyCode = "02028512307"

    var h: GatewayHarness!
    var registry: BackendClient!, lookup: BackendClient!, ministry: BackendClient!, company: BackendClient!, personA: BackendClient!, personB: BackendClient!

    override func setUpWithError() throws {
        h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [
            GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company"),
            GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution"),
            GatewayHarness.localEntry(Self.liquidated, ownerId: "40003000001", kind: "company"),
            GatewayHarness.localEntry(Self.unregistered, ownerId: "50003000003", kind: "company"),
            GatewayHarness.localEntry(Self.personA, ownerId: "16117519997", kind: "naturalPerson"),
            GatewayHarness.localEntry(Self.personB, ownerId: "32123456789", kind: "naturalPerson"),
            GatewayHarness.localEntry("_PRIVATE@" + Self.nonDigitalCode, ownerId: Self.nonDigitalCode, kind: "naturalPerson"),
            GatewayHarness.localEntry(Self.foreign, ownerId: "5790000435975", kind: "company"),
        ])
        let port = h.nodes["gw-a"]!.submitPort
        registry = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "registry", addresses: [], roles: ["operator"]))
        lookup = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "vid", addresses: [], roles: ["lookup"]))
        ministry = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "ministry", addresses: [Self.ministry]))
        company = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "company", addresses: [Self.company]))
        personA = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "person-a", addresses: [Self.personA]))
        personB = try BackendClient(port: port, token: try h.addConnection("gw-a", name: "person-b", addresses: [Self.personB]))
        // The person ↔ person extension on; company → person stays as the law has it.
        let config = h.root.appendingPathComponent("policy.json").path
        try "{\"messagingPolicy\": {\"personToPerson\": true}}".write(toFile: config, atomically: true, encoding: .utf8)
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        try h.start("gw-a")
    }

    override func tearDown() { h = nil }

    func assertProblem(_ r: BackendClient.Reply, _ status: Int, _ type: String, _ detail: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        XCTAssertEqual(r.contentType, "application/problem+json", file: file, line: line)
        XCTAssertEqual(r.json["type"] as? String, "urn:as4gw:problem:" + type, r.text, file: file, line: line)
        if let detail { XCTAssertTrue((r.json["detail"] as? String ?? "").contains(detail), r.text, file: file, line: line) }
    }

    /// A refused submission: 422 recipient-refused naming `outcome` for `address`, with `reason`.
    func assertRefused(_ r: BackendClient.Reply, _ address: String, _ outcome: String, _ reason: String, file: StaticString = #filePath, line: UInt = #line) {
        assertProblem(r, 422, "recipient-refused", nil, file: file, line: line)
        let mine = ((r.json["recipients"] as? [[String: Any]]) ?? []).first { $0["address"] as? String == address }
        XCTAssertEqual(mine?["route"] as? String, outcome, r.text, file: file, line: line)
        XCTAssertEqual(mine?["status"] as? String, "Refused", r.text, file: file, line: line)
        XCTAssertTrue((mine?["reason"] as? String ?? "").contains(reason), r.text, file: file, line: line)
    }

    func send(_ client: BackendClient, from: String, to: [String]) throws -> BackendClient.Reply {
        try client.submit(metadata: BackendClient.metadata(from: from, to: to), files: [("a.txt", Array("A".utf8))])
    }

    func inboxCount(_ client: BackendClient, _ address: String) throws -> Int {
        (try client.get("/api/v1/inbox?address=\(address)").json["items"] as? [Any])?.count ?? -1
    }

    func put(_ client: BackendClient, _ path: String, json: String) throws -> BackendClient.Reply {
        try client.put(path, file: try h.file("put-\(UUID().uuidString.prefix(8)).json", Array(json.utf8)))
    }

    func testTheNonDigitalRegisterIsOperatedAuditedAndRefusesSubmissionsToItsPersons() throws {
        let entry = "{\"personCode\": \"\(Self.nonDigitalCode)\", \"reason\": \"Court decision 12/3: guardianship\"}"
        // Only operators keep the register.
        assertProblem(try lookup.post("/api/v1/non-digital-persons", json: entry), 403, "forbidden", "operator role")
        assertProblem(try ministry.get("/api/v1/non-digital-persons"), 403, "forbidden")
        let bad = try registry.post("/api/v1/non-digital-persons",
                                    json: "{\"personCode\": \"01019012300\", \"reason\": \"\", \"validFrom\": \"2030-01-01T00:00:00Z\", \"validUntil\": \"2029-01-01T00:00:00Z\", \"x\": 1}")
        assertProblem(bad, 422, "invalid-request")
        XCTAssertEqual(Set(((bad.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["pointer"] as? String }),
                       ["/personCode", "/reason", "/validUntil", "/x"], bad.text)
        XCTAssertEqual((try registry.get("/api/v1/non-digital-persons").json["items"] as? [Any])?.count, 0, "a refused entry is not stored")

        // Before the entry the person receives like anyone.
        XCTAssertEqual(try send(ministry, from: Self.ministry, to: ["_PRIVATE@" + Self.nonDigitalCode]).status, 202)
        let added = try registry.post("/api/v1/non-digital-persons", json: entry)
        XCTAssertEqual(added.status, 201, added.text)
        let id = try XCTUnwrap((added.json["id"] as? NSNumber)?.intValue)
        XCTAssertEqual(added.json["recordedBy"] as? String, "registry")
        XCTAssertEqual(added.json["validNow"] as? Bool, true)
        XCTAssertNotNil(added.json["recordedAt"] as? String)
        XCTAssertEqual(try registry.post("/api/v1/non-digital-persons", json: "{\"personCode\": \"\(Self.paperOnlyCode)\", \"reason\": \"No internet access\"}").status, 201)

        // A message to a non-digital person is not queued: the sender learns at once that the
        // person receives no e-address mail, never the register's reason, and nothing is stored
        // for anyone (the company is refused too).
        let refused = try send(ministry, from: Self.ministry, to: [Self.company, "_PRIVATE@" + Self.nonDigitalCode])
        assertRefused(refused, "_PRIVATE@" + Self.nonDigitalCode, "RecipientNonDigital", "receives no e-address mail")
        XCTAssertFalse(refused.text.contains("Court decision") || refused.text.contains("guardianship"), refused.text)
        XCTAssertEqual(((refused.json["errors"] as? [[String: Any]]) ?? []).map { $0["pointer"] as? String }, ["/recipients/1"])
        let paperOnly = try send(ministry, from: Self.ministry, to: ["_PRIVATE@" + Self.paperOnlyCode])
        assertRefused(paperOnly, "_PRIVATE@" + Self.paperOnlyCode, "RecipientNonDigital", "send it on paper")
        XCTAssertFalse(paperOnly.text.contains("No internet access"), paperOnly.text)
        XCTAssertEqual(try inboxCount(company, Self.company), 0)

        // A company, which may not write to persons, learns nothing of the register: its
        // submission is refused by the policy for both persons alike, the register unread.
        let probe = try send(company, from: Self.company, to: ["_PRIVATE@" + Self.nonDigitalCode, Self.personA])
        for person in ["_PRIVATE@" + Self.nonDigitalCode, Self.personA] { assertRefused(probe, person, "PolicyForbidden", "companyToPerson") }
        XCTAssertFalse(probe.text.contains("RecipientNonDigital") || probe.text.contains("non-digital") || probe.text.contains("Court decision"), probe.text)
        // The refusals that did read the register are recorded as lookups, with who asked about whom.
        let lookups = try registry.get("/api/v1/channel/lookups")
        XCTAssertEqual(((lookups.json["items"] as? [[String: Any]]) ?? []).map { "\($0["connection"]!) \($0["personCount"]!) \($0["purpose"] ?? "-")" },
                       ["ministry 1 refusedSubmission", "ministry 1 refusedSubmission"], lookups.text)
        let aboutOne = try registry.get("/api/v1/channel/lookups?person=\(Self.nonDigitalCode)")
        XCTAssertEqual(((aboutOne.json["items"] as? [[String: Any]]) ?? []).compactMap { $0["connection"] as? String }, ["ministry"], aboutOne.text)
        XCTAssertTrue(h.nodes["gw-a"]!.log.contains("purpose=refusedSubmission"), "logged like a lookup, with why")

        // Listing and filters.
        XCTAssertEqual((try registry.get("/api/v1/non-digital-persons?person=\(Self.nonDigitalCode)").json["items"] as? [[String: Any]])?.count, 1)
        XCTAssertEqual((try registry.get("/api/v1/non-digital-persons?validAt=now").json["items"] as? [Any])?.count, 2)
        assertProblem(try registry.get("/api/v1/non-digital-persons?person=123"), 422, "invalid-request", "personal code")

        // Ending keeps the entry and its history; a second ending conflicts; an unknown one is 404.
        let ended = try registry.post("/api/v1/non-digital-persons/\(id)/end", json: "{\"reason\": \"Guardianship lifted\"}")
        XCTAssertEqual(ended.status, 200, ended.text)
        XCTAssertEqual(ended.json["endedBy"] as? String, "registry")
        XCTAssertEqual(ended.json["validNow"] as? Bool, false)
        assertProblem(try registry.post("/api/v1/non-digital-persons/\(id)/end", json: "{}"), 409, "conflict")
        assertProblem(try registry.post("/api/v1/non-digital-persons/99999/end", json: "{}"), 404, "not-found")
        assertProblem(try lookup.post("/api/v1/non-digital-persons/\(id)/end", json: "{}"), 403, "forbidden")
        assertProblem(try registry.get("/api/v1/non-digital-persons/\(id)/end"), 405, "method-not-allowed")
        XCTAssertEqual((try registry.get("/api/v1/non-digital-persons?validAt=now").json["items"] as? [Any])?.count, 1)
        let history = try registry.get("/api/v1/non-digital-persons/history?person=\(Self.nonDigitalCode)")
        XCTAssertEqual((history.json["items"] as? [[String: Any]])?.map { "\($0["action"]!) \($0["by"]!) \($0["detail"]!)" },
                       ["added registry Court decision 12/3: guardianship", "ended registry Guardianship lifted"], history.text)
        // Digital again: the message goes through.
        XCTAssertEqual(try send(ministry, from: Self.ministry, to: ["_PRIVATE@" + Self.nonDigitalCode]).status, 202)

        // An entry from a later date changes nothing before it: validFrom is when it starts.
        let later = try registry.post("/api/v1/non-digital-persons",
                                      json: "{\"personCode\": \"16117519997\", \"reason\": \"Moves abroad\", \"validFrom\": \"2999-01-01T00:00:00Z\"}")
        XCTAssertEqual(later.status, 201, later.text)
        XCTAssertEqual(later.json["validNow"] as? Bool, false)
        XCTAssertEqual(try send(ministry, from: Self.ministry, to: [Self.personA]).status, 202)
        XCTAssertEqual(try lookup.get("/api/v1/channel?person=16117519997").json["channel"] as? String, "eaddress")
        XCTAssertEqual((try registry.get("/api/v1/non-digital-persons?validAt=2999-06-01T00:00:00Z").json["items"] as? [[String: Any]])?
            .compactMap { $0["personCode"] as? String }.sorted(), ["02028512307", "16117519997"])
    }

    /// A state system writes on paper on the strength of the answer: it says when it held, and a
    /// register answer since when the entry holds, so a status changed yesterday shows as such.
    func testTheChannelAnswerSaysWhenItHeldAndOnWhatBasis() throws {
        let since = "2026-01-01T00:00:00.000Z"
        let added = try registry.post("/api/v1/non-digital-persons",
                                      json: "{\"personCode\": \"\(Self.paperOnlyCode)\", \"reason\": \"No internet access\", \"validFrom\": \"\(since)\"}")
        XCTAssertEqual(added.status, 201, added.text)
        let before = Date().addingTimeInterval(-1)
        let one = try lookup.get("/api/v1/channel?person=\(Self.paperOnlyCode)")
        XCTAssertEqual(one.status, 200, one.text)
        XCTAssertEqual([one.json["channel"], one.json["reason"], one.json["detail"]] as? [String], ["paper", "nonDigital", "No internet access"], one.text)
        XCTAssertEqual(one.json["validFrom"] as? String, since, "the basis: since when the entry holds")
        XCTAssertTrue(one.json.keys.contains("validUntil") && one.json["validUntil"] is NSNull, one.text)
        let at = try XCTUnwrap(one.json["at"] as? String, "the answer says when it held: \(one.text)")
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let time = { (text: String) in format.date(from: text) }
        let when = try XCTUnwrap(time(at), at)
        XCTAssertTrue(when >= before && when <= Date().addingTimeInterval(1), at)
        // The lookup is recorded with the moment the answer gives (the store keeps milliseconds).
        let recorded = (try registry.get("/api/v1/channel/lookups?person=\(Self.paperOnlyCode)").json["items"] as? [[String: Any]])?.first
        let recordedAt = try XCTUnwrap((recorded?["at"] as? String).flatMap(time), "\(recorded ?? [:])")
        XCTAssertLessThanOrEqual(abs(recordedAt.timeIntervalSince(when)), 0.0015, "\(recordedAt) \(at)")

        // A batch answers for one moment, given once; the other answers carry no register basis.
        let batch = try lookup.post("/api/v1/channel", json: "{\"persons\": [\"\(Self.paperOnlyCode)\", \"321234-56789\", \"20100012307\"]}")
        XCTAssertEqual(batch.status, 200, batch.text)
        XCTAssertNotNil(batch.json["at"] as? String, batch.text)
        let results = (batch.json["results"] as? [[String: Any]]) ?? []
        XCTAssertEqual(results.map { $0["validFrom"] as? String }, [since, nil, nil], batch.text)
        XCTAssertEqual(results.map { $0["channel"] as? String }, ["paper", "eaddress", "paper"], "the new format with a hyphen is a code too")
        XCTAssertEqual(results[1]["person"] as? String, "32123456789")
    }

    func testTheChannelLookupAnswersEveryPersonOfABatchOfTenThousandAndLogsWhoAsked() throws {
        XCTAssertEqual(try registry.post("/api/v1/non-digital-persons", json: "{\"personCode\": \"\(Self.paperOnlyCode)\", \"reason\": \"No internet access\"}").status, 201)
        XCTAssertEqual(try registry.post("/api/v1/non-digital-persons", json: "{\"personCode\": \"\(Self.nonDigitalCode)\", \"reason\": \"Guardianship\"}").status, 201)

        let one = try lookup.get("/api/v1/channel?person=161175-19997")
        XCTAssertEqual(one.status, 200, one.text)
        XCTAssertEqual(one.json["channel"] as? String, "eaddress")
        XCTAssertEqual(one.json["address"] as? String, Self.personA)
        let paper = try lookup.get("/api/v1/channel?person=\(Self.nonDigitalCode)").json
        XCTAssertEqual([paper["channel"], paper["reason"], paper["detail"]] as? [String], ["paper", "nonDigital", "Guardianship"], "the register beats the directory")
        let none = try lookup.get("/api/v1/channel?person=20100012307").json
        XCTAssertEqual([none["channel"], none["reason"]] as? [String], ["paper", "noActiveAddress"])
        assertProblem(try lookup.get("/api/v1/channel?person=20100012300"), 422, "invalid-request", "check digit")
        assertProblem(try lookup.get("/api/v1/channel"), 422, "invalid-request")
        assertProblem(try ministry.get("/api/v1/channel?person=\(Self.paperOnlyCode)"), 403, "forbidden", "lookup role")
        XCTAssertEqual(try registry.get("/api/v1/channel?person=\(Self.paperOnlyCode)").status, 200, "operators may look up too")

        // 10,000 codes: three known persons, one invalid code, the rest nobody.
        var codes = (0..<9_995).map { "32" + String(format: "%09d", 500_000_000 + $0) }
        codes += [Self.personA.replacingOccurrences(of: "_PRIVATE@", with: ""), Self.nonDigitalCode, Self.paperOnlyCode, "32123456789", "0101901230X"]
        XCTAssertEqual(codes.count, 10_000)
        let body = "{\"persons\": [" + codes.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
        let started = Date()
        let batch = try lookup.post("/api/v1/channel", json: body)
        print("channel lookup of \(codes.count) codes through the API (debug build, with HTTP): \(Int(Date().timeIntervalSince(started) * 1000)) ms")
        XCTAssertEqual(batch.status, 200, String(batch.text.prefix(500)))
        let results = try XCTUnwrap(batch.json["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 10_000)
        XCTAssertEqual(batch.json["counts"] as? [String: Int], ["eaddress": 2, "paper": 9_997, "invalid": 1])
        XCTAssertTrue(results[0..<9_995].allSatisfy { $0["channel"] as? String == "paper" && $0["reason"] as? String == "noActiveAddress" })
        XCTAssertEqual(results[9_995]["address"] as? String, Self.personA)
        XCTAssertEqual([results[9_996]["reason"], results[9_996]["detail"]] as? [String], ["nonDigital", "Guardianship"])
        XCTAssertEqual([results[9_997]["reason"], results[9_997]["detail"]] as? [String], ["nonDigital", "No internet access"])
        XCTAssertEqual(results[9_998]["address"] as? String, Self.personB)
        XCTAssertEqual(results[9_999]["person"] as? String, "0101901230X")
        XCTAssertTrue((results[9_999]["error"] as? String ?? "").contains("11 digits"), "\(results[9_999])")
        XCTAssertNil(results[9_999]["channel"])

        let tooMany = "{\"persons\": [" + Array(repeating: "\"\(Self.paperOnlyCode)\"", count: 10_001).joined(separator: ",") + "]}"
        assertProblem(try lookup.post("/api/v1/channel", json: tooMany), 413, "too-large", "at most 10000")
        assertProblem(try lookup.post("/api/v1/channel", json: "{\"persons\": []}"), 422, "invalid-request")
        assertProblem(try lookup.post("/api/v1/channel", json: "{\"people\": [\"x\"]}"), 422, "invalid-request", "unknown field people")

        // Every answered lookup is in the log with who asked: who asked about person A?
        let asked = try registry.get("/api/v1/channel/lookups?person=16117519997")
        XCTAssertEqual((asked.json["items"] as? [[String: Any]])?.map { "\($0["connection"]!) \($0["personCount"]!) \($0["purpose"] ?? "-")" },
                       ["vid 9999 lookup", "vid 1 lookup"], asked.text)
        let aboutPaper = (try registry.get("/api/v1/channel/lookups?person=\(Self.paperOnlyCode)").json["items"] as? [[String: Any]])?.map { $0["connection"] as! String }
        XCTAssertEqual(aboutPaper, ["vid", "registry"], "the refused ones (403, 413) asked nothing")
        assertProblem(try lookup.get("/api/v1/channel/lookups"), 403, "forbidden")
        XCTAssertTrue(h.nodes["gw-a"]!.log.contains("channel-lookup"), "one log line per lookup")
        XCTAssertEqual(h.nodes["gw-a"]!.log.components(separatedBy: "channel-lookup").count - 1, 5, h.nodes["gw-a"]!.log)

        // Items that are not strings are their own errors, never read as codes: the JSON number
        // 16117519997 is not person A, and only the string item is logged as asked about.
        let mixed = try lookup.post("/api/v1/channel", json: "{\"persons\": [16117519997, \"161175-19997\", true, null]}")
        XCTAssertEqual(mixed.status, 200, mixed.text)
        let items = try XCTUnwrap(mixed.json["results"] as? [[String: Any]])
        XCTAssertEqual(items.map { $0["person"] as? String }, ["16117519997", "16117519997", "true", "null"])
        XCTAssertEqual(items.map { $0["channel"] as? String }, [nil, "eaddress", nil, nil])
        XCTAssertTrue((items[0]["error"] as? String ?? "").contains("not a string"), "\(items[0])")
        XCTAssertEqual(mixed.json["counts"] as? [String: Int], ["eaddress": 1, "paper": 0, "invalid": 3])
        let askedNow = (try registry.get("/api/v1/channel/lookups?person=16117519997").json["items"] as? [[String: Any]])?.map { "\($0["personCount"]!)" }
        XCTAssertEqual(askedNow?.first, "1", "the newest lookup asked about one person")
    }

    func testTheCompanyRegisterRefusesLiquidatedAndUnregisteredCompaniesOnceImported() throws {
        // No register yet: company addresses are not checked.
        XCTAssertEqual(try send(ministry, from: Self.ministry, to: [Self.unregistered]).status, 202)

        let broken = try h.file("broken.csv", Array("regcode;name;closed\n40003032949;Latvenergo;\n4000300000;Beigas;L\n".utf8))
        let refused = try GatewayProcess.run(["companies", "import", broken, "--data", h.nodes["gw-a"]!.data])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("broken.csv:3:1: the registration number must be 11 digits"), refused.stderr)

        let csv = "id;regcode;name;type;terminated;closed\n1;40003032949;Latvenergo;AS;;\n2;40003000001;Beigas;SIA;2020-03-15;L\n"
        let imported = try GatewayProcess.run(["companies", "import", try h.file("register.csv", Array(csv.utf8)), "--data", h.nodes["gw-a"]!.data])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertTrue(imported.stdout.contains("added 2: 40003032949, 40003000001"), imported.stdout)
        XCTAssertTrue(imported.stdout.contains("liquidated 1: 40003000001"), imported.stdout)

        assertRefused(try send(ministry, from: Self.ministry, to: [Self.liquidated]), Self.liquidated, "CompanyLiquidated", "liquidated on 2020-03-15")
        assertRefused(try send(ministry, from: Self.ministry, to: [Self.unregistered]), Self.unregistered, "CompanyNotRegistered",
                      "50003000003 is not in the company register")
        XCTAssertEqual(try send(ministry, from: Self.ministry, to: [Self.company]).status, 202)
        XCTAssertEqual(try send(company, from: Self.company, to: [Self.institution]).status, 202, "a registered company writes to the state")
        XCTAssertEqual(try send(ministry, from: Self.ministry, to: [Self.foreign]).status, 202, "another network's company is not looked up")

        // Refresh: Latvenergo is liquidated now, Beigas is gone from the file.
        let next = "regcode,name,legalForm,status,liquidationDate\n40003032949,Latvenergo,AS,L,2026-01-02\n"
        let refreshed = try GatewayProcess.run(["companies", "import", try h.file("register2.csv", Array(next.utf8)), "--data", h.nodes["gw-a"]!.data, "--json"])
        XCTAssertEqual(refreshed.status, 0, refreshed.stderr)
        let report = try XCTUnwrap(refreshed.json)
        XCTAssertEqual((report["changed"] as? [String: Any])?["count"] as? Int, 1)
        XCTAssertEqual(((report["changed"] as? [String: Any])?["first"] as? [[String: Any]])?.first?["fields"] as? [String], ["status", "liquidationDate"])
        XCTAssertEqual((report["liquidated"] as? [String: Any])?["first"] as? [String], ["40003032949"])
        XCTAssertEqual((report["removed"] as? [String: Any])?["first"] as? [String], ["40003000001"])
        // A liquidated company may not send either, not even to the state.
        let fromLiquidated = try send(company, from: Self.company, to: [Self.personA])
        assertRefused(fromLiquidated, Self.personA, "CompanyLiquidated", "the sender \(Self.company)")
        assertRefused(try send(ministry, from: Self.ministry, to: [Self.company]), Self.company, "CompanyLiquidated", "the recipient")
    }

    func testWhoMayWriteToWhomFollowsTheLawTheSwitchesAndTheOptIns() throws {
        // The law: the state writes to persons and companies.
        XCTAssertEqual(try send(ministry, from: Self.ministry, to: [Self.personA, Self.company]).status, 202)
        // person → person is switched on, but B has not opted in.
        assertRefused(try send(personA, from: Self.personA, to: [Self.personB]), Self.personB, "PolicyForbidden", "has not opted in to messages from persons")
        XCTAssertEqual(try inboxCount(personB, Self.personB), 0)
        // Only B's own connection sets B's opt-in.
        assertProblem(try put(personA, "/api/v1/addresses/\(Self.personB)/opt-in", json: "{\"fromPersons\": true}"), 403, "forbidden")
        assertProblem(try put(personB, "/api/v1/addresses/\(Self.personB)/opt-in", json: "{\"fromPersons\": \"yes\"}"), 422, "invalid-request", "/fromPersons")
        let set = try put(personB, "/api/v1/addresses/\(Self.personB)/opt-in", json: "{\"fromPersons\": true}")
        XCTAssertEqual(set.status, 200, set.text)
        XCTAssertEqual([set.json["fromPersons"], set.json["fromCompanies"]] as? [Bool], [true, false])
        XCTAssertEqual(set.json["setBy"] as? String, "person-b")
        XCTAssertEqual(try personB.get("/api/v1/addresses/\(Self.personB)/opt-in").json["fromPersons"] as? Bool, true)
        XCTAssertEqual(try send(personA, from: Self.personA, to: [Self.personB]).status, 202)
        // company → person stays off whatever the person consents to: the switch is the gateway's.
        XCTAssertEqual(try put(personA, "/api/v1/addresses/\(Self.personA)/opt-in", json: "{\"fromCompanies\": true}").status, 200)
        assertRefused(try send(company, from: Self.company, to: [Self.personA]), Self.personA, "PolicyForbidden", "messagingPolicy.companyToPerson is off")
        assertRefused(try send(personA, from: Self.personA, to: [Self.company]), Self.company, "PolicyForbidden", "messagingPolicy.personToCompany is off")
        XCTAssertEqual(try inboxCount(company, Self.company), 1, "only the ministry's message")
        // Persons and companies write to the state, no opt-in needed.
        XCTAssertEqual(try send(personA, from: Self.personA, to: [Self.institution]).status, 202)
        XCTAssertEqual(try send(company, from: Self.company, to: [Self.institution]).status, 202)
    }
}
