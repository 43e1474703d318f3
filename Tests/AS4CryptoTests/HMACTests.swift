import AS4Crypto
import XCTest

/// HMAC-SHA256 against RFC 4231's test cases.
final class HMACTests: XCTestCase {
    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    func testRFC4231Cases() throws {
        XCTAssertEqual(hex(try HMAC.sha256(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8))),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertEqual(hex(try HMAC.sha256(key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8))),
                       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // A key longer than the block size is hashed first (case 6).
        XCTAssertEqual(hex(try HMAC.sha256(key: [UInt8](repeating: 0xaa, count: 131),
                                           data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))),
                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        XCTAssertThrowsError(try HMAC.sha256(key: [UInt8](), data: [1]))
    }
}
