@testable import AS4Gateway
import Foundation
import XCTest

/// The media types of document files: what survives, normalised, and what is refused.
final class FileMediaTypeTests: XCTestCase {
    func testTheCharsetSurvivesNormalisedAndOtherParametersDoNot() throws {
        let table: [(String, String)] = [
            ("text/plain; charset=windows-1257", "text/plain; charset=windows-1257"),
            ("Text/Plain;Charset=\"Windows-1257\"", "text/plain; charset=windows-1257"),
            ("text/plain ;charset=utf-8", "text/plain; charset=utf-8"),
            ("text/plain; charset=\"utf\\-8\"", "text/plain; charset=utf-8"),
            ("application/pdf", "application/pdf"),
            ("application/pdf;", "application/pdf"),
            ("text/csv; header=present; charset=ISO-8859-13", "text/csv; charset=iso-8859-13"),
            ("application/octet-stream; name=\"a; b.bin\"", "application/octet-stream"),
        ]
        for (text, expected) in table { XCTAssertEqual(try FileMediaType.parse(text).text, expected, text) }
        XCTAssertEqual(try FileMediaType.parse("text/plain; charset=windows-1257").charset, "windows-1257")
        XCTAssertEqual(try FileMediaType.parse("text/plain; charset=windows-1257").essence, "text/plain")
    }

    func testInjectionAndMalformedValuesAreRefused() {
        let bad = ["text/plain\r\nSet-Cookie: a=b", "text/plain; charset=utf-8\r\nX: y", "text/plain; charset=utf-8\n", "text/plain\u{0}",
                   "text", "/plain", "text/", "text/plain charset=utf-8", "text/plain; charset", "text/plain; charset=",
                   "text/plain; charset=\"utf-8", "text/plain; charset=a/b", "text/plain; charset=utf-8; charset=latin1",
                   "text/plain; charset=\"a b\"", "text/plain; charset=\"utf-8\r\n\"", "text/plain; charset = utf-8", "text/pla(in", "tëxt/plain",
                   "text/plain; charset=" + String(repeating: "a", count: 41)]
        for text in bad { XCTAssertThrowsError(try FileMediaType.parse(text), text.debugDescription) }
    }

    func testStoredValuesAreServedSafely() {
        XCTAssertEqual(FileMediaType.served("text/plain; charset=windows-1257"), "text/plain; charset=windows-1257")
        XCTAssertEqual(FileMediaType.served("text/plain; charset=\"a b\""), "text/plain")
        XCTAssertEqual(FileMediaType.served("text/plain\r\nX: y"), "application/octet-stream")
        XCTAssertEqual(FileMediaType.served("nonsense"), "application/octet-stream")
    }
}
