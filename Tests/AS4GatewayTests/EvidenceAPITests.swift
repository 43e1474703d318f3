import Foundation
import XCTest

/// Legal proof through the API with real processes: the status says plainly whether each
/// recipient counts as sent and when it is deemed notified (with the operator's holiday file);
/// the evidence bundle of a real exchange verifies offline, and one byte changed anywhere that
/// matters is refused with a reason that says where.
final class EvidenceAPITests: XCTestCase {
    static let sender = "DVS@90000048472"
    static let company = "_DEFAULT@40003032949"
    static let institution = "_DEFAULT@90000048472"

    /// A holiday file that makes every day from yesterday to 11 days ahead a day off and the two
    /// days after them working days: whatever the Riga day of sending (today or tomorrow), the
    /// deemed date is today + 13, which the rules alone would almost never give.
    static func holidayFile(today: Date, offUntil last: Int = 11) -> (json: String, deemed: String) {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        func day(_ n: Int) -> String { f.string(from: today.addingTimeInterval(Double(n) * 86400)) }
        var years: [String: (off: [String], working: [String])] = [:]
        for n in -1...last { years[String(day(n).prefix(4)), default: ([], [])].off.append(day(n)) }
        for n in (last + 1)...(last + 2) { years[String(day(n).prefix(4)), default: ([], [])].working.append(day(n)) }
        let body = years.keys.sorted().map { year in
            let off = years[year]!.off.map { "{\"date\": \"\($0)\", \"name\": \"test day off\"}" }.joined(separator: ", ")
            let working = years[year]!.working.map { "{\"date\": \"\($0)\", \"name\": \"test working day\"}" }.joined(separator: ", ")
            return "\"\(year)\": {\"daysOff\": [\(off)], \"workingDays\": [\(working)]}"
        }.joined(separator: ", ")
        return ("{\"years\": {\(body)}}", day(last + 2))
    }

    func recipients(_ reply: BackendClient.Reply) -> [String: [String: Any]] {
        Dictionary(uniqueKeysWithValues: ((reply.json["recipients"] as? [[String: Any]]) ?? []).map { ($0["address"] as! String, $0) })
    }

    func testStatusAndEvidenceOfARealExchangeVerifyOfflineAndTamperingIsNamed() throws {
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg(), GatewayHarness.Leg(action: "EAddressDocument", retries: 30), GatewayHarness.Leg(action: "EAddressStatus")])
        try h.importDirectory("gw-a", [h.remoteEntry(Self.company, ownerId: "40003032949", kind: "company", party: "gw-b"),
                                       GatewayHarness.localEntry(Self.institution, ownerId: "90000048472", kind: "institution")])
        try h.importDirectory("gw-b", [GatewayHarness.localEntry(Self.company, ownerId: "40003032949", kind: "company")])
        let portA = h.nodes["gw-a"]!.submitPort
        let dmsA = try BackendClient(port: portA, token: try h.addConnection("gw-a", name: "dms-a", addresses: [Self.sender]))
        let dmsInstitution = try BackendClient(port: portA, token: try h.addConnection("gw-a", name: "institution", addresses: [Self.institution]))
        let stranger = try BackendClient(port: portA, token: try h.addConnection("gw-a", name: "stranger", addresses: ["_DEFAULT@40003000000"]))
        let dmsCompany = try BackendClient(port: h.nodes["gw-b"]!.submitPort,
                                           token: try h.addConnection("gw-b", name: "company", addresses: [Self.company]))
        let calendar = Self.holidayFile(today: Date())
        let calendarPath = try h.file("lv-test.json", Array(calendar.json.utf8))
        let config = try h.file("gw-a.json", Array("{\"holidayCalendar\": \"\(calendarPath)\"}".utf8))
        h.nodes["gw-a"]!.extraArguments = ["--config", config]
        try h.start("gw-a")

        // B is down: the mailbox recipient is sent at once, the remote one is not.
        let submitted = try dmsA.submit(metadata: BackendClient.metadata(from: Self.sender, to: [Self.company, Self.institution]),
                                        files: [("lemums.xml", Array("<lemums>Nr. 7</lemums>".utf8))])
        XCTAssertEqual(submitted.status, 202, submitted.text)
        let id = try XCTUnwrap(submitted.json["messageId"] as? String)
        var status = recipients(try dmsA.get("/api/v1/messages/\(id)"))
        XCTAssertEqual(status[Self.company]?["sent"] as? Bool, false)
        XCTAssertTrue(status[Self.company]?["sentAt"] is NSNull)
        XCTAssertTrue(status[Self.company]?["deemedNotifiedOn"] is NSNull)
        XCTAssertTrue((status[Self.company]?["sentStatement"] as? String)?.hasPrefix("Not sent: this gateway holds no signed receipt from gw-b") == true,
                      "\(String(describing: status[Self.company]))")
        XCTAssertEqual(status[Self.institution]?["sent"] as? Bool, true)
        XCTAssertEqual(status[Self.institution]?["deemedNotifiedOn"] as? String, calendar.deemed, "the holiday file moves the date")
        XCTAssertTrue((status[Self.institution]?["sentStatement"] as? String)?.contains("stored in \(Self.institution)'s mailbox on this gateway") == true)

        try h.start("gw-b")
        try h.waitUntil(timeout: 60, "the company's receipt at A") {
            recipients(try dmsA.get("/api/v1/messages/\(id)"))[Self.company]?["sent"] as? Bool == true
        }
        try h.waitUntil(timeout: 30, "the document in the company's mailbox") {
            ((try dmsCompany.get("/api/v1/inbox?address=\(Self.company)")).json["items"] as? [Any])?.count == 1
        }
        XCTAssertEqual(try dmsCompany.post("/api/v1/messages/\(id)/confirm", json: "{\"decision\": \"accept\", \"code\": \"OK\"}").status, 200)
        try h.waitUntil(timeout: 30, "the company's answer at A") {
            recipients(try dmsA.get("/api/v1/messages/\(id)"))[Self.company]?["status"] as? String == "RecipientAccepted"
        }
        status = recipients(try dmsA.get("/api/v1/messages/\(id)"))
        XCTAssertEqual(status[Self.company]?["deemedNotifiedOn"] as? String, calendar.deemed)
        XCTAssertNotNil(status[Self.company]?["sentAt"] as? String)
        XCTAssertTrue((status[Self.company]?["sentStatement"] as? String)?.contains("holds the valid signed AS4 receipt of gw-b") == true)

        // The sender's bundle: both recipients, the receipt, the answer, the events and their chain values.
        let reply = try dmsA.get("/api/v1/messages/\(id)/evidence")
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(reply.contentType, "application/xml")
        let bundle = reply.text
        for expected in ["<ev:Receipt", "verified=\"true\"", "decision=\"accept\"", "table=\"document_events\"", "table=\"events\"",
                         "prevHash=\"", "deemedNotifiedOn=\"\(calendar.deemed)\"", "name=\"lemums.xml\"", Self.institution] {
            XCTAssertTrue(bundle.contains(expected), "the bundle lacks \(expected)")
        }
        let path = try h.file("evidence.xml", reply.body)
        let anchors = h.pmodeDirectory + "/certs/dev-ca.pem"
        let good = try GatewayProcess.run(["evidence", "verify", path, "--truststore", anchors])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(good.stdout.hasPrefix("valid: message \(id), sealed by "), good.stdout)
        XCTAssertTrue(good.stdout.contains("1 receipts verified"), good.stdout)
        XCTAssertTrue(good.stdout.contains("\(Self.company): sent, deemed notified on \(calendar.deemed)"), good.stdout)
        XCTAssertTrue(good.stderr.contains("no --sealer given"), good.stderr)
        // Pinned to the gateway that sealed it: valid; pinned to another gateway (gw-b, under the
        // same CA, could seal a bundle "for" gw-a): refused.
        let certs = h.pmodeDirectory + "/certs"
        let pinned = try GatewayProcess.run(["evidence", "verify", path, "--truststore", anchors, "--sealer", certs + "/gw-a.signing.pem"])
        XCTAssertEqual(pinned.status, 0, pinned.stderr)
        XCTAssertFalse(pinned.stderr.contains("no --sealer given"), pinned.stderr)
        let otherSealer = try GatewayProcess.run(["evidence", "verify", path, "--truststore", anchors, "--sealer", certs + "/gw-b.signing.pem"])
        XCTAssertEqual(otherSealer.status, 1, otherSealer.stdout)
        XCTAssertTrue(otherSealer.stderr.contains("not one of the gateway certificates given with --sealer"), otherSealer.stderr)

        // A recipient's bundle holds its own part only, and verifies too.
        let own = try dmsInstitution.get("/api/v1/messages/\(id)/evidence")
        XCTAssertEqual(own.status, 200, own.text)
        // Nor the company in the metadata's list: the recipient's copy names its own recipients only.
        XCTAssertFalse(own.text.contains(Self.company), "the institution must not see the company at all")
        XCTAssertTrue(own.text.contains("<ev:Metadata view=\"recipient\">"), own.text)
        XCTAssertFalse(own.text.contains("recipient=\"\(Self.company)\""), "nor the company's events")
        XCTAssertFalse(own.text.contains("<ev:Receipt"))
        XCTAssertEqual(try GatewayProcess.run(["evidence", "verify", try h.file("own.xml", own.body), "--truststore", anchors]).status, 0)

        // At B, the company's bundle is sealed by B and holds the AS4 message the document came in.
        let atB = try dmsCompany.get("/api/v1/messages/\(id)/evidence")
        XCTAssertEqual(atB.status, 200, atB.text)
        XCTAssertFalse(atB.text.contains(Self.institution), "B was never told of gw-a's mailbox recipient")
        XCTAssertTrue(atB.text.contains("direction=\"in\""), "the inbound AS4 message's events")
        let verifiedAtB = try GatewayProcess.run(["evidence", "verify", try h.file("at-b.xml", atB.body), "--truststore", anchors])
        XCTAssertEqual(verifiedAtB.status, 0, verifiedAtB.stderr)
        XCTAssertTrue(verifiedAtB.stdout.contains("sealed by CN=gw-b signing"), verifiedAtB.stdout)

        // Refusals of the route.
        let forbidden = try stranger.get("/api/v1/messages/\(id)/evidence")
        XCTAssertEqual(forbidden.status, 403, forbidden.text)
        XCTAssertEqual(forbidden.contentType, "application/problem+json")
        XCTAssertEqual(try dmsA.get("/api/v1/messages/no-such-id/evidence").status, 404)
        XCTAssertEqual(try dmsA.post("/api/v1/messages/\(id)/evidence", json: "{}").status, 405)
        XCTAssertEqual(try BackendClient(port: portA, token: nil).get("/api/v1/messages/\(id)/evidence").status, 401)

        // Each tampering is refused, and the reason says what.
        func refusal(_ changed: String, _ name: String, anchors anchorFile: String = anchors) throws -> String {
            let r = try GatewayProcess.run(["evidence", "verify", try h.file(name, Array(changed.utf8)), "--truststore", anchorFile])
            XCTAssertEqual(r.status, 1, "\(name) was accepted: \(r.stdout)")
            return r.stderr
        }
        let eventTime = try XCTUnwrap(bundle.range(of: #"<ev:Event eventId="\d+" messageId="[^"]*" (recipient="[^"]*" )?at="[^"]*\.\d\d"#,
                                                   options: .regularExpression))
        let digit = bundle.index(before: eventTime.upperBound)
        var changed = bundle
        changed.replaceSubrange(digit...digit, with: bundle[digit] == "1" ? "2" : "1")
        var reason = try refusal(changed, "time.xml")
        XCTAssertTrue(reason.contains("the content's digest does not match the sealed one"), reason)
        XCTAssertTrue(reason.contains("document_events event") && reason.contains("its hash does not match its fields"), reason)

        let sha = try XCTUnwrap(bundle.range(of: #"sha256="[0-9a-f]"#, options: .regularExpression))
        changed = bundle
        let hexDigit = bundle.index(before: sha.upperBound)
        changed.replaceSubrange(hexDigit...hexDigit, with: bundle[hexDigit] == "a" ? "b" : "a")
        reason = try refusal(changed, "digest.xml")
        XCTAssertTrue(reason.contains("the content's digest does not match the sealed one: the bundle was changed after sealing"), reason)

        let receiptRange = try XCTUnwrap(bundle.range(of: #"(?<=<ev:Receipt )[^>]*>[^<]+"#, options: .regularExpression))
        let receiptText = String(bundle[receiptRange])
        let base64 = String(receiptText[receiptText.index(after: receiptText.firstIndex(of: ">")!)...])
        let receiptXML = String(decoding: try XCTUnwrap(Data(base64Encoded: base64)), as: UTF8.self)
        let forged = try XCTUnwrap(receiptXML.range(of: #"<eb:Timestamp>\d"#, options: .regularExpression))
        var receiptChanged = receiptXML
        let year = receiptXML.index(before: forged.upperBound)
        receiptChanged.replaceSubrange(year...year, with: receiptXML[year] == "2" ? "3" : "2")
        changed = bundle.replacingOccurrences(of: base64, with: Data(receiptChanged.utf8).base64EncodedString())
        reason = try refusal(changed, "receipt.xml")
        XCTAssertTrue(reason.contains("recipient \(Self.company): the receipt for ") && reason.contains("does not verify"), reason)

        let value = try XCTUnwrap(bundle.range(of: #"(?<=<ds:SignatureValue>)[A-Za-z0-9+/]{8}"#, options: .regularExpression))
        changed = bundle
        changed.replaceSubrange(value, with: bundle[value] == "AAAAAAAA" ? "BBBBBBBB" : "AAAAAAAA")
        reason = try refusal(changed, "signature.xml")
        XCTAssertTrue(reason.contains("the seal's signature value does not verify"), reason)

        reason = try refusal(bundle, "untrusted.xml", anchors: h.pmodeDirectory + "/certs/gw-b.signing.pem")
        XCTAssertTrue(reason.contains("the sealing certificate") && reason.contains("is not trusted"), reason)

        // Usage and I/O.
        XCTAssertEqual(try GatewayProcess.run(["evidence", "verify"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["evidence", "check", path]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["evidence", "verify", h.root.appendingPathComponent("missing.xml").path,
                                               "--truststore", anchors]).status, 2)

        // The agreement the receipt was checked under is withdrawn (P-Modes reloaded without
        // it): the receipt no longer verifies, so the company no longer counts as sent, and the
        // bundle says so and still verifies.
        try h.configure(["gw-a", "gw-b"], legs: [GatewayHarness.Leg()])
        kill(try XCTUnwrap(h.nodes["gw-a"]!.process).processIdentifier, SIGHUP)
        try h.waitUntil(timeout: 10, "the P-Modes reloaded") { h.nodes["gw-a"]!.log.contains("pmodes-reloaded") }
        status = recipients(try dmsA.get("/api/v1/messages/\(id)"))
        XCTAssertEqual(status[Self.company]?["sent"] as? Bool, false)
        XCTAssertTrue(status[Self.company]?["deemedNotifiedOn"] is NSNull)
        XCTAssertEqual(status[Self.company]?["sentStatement"] as? String,
                       "Not sent: the receipt held from gw-b does not verify: the agreement the message was sent under is no longer configured.")
        let withdrawn = try dmsA.get("/api/v1/messages/\(id)/evidence")
        XCTAssertTrue(withdrawn.text.contains("verified=\"false\""), withdrawn.text)
        let stillValid = try GatewayProcess.run(["evidence", "verify", try h.file("withdrawn.xml", withdrawn.body), "--truststore", anchors])
        XCTAssertEqual(stillValid.status, 0, stillValid.stderr)
        XCTAssertTrue(stillValid.stdout.contains("\(Self.company): not sent"), stillValid.stdout)
        // Turning that recipient into "sent" by hand breaks the seal and is named.
        let claimed = withdrawn.text.replacingOccurrences(of: "sent=\"false\"", with: "sent=\"true\"")
        reason = try refusal(claimed, "claimed.xml")
        XCTAssertTrue(reason.contains("the content's digest does not match") && reason.contains("recipient \(Self.company)"), reason)

        // The independent check: Python (lxml's exclusive C14N, cryptography) on the same bytes.
        if let python = Self.python() {
            func independent(_ file: String) throws -> (Int32, String) {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: python)
                p.arguments = [GatewayProcess.projectRoot.appendingPathComponent("Tests/interop/evidence_verify.py").path, file, anchors]
                let out = Pipe()
                p.standardOutput = out
                p.standardError = out
                try p.run()
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                return (p.terminationStatus, text)
            }
            let agreed = try independent(path)
            XCTAssertEqual(agreed.0, 0, agreed.1)
            let refused = try independent(h.root.appendingPathComponent("digest.xml").path)
            XCTAssertEqual(refused.0, 1, refused.1)
            XCTAssertTrue(refused.1.contains("content digest mismatch"), refused.1)
        }
    }

    static func python() -> String? {
        let python = GatewayProcess.projectRoot.appendingPathComponent(".venv-as4/bin/python").path
        return FileManager.default.isExecutableFile(atPath: python) ? python : nil
    }
}

/// `holidayCalendar` is checked before the gateway starts: `--check-config` names a bad file
/// with the entry's pointer, and `serve` refuses to start with it.
final class HolidayCalendarConfigTests: XCTestCase {
    func testABadCalendarFileIsNamedByCheckConfigAndStopsTheStart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-calendar-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let calendar = dir.appendingPathComponent("lv.json").path
        try #"{"years": {"2026": {"daysOff": [{"date": "2027-01-01", "name": "x"}]}}}"#.write(toFile: calendar, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("gateway.json").path
        try """
            {"pmodeDirectory": "\(GatewayProcess.projectRoot.appendingPathComponent("pmode").path)", "holidayCalendar": "lv.json"}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let data = dir.appendingPathComponent("data").path
        let checked = try GatewayProcess.run(["serve", "--check-config", "--config", config, "--data", data])
        XCTAssertNotEqual(checked.status, 0)
        XCTAssertTrue((checked.stdout + checked.stderr).contains("holidayCalendar: \(calendar): /years/2026/daysOff/0: 2027-01-01 is not in 2026"),
                      checked.stdout + checked.stderr)
        let served = try GatewayProcess.run(["serve", "--config", config, "--data", data, "--as4-port", "0", "--submit-port", "0",
                                             "--admin-port", "0"])
        XCTAssertNotEqual(served.status, 0)
        XCTAssertTrue(served.stderr.contains("2027-01-01 is not in 2026"), served.stderr)
    }
}

/// SIGHUP re-reads the holiday calendar: a good file changes the deemed dates at once, a bad one
/// keeps the calendar in use and says so in the log.
final class HolidayCalendarReloadTests: XCTestCase {
    func testSIGHUPReloadsTheCalendarAndABadFileKeepsTheOldOne() throws {
        let sender = EvidenceAPITests.sender, institution = EvidenceAPITests.institution
        let h = try GatewayHarness()
        try h.configure(["gw-a", "gw-b"], legs: GatewayHarness.eAddressLegs)
        try h.importDirectory("gw-a", [GatewayHarness.localEntry(institution, ownerId: "90000048472", kind: "institution")])
        let dms = try BackendClient(port: h.nodes["gw-a"]!.submitPort, token: try h.addConnection("gw-a", name: "dms", addresses: [sender]))
        let first = EvidenceAPITests.holidayFile(today: Date()), second = EvidenceAPITests.holidayFile(today: Date(), offUntil: 20)
        let calendar = try h.file("lv.json", Array(first.json.utf8))
        h.nodes["gw-a"]!.extraArguments = ["--config", try h.file("gw-a.json", Array("{\"holidayCalendar\": \"\(calendar)\"}".utf8))]
        try h.start("gw-a")
        let sent = try dms.submit(metadata: BackendClient.metadata(from: sender, to: [institution]), files: [("a.txt", [1])])
        let id = try XCTUnwrap(sent.json["messageId"] as? String, sent.text)
        func deemed() throws -> String? {
            ((try dms.get("/api/v1/messages/\(id)").json["recipients"] as? [[String: Any]])?.first?["deemedNotifiedOn"] as? String)
        }
        XCTAssertEqual(try deemed(), first.deemed)

        try Data(second.json.utf8).write(to: URL(fileURLWithPath: calendar))
        let process = try XCTUnwrap(h.nodes["gw-a"]!.process)
        kill(process.processIdentifier, SIGHUP)
        try h.waitUntil(timeout: 10, "the calendar reloaded") { h.nodes["gw-a"]!.log.contains("calendar-reloaded") }
        XCTAssertEqual(try deemed(), second.deemed)

        try Data("{\"years\": 2026}".utf8).write(to: URL(fileURLWithPath: calendar))
        kill(process.processIdentifier, SIGHUP)
        try h.waitUntil(timeout: 10, "the bad calendar refused") { h.nodes["gw-a"]!.log.contains("calendar-refused") }
        XCTAssertEqual(try deemed(), second.deemed, "the calendar in use stays")
        XCTAssertTrue(process.isRunning)
    }
}
