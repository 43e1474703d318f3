import XCTest
@testable import Routing

final class JSONReaderTests: XCTestCase {
    func testKeepsLineAndColumnOfEveryValueAndKey() throws {
        let text = "{\n  \"a\": [1, true,\n        \"x\"],\n\t\"b\": {\"c\": null}\n}"
        let root = try JSONReader.parse(text)
        XCTAssertEqual(root.location, JSONLocation(line: 1, column: 1))
        let members = try XCTUnwrap(root.members)
        XCTAssertEqual(members.map(\.key), ["a", "b"])
        XCTAssertEqual(members[0].keyLocation, JSONLocation(line: 2, column: 3))
        XCTAssertEqual(members[0].value.location, JSONLocation(line: 2, column: 8))
        let elements = try XCTUnwrap(members[0].value.elements)
        XCTAssertEqual(elements.map(\.location), [JSONLocation(line: 2, column: 9), JSONLocation(line: 2, column: 12),
                                                  JSONLocation(line: 3, column: 9)])
        XCTAssertEqual(members[1].keyLocation, JSONLocation(line: 4, column: 2), "a tab is one column")
        let inner = try XCTUnwrap(members[1].value.members)
        XCTAssertEqual(inner[0].value.location, JSONLocation(line: 4, column: 13))
    }

    func testColumnsCountCharactersNotBytes() throws {
        let root = try JSONReader.parse("{\"ā\": \"Rīga\", \"x\": 1}")
        let members = try XCTUnwrap(root.members)
        XCTAssertEqual(members[0].key, "ā")
        XCTAssertEqual(members[0].value.string, "Rīga")
        XCTAssertEqual(members[1].keyLocation, JSONLocation(line: 1, column: 15))
    }

    func testStringEscapes() throws {
        let root = try JSONReader.parse(#"["a\"b\\c\/d\n\t\u0041\u00e9\ud83d\ude00"]"#)
        XCTAssertEqual(root.elements?.first?.string, "a\"b\\c/d\n\tAé😀")
    }

    func testNumbersKeepTheirLiteral() throws {
        let root = try JSONReader.parse("[5, 5.0, -1e3, 0.25, 12345678901234567890]")
        let e = try XCTUnwrap(root.elements)
        XCTAssertEqual(e[0].integer, 5)
        XCTAssertNil(e[1].integer, "5.0 is a number but not an integer")
        XCTAssertEqual(e[1].double, 5)
        XCTAssertEqual(e[2].double, -1000)
        XCTAssertEqual(e[3].double, 0.25)
        XCTAssertNil(e[4].integer, "does not fit an Int")
    }

    func testByteOrderMarkIsSkipped() throws {
        let root = try JSONReader.parse([0xEF, 0xBB, 0xBF] + Array("{\"a\": 1}".utf8))
        XCTAssertEqual(root.members?.first?.keyLocation, JSONLocation(line: 1, column: 2))
    }

    func testSyntaxErrorsArePositioned() {
        assertSyntaxError("{\n  \"a\": 1,\n}", line: 3, column: 1, contains: "trailing comma")
        assertSyntaxError("[1, 2,]", line: 1, column: 7, contains: "trailing comma")
        assertSyntaxError("{\"a\": 1 \"b\": 2}", line: 1, column: 9, contains: "expected ',' or '}'")
        assertSyntaxError("{\"a\": 1, \"a\": 2}", line: 1, column: 10, contains: "duplicate key \"a\" (first at 1:2)")
        assertSyntaxError("{\"a\": True}", line: 1, column: 7, contains: "'True'")
        assertSyntaxError("{\"a\": 01}", line: 1, column: 8, contains: "leading zeros")
        assertSyntaxError("{\"a\": \"x\ny\"}", line: 1, column: 9, contains: "control character")
        assertSyntaxError("{\"a\": \"\\q\"}", line: 1, column: 10, contains: "invalid escape")
        assertSyntaxError("[\"\\ud800\"]", line: 1, column: 9, contains: "low surrogate")
        assertSyntaxError("{\"a\": 1", line: 1, column: 8, contains: "expected ',' or '}'")
        assertSyntaxError("{} {}", line: 1, column: 4, contains: "after the top-level value")
        assertSyntaxError("// comment\n{}", line: 1, column: 1, contains: "expected a value")
        assertSyntaxError("", line: 1, column: 1, contains: "end of file")
    }

    func testRefusesInvalidUTF8AndDeepNesting() {
        XCTAssertThrowsError(try JSONReader.parse([0x7B, 0xFF, 0x7D]))
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertThrowsError(try JSONReader.parse(deep)) { error in
            XCTAssertTrue((error as? JSONSyntaxError)?.message.contains("nested deeper") ?? false)
        }
    }

    func testWriterOutputReadsBack() throws {
        let value = JSONOutput.object([("id", .string("x \"quoted\" \u{01}")), ("n", .integer(3)), ("f", .number(0.5)),
                                       ("list", .array([.string("a"), .bool(true), .null])), ("empty", .object([]))])
        let text = JSONWriter.render(value)
        let root = try JSONReader.parse(text)
        XCTAssertEqual(root.members?.map(\.key), ["id", "n", "f", "list", "empty"])
        XCTAssertEqual(root.members?[0].value.string, "x \"quoted\" \u{01}")
        XCTAssertTrue(text.contains("\"list\": [\"a\", true, null]"), text)
    }

    private func assertSyntaxError(_ text: String, line: Int, column: Int, contains fragment: String,
                                   file: StaticString = #filePath, at testLine: UInt = #line) {
        do {
            _ = try JSONReader.parse(text)
            XCTFail("accepted \(text)", file: file, line: testLine)
        } catch {
            XCTAssertEqual(error.location, JSONLocation(line: line, column: column), "\(error.message)", file: file, line: testLine)
            XCTAssertTrue(error.message.contains(fragment), "\(error.message) lacks \(fragment)", file: file, line: testLine)
        }
    }
}
