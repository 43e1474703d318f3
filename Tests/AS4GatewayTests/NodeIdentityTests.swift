@testable import AS4Gateway
import Foundation
import XCTest

/// A node keeps one id in its data directory: the same across restarts, another for another
/// data directory, whatever host name and path the two share.
final class NodeIdentityTests: XCTestCase {
    func testTheIdIsMadeOnceKeptAndOwnToItsDataDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("node-id-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let one = root.appendingPathComponent("one").path, two = root.appendingPathComponent("two").path
        for dir in [one, two] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let first = try NodeIdentity.load(dataDirectory: one)
        XCTAssertEqual(first.count, 16)
        XCTAssertEqual(try NodeIdentity.load(dataDirectory: one), first, "kept across restarts")
        XCTAssertNotEqual(try NodeIdentity.load(dataDirectory: two), first, "another data directory, another node")
        try "x\n".write(toFile: one + "/node-id", atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try NodeIdentity.load(dataDirectory: one), "x", "an unusable file is replaced")
        XCTAssertFalse(FileManager.default.fileExists(atPath: one + "/node-id.tmp"))
    }
}
