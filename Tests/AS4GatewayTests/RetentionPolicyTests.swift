@testable import AS4Gateway
import Foundation
import MessageStore
import XCTest

/// The `retention` configuration and the choice of a document's `retain_until`; the operators'
/// purge command's exit statuses.
final class RetentionPolicyTests: XCTestCase {
    func decode(_ json: String) throws -> GatewayConfiguration {
        try JSONDecoder().decode(GatewayConfiguration.self, from: Data(json.utf8))
    }

    func testConfigurationDefaultsPartialValuesAndRefusals() throws {
        XCTAssertEqual(try decode("{}").retention, RetentionConfiguration())
        XCTAssertEqual(RetentionConfiguration().days(for: .institution), 3650)
        XCTAssertEqual(RetentionConfiguration().days(for: .company), 1825)
        let partial = try decode("{\"retention\": {\"company\": 0, \"purgeIntervalSeconds\": 60}}").retention
        XCTAssertEqual(partial.company, 0)
        XCTAssertEqual(partial.institution, 3650, "members left out keep their default")
        XCTAssertEqual(partial.purgeIntervalSeconds, 60)
        XCTAssertThrowsError(try decode("{\"retention\": {\"naturalPerson\": -1}}"))
        XCTAssertThrowsError(try decode("{\"retention\": {\"purgeIntervalSeconds\": 0}}"))
        XCTAssertThrowsError(try decode("{\"retention\": {\"company\": \"long\"}}"))
        // The clock-jump bound: 24 hours unless set, from 1 to 720, at least two purge intervals.
        XCTAssertEqual(RetentionConfiguration().clockJumpBoundSeconds, 86_400)
        XCTAssertEqual(try decode("{\"retention\": {\"clockJumpBoundHours\": 6}}").retention.clockJumpBoundHours, 6)
        XCTAssertEqual(try decode("{\"retention\": {\"purgeIntervalSeconds\": 86400}}").retention.clockJumpBoundHours, 48,
                       "left out, it follows a long interval")
        for bad in ["0.5", "721", "-1"] {
            XCTAssertThrowsError(try decode("{\"retention\": {\"clockJumpBoundHours\": \(bad)}}"), bad)
        }
        XCTAssertThrowsError(try decode("{\"retention\": {\"clockJumpBoundHours\": 1, \"purgeIntervalSeconds\": 3600}}")) {
            XCTAssertTrue("\($0)".contains("twice purgeIntervalSeconds"), "\($0)")
        }
    }

    func testTheLongestRetentionAmongTheAddressesHeldHereApplies() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-retention-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let directory = try SQLiteAddressDirectory(dataDirectory: folder)
        defer { directory.close() }
        _ = try directory.importRecords([
            AddressRecord(address: "_DEFAULT@90000048472", ownerId: "90000048472", ownerKind: "institution"),
            AddressRecord(address: "_DEFAULT@40003032949", ownerId: "40003032949", ownerKind: "company"),
            AddressRecord(address: "ARHIVS@40003032949", ownerId: "40003032949", ownerKind: "company", retentionDays: 9000),
            AddressRecord(address: "_DEFAULT@40103000005", ownerId: "40103000005", ownerKind: "company", retentionDays: 20000, remote: true,
                          partyId: "gw-b", endpoint: "https://b.example/as4", certificates: ["sha256:" + String(repeating: "ab", count: 32)]),
        ], replace: false, at: Date())
        var config = RetentionConfiguration()
        config.company = 30
        config.institution = 100
        let policy = RetentionPolicy(configuration: config, directory: directory)
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        func days(_ addresses: [String]) throws -> Double { try policy.retainUntil(storedAt: t, addresses: addresses).timeIntervalSince(t) / 86_400 }
        XCTAssertEqual(try days(["_DEFAULT@40003032949"]), 30, "the owner kind's days")
        XCTAssertEqual(try days(["_DEFAULT@40003032949", "_DEFAULT@90000048472"]), 100, "the longest of sender and recipients")
        XCTAssertEqual(try days(["_DEFAULT@90000048472", "ARHIVS@40003032949"]), 9000, "an address's own retentionDays")
        XCTAssertEqual(try days(["_DEFAULT@40003032949", "_DEFAULT@40103000005"]), 30, "an address served elsewhere does not count")
        XCTAssertEqual(try days(["_DEFAULT@40103000005", "_DEFAULT@40003000008"]), 1825, "none held here: the longest configured kind")
    }

    func testANegativeRetentionStopsTheStartWithItsPlace() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("retention-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "{\"retention\": {\"naturalPerson\": -1}}".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try GatewayProcess.run(["serve", "--config", path, "--check-config"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("retention.naturalPerson: retention days cannot be negative"), r.stderr)
        // Nor beyond a thousand years (the store's timestamps would overflow).
        try "{\"retention\": {\"institution\": 1000000000000}}".write(toFile: path, atomically: true, encoding: .utf8)
        let long = try GatewayProcess.run(["serve", "--config", path, "--check-config"])
        XCTAssertEqual(long.status, 2)
        XCTAssertTrue(long.stderr.contains("retention.institution: at most 365250 days"), long.stderr)
    }

    func testPurgeCommandExitStatuses() throws {
        XCTAssertEqual(try GatewayProcess.run(["retention", "purge", "--bogus"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["retention", "shred"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["retention", "purge", "--data", "/nonexistent/as4gw"]).status, 1)
        XCTAssertEqual(try GatewayProcess.run(["directory", "limits", "not-an-address", "--data", "/nonexistent/as4gw"]).status, 2)
        XCTAssertEqual(try GatewayProcess.run(["directory", "limits", "_DEFAULT@40003032949", "--data", "/nonexistent/as4gw"]).status, 1)
    }
}
