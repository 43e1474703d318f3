import Foundation
@testable import MessageStore
import XCTest

/// Stored files are checked against their recorded size and digest; an unchanged file is hashed
/// once, a changed one again.
final class PayloadIntegrityTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "as4gw-integrity-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testEachDamageIsNamedAndAnIntactFileIsHashedOnceWhileUnchanged() throws {
        let bytes = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let store = PayloadDirectory(root: directory)
        let file = try store.store(.bytes(bytes), at: Date())
        let check = PayloadIntegrity()
        XCTAssertNoThrow(try check.verify(file))
        XCTAssertNoThrow(try check.verify(file))
        XCTAssertEqual(check.filesHashed, 1, "unchanged: known intact")

        // Same size, one byte other: the change stamps differ, the hash tells.
        var other = bytes
        other[2_000_000] ^= 1
        try other.write(to: URL(fileURLWithPath: file.path))
        XCTAssertThrowsError(try check.verify(file)) {
            guard case .wrongDigest(let path, let expected, _) = $0 as? PayloadDamage else { return XCTFail("\($0)") }
            XCTAssertEqual(path, file.path)
            XCTAssertEqual(expected, file.sha256)
        }
        XCTAssertEqual(check.filesHashed, 2)
        try bytes.write(to: URL(fileURLWithPath: file.path))
        XCTAssertNoThrow(try check.verify(file))

        XCTAssertEqual(truncate(file.path, 1000), 0)
        XCTAssertThrowsError(try check.verify(file)) {
            XCTAssertEqual($0 as? PayloadDamage, .wrongSize(path: file.path, expected: 3_000_000, found: 1000))
        }
        XCTAssertThrowsError(try PayloadIntegrity.checkSize(file)) { XCTAssertEqual(($0 as? PayloadDamage)?.kind, "wrong-size") }
        XCTAssertEqual(unlink(file.path), 0)
        XCTAssertThrowsError(try check.verify(file)) { XCTAssertEqual($0 as? PayloadDamage, .missing(path: file.path)) }
        XCTAssertThrowsError(try PayloadIntegrity.checkSize(file)) { XCTAssertEqual($0 as? PayloadDamage, .missing(path: file.path)) }
        XCTAssertThrowsError(try check.verify(StoredFile(path: directory, size: 0, sha256: ""))) {
            XCTAssertEqual($0 as? PayloadDamage, .notARegularFile(path: directory))
        }
    }
}
