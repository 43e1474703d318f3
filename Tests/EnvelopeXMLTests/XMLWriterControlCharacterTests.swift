import EnvelopeXML
import XCTest

/// XML 1.0 cannot carry C0 control characters other than tab, LF and CR, not even as character
/// references: the writer puts U+FFFD in their place, so what it writes always parses.
final class XMLWriterControlCharacterTests: XCTestCase {
    func testControlCharactersAreReplacedAndTheOutputParses() throws {
        var w = XMLWriter()
        w.open("r", [("reason", "no\u{1}pe\u{0}\tx")])
        w.text("a\u{8}b\u{1F}c\nd")
        w.close("r")
        let text = String(decoding: w.bytes, as: UTF8.self)
        XCTAssertEqual(text, "<r reason=\"no\u{FFFD}pe\u{FFFD}&#x9;x\">a\u{FFFD}b\u{FFFD}c\nd</r>")
        XCTAssertNoThrow(try XMLDocument(parsing: text))
        // Values without them are copied as they were.
        var plain = XMLWriter()
        plain.element("e", text: "Lēmums Nr. 7 & <c>")
        XCTAssertEqual(String(decoding: plain.bytes, as: UTF8.self), "<e>Lēmums Nr. 7 &amp; &lt;c&gt;</e>")
    }
}
