import XCTest

final class InspectCommandTests: XCTestCase {
    func testHelp() throws {
        let top = try GatewayProcess.run(["--help"])
        XCTAssertEqual(top.status, 0)
        XCTAssertTrue(top.stdout.contains("inspect FILE"))
        let inspect = try GatewayProcess.run(["inspect", "--help"])
        XCTAssertEqual(inspect.status, 0)
        XCTAssertTrue(inspect.stdout.contains("Usage: as4gw inspect FILE"))
        XCTAssertTrue(inspect.stdout.contains("Exit status"))
    }

    func testUsageAndIOErrorsExitTwo() throws {
        XCTAssertEqual(try GatewayProcess.run(["inspect"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["inspect", "--bogus", "x"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["nonsense"]).status, 2)
        let missing = try GatewayProcess.run(["inspect", "/nonexistent/as4gw-message"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("cannot read"))
    }

    func testSignedMimeVectorSummary() throws {
        let r = try GatewayProcess.run(["inspect", GatewayProcess.vector("as4net/signed-mime/signed_holodeck_message.as4")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json)
        XCTAssertEqual(json["kind"] as? String, "UserMessage")
        XCTAssertEqual(json["messageId"] as? String, "cdcc838c-96ed-414a-b127-0937f5cd6549@CLT-FGHEYSELS.ad.codit.eu")
        XCTAssertEqual(json["action"] as? String, "StoreMessage")
        XCTAssertEqual(json["signed"] as? Bool, true)
        XCTAssertEqual(json["encrypted"] as? Bool, false)
        let parts = try XCTUnwrap(json["parts"] as? [[String: Any]])
        XCTAssertEqual(parts.count, 2)
        XCTAssertTrue(parts.allSatisfy { ($0["compressed"] as? Bool) == true && ($0["size"] as? Int ?? 0) > 0 })
        let from = try XCTUnwrap(json["from"] as? [String: Any])
        let ids = try XCTUnwrap(from["partyIds"] as? [[String: Any]])
        XCTAssertEqual(ids.first?["value"] as? String, "org:holodeckb2b:example:company:A")
    }

    func testHTTPDumpWithEncryptedPart() throws {
        let r = try GatewayProcess.run(["inspect", GatewayProcess.vector("phase4/signed-encrypted-mime/dump-raw.as4out")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.json)
        XCTAssertEqual(json["encrypted"] as? Bool, true)
        let part = try XCTUnwrap((json["parts"] as? [[String: Any]])?.first)
        XCTAssertEqual(part["encrypted"] as? Bool, true)
        XCTAssertEqual(part["compressed"] as? Bool, true)
    }

    func testEveryExpectedVerdictThroughTheCLI() throws {
        let table = try String(contentsOfFile: GatewayProcess.vector("EXPECTED.tsv"), encoding: .utf8)
        var lines = table.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let header = lines.removeFirst()
        let pathCol = try XCTUnwrap(header.firstIndex(of: "path"))
        let parseCol = try XCTUnwrap(header.firstIndex(of: "parse"))
        let errorCol = try XCTUnwrap(header.firstIndex(of: "parse_error"))
        var checked = 0
        for row in lines where ["ok", "policy", "fail"].contains(row[parseCol]) {
            let r = try GatewayProcess.run(["inspect", "--compact", GatewayProcess.vector(row[pathCol])])
            if row[parseCol] == "fail" {
                XCTAssertEqual(r.status, 1, row[pathCol])
                XCTAssertEqual(r.json?["error"] as? String, row[errorCol], row[pathCol])
                XCTAssertTrue(r.stderr.contains(row[errorCol]), row[pathCol])
            } else {
                XCTAssertEqual(r.status, 0, "\(row[pathCol]): \(r.stderr)")
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 50)
    }

    func testContentTypeOverrideForABareBody() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-inspect-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let body = "--b1\r\nContent-Type: application/soap+xml\r\nContent-ID: <r@x>\r\n\r\n" +
            (try String(contentsOfFile: GatewayProcess.vector("phase4/usermessage-unsigned/UserMessage12.xml"), encoding: .utf8)) +
            "\r\n--b1--\r\n"
        let file = dir.appendingPathComponent("body.bin")
        try Data(body.utf8).write(to: file)
        let r = try GatewayProcess.run(["inspect", file.path, "--content-type", #"multipart/related; boundary=b1; type="application/soap+xml""#])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.json?["multipart"] as? Bool, true)
        let bad = try GatewayProcess.run(["inspect", file.path, "--content-type", "multipart/related; boundary=zzz"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.json?["error"] as? String, "EBMS:0007")
    }
}
