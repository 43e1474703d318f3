import AS4Crypto
import Foundation
import XCTest

final class DigestTests: XCTestCase {
    func testKnownAnswersForABC() throws {
        let abc = Array("abc".utf8)
        XCTAssertEqual(try Digest.sha256(abc).hexString, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(try Digest.hash(abc, algorithm: .sha1).hexString, "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(try Digest.hash(abc, algorithm: .sha384).hexString,
                       "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")
        XCTAssertEqual(try Digest.hash(Data("abc".utf8), algorithm: .sha512).hexString,
                       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
    }

    func testStreamingMatchesOneShot() throws {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for algorithm in DigestAlgorithm.allCases {
            let context = try DigestContext(algorithm: algorithm)
            var offset = 0
            for size in [0, 1, 63, 64, 65, 4096, 99_999] {
                let end = min(offset + size, data.count)
                try context.update(data[offset..<end])
                offset = end
            }
            try context.update(data[offset...])
            let digest = try context.finalize()
            XCTAssertEqual(digest, try Digest.hash(data, algorithm: algorithm))
            XCTAssertEqual(digest.count, algorithm.outputByteCount)
            XCTAssertThrowsError(try context.finalize(), "finalize twice")
        }
    }

    func testFileDigest() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("as4crypto-digest-\(UUID().uuidString)")
        var data = Data(count: (1 << 20) + 17)  // just over one read chunk
        data[5] = 1
        data[data.count - 1] = 2
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertEqual(try Digest.hash(contentsOf: url, algorithm: .sha256), try Digest.sha256(data))
    }

    func testURIsAndConstantTimeCompare() {
        XCTAssertEqual(DigestAlgorithm(xmlURI: "http://www.w3.org/2001/04/xmlenc#sha256"), .sha256)
        XCTAssertNil(DigestAlgorithm(xmlURI: "http://www.w3.org/2001/04/xmldsig-more#md5"))
        XCTAssertTrue(Digest.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(Digest.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(Digest.constantTimeEquals([1, 2, 3], [1, 2]))
        XCTAssertTrue(Digest.constantTimeEquals([UInt8](), [UInt8]()))
    }

    func testSecureRandom() throws {
        let a = try SecureRandom.bytes(32)
        let b = try SecureRandom.bytes(32)
        XCTAssertEqual(a.count, 32)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(try SecureRandom.bytes(0), [])
    }
}
