@testable import AS4Gateway
import Foundation
import WSSecurity
import XCTest

/// The stored sent-references: what `encode` writes, `decode` reads back, in the shape the
/// Codable encoder wrote for rows stored before.
final class SentReferenceCodingTests: XCTestCase {
    func testRoundTripAndTheEarlierShape() throws {
        let refs = [SentReference(uri: "#_body \"quoted\" \\ end", transforms: ["http://www.w3.org/2001/10/xml-exc-c14n#"],
                                  digestMethod: "http://www.w3.org/2001/04/xmlenc#sha256", digestValue: [0, 1, 254, 255]),
                    SentReference(uri: "cid:p1@as4gw", transforms: [], digestMethod: "m", digestValue: [])]
        let text = SentReferenceCoding.encode(refs)
        XCTAssertEqual(SentReferenceCoding.decode(text), refs)
        XCTAssertEqual(try JSONDecoder().decode([SentReference].self, from: Data(text.utf8)), refs)
        let earlier = String(decoding: try JSONEncoder().encode(refs), as: UTF8.self)
        XCTAssertEqual(SentReferenceCoding.decode(earlier), refs)
        XCTAssertEqual(SentReferenceCoding.encode([]), "[]")
    }
}
