import Foundation
import XCTest

/// `as4gw connections add` with an address another connection holds: holding an address is
/// reading its mailbox and its sent documents, so a second holder is refused (storing nothing)
/// unless `--shared` asks for it; a revoked holder holds nothing.
final class ConnectionSharingCommandTests: XCTestCase {
    static let company = "_DEFAULT@40003032949", institution = "_DEFAULT@90000048472"

    func testAnAddressHeldByAnotherConnectionIsSharedOnlyWhenAskedFor() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("sharing-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        func add(_ name: String, _ extra: [String]) throws -> GatewayProcess.Result {
            try GatewayProcess.run(["connections", "add", name, "--data", data] + extra)
        }
        func names() throws -> [String] {
            try GatewayProcess.run(["connections", "list", "--data", data]).stdout.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["name"] as? String
            }
        }
        XCTAssertEqual(try add("dms2", ["--address", Self.company]).status, 0)

        // Another spelling of the same address, beside a free one: refused whole, the holder named.
        let refused = try add("dms4", ["--address", "_default@40003032949", "--address", Self.institution])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stdout.isEmpty, "no token printed: \(refused.stdout)")
        XCTAssertTrue(refused.stderr.contains("\(Self.company) is held by connection dms2 already"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("reads its mailbox, its notifications and the documents sent from it"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("Give --shared"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains(Self.institution), "only the held address is named: \(refused.stderr)")
        XCTAssertEqual(try names(), ["dms2"], "nothing stored")

        // The same name again is the store's name conflict, not a sharing question.
        let again = try add("dms2", ["--address", Self.company])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("a connection named dms2 exists"), again.stderr)

        // Asked for: stored, and said so.
        let shared = try add("dms4", ["--address", Self.company, "--shared"])
        XCTAssertEqual(shared.status, 0, shared.stderr)
        XCTAssertEqual(shared.json?["addresses"] as? [String], [Self.company])
        XCTAssertTrue(shared.stderr.contains("shared on purpose (--shared): \(Self.company) is held by connection dms2 already"), shared.stderr)

        // Once both holders are revoked the address is free again.
        for name in ["dms2", "dms4"] { XCTAssertEqual(try GatewayProcess.run(["connections", "revoke", name, "--data", data]).status, 0) }
        let fresh = try add("dms5", ["--address", Self.company])
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertTrue(fresh.stderr.isEmpty, fresh.stderr)
        XCTAssertEqual(try names(), ["dms2", "dms4", "dms5"])
    }
}
