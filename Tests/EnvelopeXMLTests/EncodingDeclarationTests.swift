import Foundation
import XCTest
@testable import EnvelopeXML

/// A byte order mark and an XML declaration that name different encodings are refused by the
/// tree parse and the streaming canonicaliser alike: libxml2 would read the declaration's, other
/// parsers the mark's, so what is signed and what a backend reads could differ.
final class EncodingDeclarationTests: XCTestCase {
    static let utf8Mark: [UInt8] = [0xEF, 0xBB, 0xBF]

    func utf16(_ text: String, littleEndian: Bool) -> [UInt8] {
        (littleEndian ? [0xFF, 0xFE] : [0xFE, 0xFF]) + text.utf16.flatMap {
            littleEndian ? [UInt8($0 & 0xFF), UInt8($0 >> 8)] : [UInt8($0 >> 8), UInt8($0 & 0xFF)]
        }
    }

    func streamed(_ document: [UInt8], chunkSize: Int) throws {
        try StreamingCanonicalizer.exclusive(.bytes(document), limits: .payload, chunkSize: chunkSize) { _ in }
    }

    func assertRefused(_ document: [UInt8], naming declared: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try XMLDocument(parsing: document, limits: .payload), file: file, line: line) {
            XCTAssertTrue("\($0)".contains("byte order mark but declares encoding \"\(declared)\""), "\($0)", file: file, line: line)
        }
        for size in [1, 5, 64, 65_536] {
            XCTAssertThrowsError(try streamed(document, chunkSize: size), "\(size)-byte pieces", file: file, line: line) {
                XCTAssertTrue("\($0)".contains("declares encoding \"\(declared)\""), "\($0)", file: file, line: line)
            }
        }
    }

    func assertTaken(_ document: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNoThrow(try XMLDocument(parsing: document, limits: .payload), file: file, line: line)
        for size in [1, 5, 64, 65_536] {
            XCTAssertNoThrow(try streamed(document, chunkSize: size), "\(size)-byte pieces", file: file, line: line)
        }
    }

    func testAMarkThatContradictsTheDeclarationIsRefused() {
        // Read by its declaration here, "Ã©" would be "é" to a parser that follows the mark.
        assertRefused(Self.utf8Mark + Array("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>\u{E9}</r>".utf8), naming: "ISO-8859-1")
        assertRefused(Self.utf8Mark + Array("<?xml version='1.0' encoding = 'windows-1257' ?><r/>".utf8), naming: "windows-1257")
        assertRefused(utf16("<?xml version=\"1.0\" encoding=\"UTF-16BE\"?><r/>", littleEndian: true), naming: "UTF-16BE")
        assertRefused(utf16("<?xml version=\"1.0\" encoding=\"UTF-8\"?><r/>", littleEndian: false), naming: "UTF-8")
    }

    func testAgreeingOrUndeclaredEncodingsAreTaken() {
        assertTaken(Self.utf8Mark + Array("<?xml version=\"1.0\" encoding=\"utf-8\"?><r>\u{E9}</r>".utf8))
        assertTaken(Self.utf8Mark + Array("<?xml version=\"1.0\"?><r/>".utf8))
        assertTaken(Self.utf8Mark + Array("<r/>".utf8))
        assertTaken(utf16("<?xml version=\"1.0\" encoding=\"UTF-16\"?><r>\u{E9}</r>", littleEndian: true))
        assertTaken(utf16("<?xml version=\"1.0\" encoding=\"UTF-16\"?><r/>", littleEndian: false))
        assertTaken(utf16("<r/>", littleEndian: true))
        // No mark: the declaration alone decides, as every parser agrees.
        assertTaken(Array("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>\u{E9}</r>".data(using: .isoLatin1)!))
        // "encoding" in a comment or an element after the declaration is not a declaration.
        assertTaken(Self.utf8Mark + Array("<?xml version=\"1.0\"?><!-- encoding=\"ISO-8859-1\" --><r encoding=\"x\"/>".utf8))
    }
}
