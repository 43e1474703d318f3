import Foundation
import XCTest

/// `as4gw companies` and `as4gw bench channel` as an operator runs them: exit codes, the
/// report's fields, and a benchmark that checks its own answers.
final class RecipientRegisterCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-companies-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testCompaniesImportShowsAndRefusesWithTheRightExitCodes() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try GatewayProcess.run(["companies"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["companies", "import", "--data", data]).status, 2, "no FILE")
        XCTAssertEqual(try GatewayProcess.run(["companies", "import", "a.csv", "--colour", "red"]).status, 2)
        let missing = try GatewayProcess.run(["companies", "import", dir.appendingPathComponent("none.csv").path, "--data", data])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("cannot read"), missing.stderr)

        let file = try write("r.csv", "regcode;name;type;closed;terminated\n40003032949;Latvenergo;AS;;\n40003000001;Beigas;SIA;L;2020-03-15\n")
        let imported = try GatewayProcess.run(["companies", "import", file, "--data", data])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertEqual(imported.stdout.split(separator: "\n").dropFirst().map(String.init),
                       ["added 2: 40003032949, 40003000001", "changed 0", "liquidated 1: 40003000001", "removed 0", "unchanged 0"])
        let again = try GatewayProcess.run(["companies", "import", file, "--data", data])
        XCTAssertTrue(again.stdout.contains("unchanged 2"), again.stdout)

        let shown = try GatewayProcess.run(["companies", "show", "40003000001", "--data", data])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertEqual(shown.json?["liquidated"] as? Bool, true)
        XCTAssertEqual(shown.json?["liquidationDate"] as? String, "2020-03-15T00:00:00.000Z")
        XCTAssertEqual(try GatewayProcess.run(["companies", "show", "40003032949", "--data", data]).json?["liquidated"] as? Bool, false)
        XCTAssertEqual(try GatewayProcess.run(["companies", "show", "50003000003", "--data", data]).status, 1)
    }

    func testTheChannelBenchmarkChecksItsAnswersAndPrintsItsFigures() throws {
        let r = try GatewayProcess.run(["bench", "channel", "--codes", "300", "--dir", dir.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let figures = try XCTUnwrap(r.json, r.stdout)
        XCTAssertEqual(figures["codes"] as? Double, 300)
        XCTAssertNotNil(figures["batch_ms_median"] as? Double)
        XCTAssertEqual(try GatewayProcess.run(["bench", "channel", "--codes", "two"]).status, 2)
    }

    func testTheMessagingPolicyIsCheckedWithTheConfiguration() throws {
        let pmode = GatewayProcess.projectRoot.appendingPathComponent("pmode").path, data = dir.appendingPathComponent("d").path
        let good = try write("good.json", "{\"messagingPolicy\": {\"personToPerson\": true, \"companyToPerson\": false}}")
        XCTAssertEqual(try GatewayProcess.run(["serve", "--check-config", "--config", good, "--data", data, "--pmode", pmode]).status, 0)
        let bad = try write("bad.json", "{\"messagingPolicy\": {\"personToPerson\": \"yes\"}}")
        let refused = try GatewayProcess.run(["serve", "--check-config", "--config", bad, "--data", data, "--pmode", pmode])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("messagingPolicy.personToPerson"), refused.stderr)
    }
}
