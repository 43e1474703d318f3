import EnvelopeXML
import XCTest

/// The edges of the one "can XML 1.0 carry this text" rule the API and the evidence bundle share.
final class XMLTextTests: XCTestCase {
    func testTheEdgesOfXMLCharacters() {
        for allowed in ["", "plain", "\t", "\n", "\r", "a\tb\nc\r\nd", " ", "\u{7F}", "\u{FFFD}", "\u{FFFD}\u{10000}", "\u{10FFFF}", "Lēmums"] {
            XCTAssertTrue(XMLText.isCarriable(allowed), allowed.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
        }
        let refused = (0..<0x20).filter { ![0x09, 0x0A, 0x0D].contains($0) }.map { String(UnicodeScalar(UInt8($0))) }
            + ["\u{FFFE}", "\u{FFFF}", "ok\u{0}", "\u{1F}ok"]
        for text in refused {
            XCTAssertFalse(XMLText.isCarriable(text), text.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
        }
    }
}
