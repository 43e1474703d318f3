import Foundation
import XCTest

/// `as4gw connections add --role`: operator and lookup connections need no address; an unknown
/// role or a connection with neither is a usage error that stores nothing.
final class ConnectionRolesCommandTests: XCTestCase {
    func testRolesAreGrantedListedAndCheckedByName() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("roles-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let added = try GatewayProcess.run(["connections", "add", "ops", "--role", "operator", "--role", "lookup", "--data", data])
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertEqual(added.json?["roles"] as? [String], ["lookup", "operator"])
        XCTAssertEqual(added.json?["addresses"] as? [String], [])

        let bogus = try GatewayProcess.run(["connections", "add", "x", "--role", "auditor", "--data", data])
        XCTAssertEqual(bogus.status, 2)
        XCTAssertTrue(bogus.stderr.contains("--role auditor: not one of operator, lookup"), bogus.stderr)
        let empty = try GatewayProcess.run(["connections", "add", "y", "--data", data])
        XCTAssertEqual(empty.status, 2)
        XCTAssertTrue(empty.stderr.contains("at least one --address or --role"), empty.stderr)

        let listed = try GatewayProcess.run(["connections", "list", "--data", data])
        let lines = listed.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "the refused ones stored nothing")
        XCTAssertTrue(lines.first?.contains("\"roles\":[\"lookup\",\"operator\"]") ?? false, listed.stdout)
    }
}
