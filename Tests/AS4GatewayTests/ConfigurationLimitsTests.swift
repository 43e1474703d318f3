@testable import AS4Gateway
import Foundation
import Routing
import XCTest

/// docs/config.schema.json and the daemon agree on every number's range: the schema once allowed
/// `maxMessageBytes: 1` or `outboundWorkers: 1000`, which an editor passed and `serve` refused.
final class ConfigurationLimitsTests: XCTestCase {
    var dir: URL!
    let pmode = GatewayProcess.projectRoot.appendingPathComponent("pmode").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("as4gw-limits-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func schema() throws -> [String: Any] {
        let url = GatewayProcess.projectRoot.appendingPathComponent("docs/config.schema.json")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func bound(_ property: [String: Any], _ name: String) -> Double? { (property[name] as? NSNumber)?.doubleValue }

    /// Every numeric setting of the schema has the daemon's bounds, and every bound of the
    /// daemon is in the schema.
    func testSchemaStatesTheDaemonsBounds() throws {
        let properties = try XCTUnwrap(try schema()["properties"] as? [String: [String: Any]])
        let limits = Dictionary(uniqueKeysWithValues: GatewayConfiguration.limits.map { ($0.name, $0) })
        for (name, property) in properties where ["number", "integer"].contains(property["type"] as? String) {
            guard let limit = limits[name] else { XCTFail("\(name): a number without a limit in GatewayConfiguration.limits"); continue }
            XCTAssertEqual(property["type"] as? String, limit.integer ? "integer" : "number", name)
            XCTAssertEqual(bound(property, "minimum"), limit.range.lowerBound, "\(name) minimum")
            XCTAssertEqual(bound(property, "maximum"), limit.range.upperBound.isFinite ? limit.range.upperBound : nil, "\(name) maximum")
            XCTAssertNil(property["exclusiveMinimum"], name)
            XCTAssertNil(property["exclusiveMaximum"], name)
        }
        XCTAssertEqual(Set(limits.keys).subtracting(properties.keys), [], "limits the schema does not describe")

        let retention = try XCTUnwrap((properties["retention"]?["properties"]) as? [String: [String: Any]])
        for kind in ["institution", "company", "naturalPerson"] {
            XCTAssertEqual(bound(retention[kind] ?? [:], "minimum"), 0, kind)
            XCTAssertEqual(bound(retention[kind] ?? [:], "maximum"), Double(DirectoryEntry.Limits.maximumRetentionDays), kind)
        }
        XCTAssertEqual(bound(retention["purgeIntervalSeconds"] ?? [:], "minimum"), 1)
        XCTAssertEqual(bound(retention["clockJumpBoundHours"] ?? [:], "minimum"), RetentionConfiguration.clockJumpBoundRange.lowerBound)
        XCTAssertEqual(bound(retention["clockJumpBoundHours"] ?? [:], "maximum"), RetentionConfiguration.clockJumpBoundRange.upperBound)
    }

    func check(_ values: [String: Double]) throws -> GatewayProcess.Result {
        let path = dir.appendingPathComponent("limits-\(UUID().uuidString.prefix(6)).json").path
        let body = values.map { name, value in
            let integer = GatewayConfiguration.limits.first { $0.name == name }?.integer ?? false
            return "\"\(name)\": " + (integer ? String(format: "%.0f", value) : "\(value)")
        }
        try ("{" + body.joined(separator: ", ") + "}").write(toFile: path, atomically: true, encoding: .utf8)
        return try GatewayProcess.run(["serve", "--check-config", "--config", path, "--pmode", pmode, "--data", dir.appendingPathComponent("d").path])
    }

    /// The bounds themselves pass `serve --check-config`; one step outside is refused, naming the setting.
    func testBoundaryValuesThroughCheckConfig() throws {
        let limits = GatewayConfiguration.limits
        var lower: [String: Double] = [:], upper: [String: Double] = [:], below: [String: Double] = [:], above: [String: Double] = [:]
        for limit in limits {
            let (low, high) = (limit.range.lowerBound, limit.range.upperBound)
            lower[limit.name] = low
            below[limit.name] = limit.integer ? low - 1 : (low == 0 ? -1 : low / 2)
            if high.isFinite {
                upper[limit.name] = high
                above[limit.name] = limit.integer ? high + 1 : high * 1.001
            }
        }
        let atLower = try check(lower)
        // At the lower bounds only the lease rule (lease above both timeouts) may complain.
        let rangeComplaints = atLower.stderr.split(separator: "\n").filter { $0.contains(") must be ") }
        XCTAssertEqual(rangeComplaints, [], atLower.stderr)
        XCTAssertTrue(atLower.stderr.contains("leaseSeconds (0.001) must exceed"), atLower.stderr)
        let atUpper = try check(upper)
        XCTAssertEqual(atUpper.status, 0, atUpper.stderr)
        for (name, values) in [("below", below), ("above", above)] {
            let r = try check(values)
            XCTAssertEqual(r.status, 2, name)
            for limit in values.keys { XCTAssertTrue(r.stderr.contains("\(limit) ("), "\(limit) \(name) its range accepted:\n\(r.stderr)") }
        }
    }
}
