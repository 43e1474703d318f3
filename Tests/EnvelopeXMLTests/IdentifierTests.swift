import EnvelopeXML
import XCTest

/// Message ids: random UUIDs, and UUIDs derived from a digest (the same digest, the same id).
final class IdentifierTests: XCTestCase {
    func testADerivedUUIDIsTheDigestsFirstBytesWithVersion8AndTheRFCVariant() {
        let digest: [UInt8] = Array(0..<32)
        let id = Identifier.uuid(fromDigest: digest)
        XCTAssertEqual(id, "00010203-0405-8607-8809-0a0b0c0d0e0f")
        XCTAssertEqual(Identifier.uuid(fromDigest: digest), id, "the same digest, the same id")
        XCTAssertNotEqual(Identifier.uuid(fromDigest: [1] + digest.dropFirst()), id)
        XCTAssertEqual(Identifier.uuid(fromDigest: [UInt8](repeating: 0xFF, count: 16)), "ffffffff-ffff-8fff-bfff-ffffffffffff")
    }

    func testARandomUUIDIsVersion4() {
        let id = Array(Identifier.uuid())
        XCTAssertEqual(id.count, 36)
        XCTAssertEqual(id[14], "4")
        XCTAssertTrue("89ab".contains(id[19]), String(id))
        XCTAssertNotEqual(Identifier.uuid(), Identifier.uuid())
    }
}
