@testable import AS4Gateway
import Foundation
import XCTest

/// Document file names: refused paths and controls, RFC 8187 names, download headers.
final class DocumentFileNameTests: XCTestCase {
    func testNamesThatArePathsOrControlCharactersAreRefused() {
        for name in ["", ".", "..", "a/b", "..\\..\\evil.txt", "a\\b", "a\u{0}b", "a\nb", "a\tb", "a\u{7F}b", "a\u{85}b",
                     String(repeating: "ž", count: 128)] {
            XCTAssertThrowsError(try DocumentFileName.check(name), name.debugDescription)
        }
        for name in ["lēmums ž.pdf", "...", ".hidden", "a..b", "x \"quoted\".txt", String(repeating: "a", count: 255)] {
            XCTAssertEqual(try DocumentFileName.check(name), name)
        }
    }

    func testTheExtendedNameIsDecodedAndPreferred() throws {
        XCTAssertEqual(try DocumentFileName.fromForm(filename: nil, extended: "UTF-8''l%C4%93mums%20%C5%BE.pdf"), "lēmums ž.pdf")
        XCTAssertEqual(try DocumentFileName.fromForm(filename: "lemums.pdf", extended: "utf-8'lv'l%C4%93mums.pdf"), "lēmums.pdf")
        XCTAssertEqual(try DocumentFileName.fromForm(filename: "plain.txt", extended: nil), "plain.txt")
        for bad in ["l%C4%93mums.pdf", "ISO-8859-1''a.pdf", "UTF-8''%C4", "UTF-8''%ZZ.pdf", "UTF-8''a b.pdf", "UTF-8''..",
                    "UTF-8''%2E%2E%2Fx", "UTF-8''a%0D%0Ab"] {
            XCTAssertThrowsError(try DocumentFileName.fromForm(filename: "fine.pdf", extended: bad), bad)
        }
        XCTAssertThrowsError(try DocumentFileName.fromForm(filename: nil, extended: nil))
    }

    func testDownloadsCarryAnASCIIFallbackAndTheUTF8Name() {
        XCTAssertEqual(DocumentFileName.attachmentHeader("lēmums ž.pdf"),
                       "attachment; filename=\"l_mums _.pdf\"; filename*=UTF-8''l%C4%93mums%20%C5%BE.pdf")
        XCTAssertEqual(DocumentFileName.attachmentHeader("a \"b\"\\c;\r\n.txt"),
                       "attachment; filename=\"a \\\"b\\\"\\\\c;__.txt\"; filename*=UTF-8''a%20%22b%22%5Cc%3B%0D%0A.txt")
    }
}
