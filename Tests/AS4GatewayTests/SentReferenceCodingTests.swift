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

    /// Other key orders, whitespace and escapes are read; anything that is not this shape is nil,
    /// so no receipt can then be accepted against it.
    func testOtherSpellingsAndRefusals() throws {
        let ref = SentReference(uri: "cid:é/ü\u{1F600}", transforms: ["t1", "t2"], digestMethod: "m\n", digestValue: [255, 0, 7])
        let spelled = #" [ { "digestValue" : [ 255 , 0,7 ] , "digestMethod":"m\n", "transforms":["t1","t\u0032"],"#
            + #" "uri": "cid:\u00e9\/\u00FC\ud83d\ude00" } ] "#
        XCTAssertEqual(SentReferenceCoding.decode(spelled), [ref])
        XCTAssertEqual(SentReferenceCoding.decode(SentReferenceCoding.encode([ref])), [ref])
        XCTAssertEqual(SentReferenceCoding.decode("[]"), [])
        for bad in [nil, "", "[", "{}", "[{}]", "null", "[] x", #"[{"uri":"a","transforms":[],"digestMethod":"m"}]"#,
                    #"[{"uri":"a","transforms":[],"digestMethod":"m","digestValue":[256]}]"#,
                    #"[{"uri":"a","transforms":[],"digestMethod":"m","digestValue":[-1]}]"#,
                    #"[{"uri":"a","transforms":[],"digestMethod":"m","digestValue":[1],"extra":1}]"#,
                    #"[{"uri":"a","uri":"b","transforms":[],"digestMethod":"m","digestValue":[1]}]"#,
                    #"[{"uri":"a\ud800","transforms":[],"digestMethod":"m","digestValue":[1]}]"#,
                    #"[{"uri":"a\q","transforms":[],"digestMethod":"m","digestValue":[1]}]"#,
                    "[{\"uri\":\"a\u{1}\",\"transforms\":[],\"digestMethod\":\"m\",\"digestValue\":[1]}]",
                    #"[{"uri":"a","transforms":[],"digestMethod":"m","digestValue":[1]},]"#] as [String?] {
            XCTAssertNil(SentReferenceCoding.decode(bad), bad ?? "nil")
        }
    }
}
