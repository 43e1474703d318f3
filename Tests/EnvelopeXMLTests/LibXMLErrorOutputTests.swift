import Foundation
import XCTest
@testable import EnvelopeXML

/// libxml2 prints some errors (input decoding, C14N) through its process-wide handler unless
/// told otherwise; found by fuzzing the envelope parser. Untrusted input must not be able to
/// write to the daemon's stderr: every such failure reaches the caller as an error instead.
final class LibXMLErrorOutputTests: XCTestCase {
    func testRefusedInputLeavesStderrUntouched() throws {
        // Bytes that are not Shift_JIS behind a declaration that says they are.
        let misencoded: [UInt8] = Array(#"<?xml version="1.0" encoding="Shift_JIS"?><a>"#.utf8) + [0x81, 0x00, 0x00, 0x00]
            + Array("</a>".utf8)
        // Exclusive C14N refuses relative namespace URIs.
        let relative = try XMLDocument(parsing: #"<a xmlns="relative"><b/></a>"#)
        let element = try XCTUnwrap(relative.root)

        let written = try Self.standardError {
            XCTAssertThrowsError(try XMLDocument(parsing: misencoded))
            XCTAssertThrowsError(try Canonicalizer.exclusive(element))
        }
        XCTAssertEqual(written, "")
    }

    /// The push parser (`StreamingCanonicalizer`) reports a conversion failure through libxml2's
    /// generic handler ("xmlParseChunk: encoder error"), not the structured one.
    func testAStreamedDocumentItsEncodingCannotConvertLeavesStderrUntouched() throws {
        let utf7 = Array(#"<?xml version="1.0" encoding="utf-7"?><s12\#u{1}\#u{1A}:Envelope></eb:Meope>"#.utf8)
        let written = try Self.standardError {
            for size in [1, 3, 7, 64, 4096] {
                XCTAssertThrowsError(try StreamingCanonicalizer.exclusive(.bytes(utf7), limits: .payload, chunkSize: size) { _ in })
            }
        }
        XCTAssertEqual(written, "")
    }

    /// What `body` writes to file descriptor 2.
    static func standardError(_ body: () throws -> Void) throws -> String {
        let path = NSTemporaryDirectory() + "as4gw-stderr-" + UUID().uuidString
        let capture = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        guard capture >= 0 else { throw POSIXError(.EIO) }
        defer { close(capture); unlink(path) }
        fflush(nil)
        let saved = dup(2)
        dup2(capture, 2)
        defer {
            fflush(nil)
            dup2(saved, 2)
            close(saved)
        }
        try body()
        fflush(nil)
        return try String(contentsOfFile: path, encoding: .utf8)
    }
}
