import Foundation
import XCTest
@testable import EnvelopeXML

/// Every malformed or hostile input is refused with EBMS:0007 and a reason naming the problem.
final class MIMEBadInputTests: XCTestCase {
    private typealias F = MIMETestFixtures
    private let type = "multipart/related; boundary=b; type=\"application/soap+xml\""
    private let root = "--b\r\nContent-Type: application/soap+xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n"

    private func parse(_ text: String, contentType: String? = nil, limits: MIMELimits = .default) throws -> MultipartRelated {
        try MultipartRelated.parse(.bytes(Array(text.utf8)), contentType: contentType ?? type, limits: limits)
    }

    private func expect(_ reason: String, file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> Any) {
        F.assertEbmsError(.mimeInconsistency, reason, file: file, line: line, body)
    }

    func testTruncatedMessageWithoutClosingDelimiter() {
        expect("MIME part 2: no closing delimiter \"--b--\" (message truncated)") {
            try self.parse(self.root + "--b\r\nContent-ID: <a>\r\n\r\nhalf a payl")
        }
        expect("MIME part 1: header section truncated") { try self.parse("--b\r\nContent-Type: application/soap") }
        // A delimiter at the very end without `--` is not a close delimiter either.
        expect("no closing delimiter") { try self.parse(self.root + "--b") }
    }

    func testMissingOrInvalidBoundaryParameter() {
        expect("multipart/related Content-Type has no boundary parameter") {
            try self.parse(self.root + "--b--", contentType: "multipart/related; type=\"application/soap+xml\"")
        }
        expect("boundary parameter is 71 characters (RFC 2046 allows 1 to 70)") {
            try self.parse(self.root, contentType: "multipart/related; boundary=" + String(repeating: "x", count: 71))
        }
        expect("boundary parameter is 0 characters") { try self.parse(self.root, contentType: "multipart/related; boundary=\"\"") }
        expect("boundary parameter contains characters not allowed") {
            try self.parse(self.root, contentType: "multipart/related; boundary=\"a\u{7f}b\"")
        }
        expect("expected multipart/related, got multipart/mixed") {
            try self.parse(self.root + "--b--", contentType: "multipart/mixed; boundary=b")
        }
    }

    func testWrongBoundary() {
        expect("boundary delimiter \"--other\" not found (wrong boundary or not a multipart body)") {
            try self.parse(self.root + "--b--\r\n", contentType: "multipart/related; boundary=other")
        }
        // A boundary that is a prefix of the real one must not match either.
        expect("boundary delimiter \"--MIME\" not found") {
            try self.parse("--MIMEBoundary_1\r\n\r\n<e/>\r\n--MIMEBoundary_1--", contentType: "multipart/related; boundary=MIME")
        }
        expect("multipart/related has no body parts") { try self.parse("--b--\r\n") }
    }

    func testStartNamingNoPart() {
        expect("start parameter <nothere@x> names no MIME part") {
            try self.parse(self.root + "--b--", contentType: self.type + "; start=\"<nothere@x>\"")
        }
        expect("empty start parameter") { try self.parse(self.root + "--b--", contentType: self.type + "; start=\"<>\"") }
    }

    func testDuplicateContentIDs() {
        // Different spellings of the same id are duplicates too.
        expect("duplicate Content-ID <a@x> in MIME parts 2 and 3") {
            try self.parse(self.root + "--b\r\nContent-ID: <a@x>\r\n\r\n1\r\n--b\r\nContent-Id: <cid:a%40x>\r\n\r\n2\r\n--b--")
        }
        expect("duplicate Content-ID <root> in MIME parts 1 and 2") {
            try self.parse(self.root + "--b\r\nContent-ID: <root>\r\n\r\n1\r\n--b--")
        }
        expect("MIME part 2: empty Content-ID") { try self.parse(self.root + "--b\r\nContent-ID: <>\r\n\r\n1\r\n--b--") }
    }

    /// RFC 2045 allows each once: two readers could take different ones.
    func testRepeatedContentTypeTransferEncodingOrContentID() {
        expect("MIME part 2: the Content-Type header appears 2 times (RFC 2045 allows it once)") {
            try self.parse(self.root + "--b\r\nContent-Type: application/gzip\r\nContent-ID: <a>\r\ncontent-type: text/plain\r\n\r\n1\r\n--b--")
        }
        expect("MIME part 2: the Content-Transfer-Encoding header appears 2 times") {
            try self.parse(self.root + "--b\r\nContent-Transfer-Encoding: binary\r\nContent-Transfer-Encoding: base64\r\n\r\nMQ==\r\n--b--")
        }
        expect("MIME part 1: the Content-ID header appears 2 times") {
            try self.parse("--b\r\nContent-Type: application/soap+xml\r\nContent-ID: <root>\r\nContent-Id: <other>\r\n\r\n<e/>\r\n--b--")
        }
        // Other fields may repeat (MIME headers not defined by the spec are ignored, ebMS3 5.1.2.1).
        XCTAssertNoThrow(try parse(root + "--b\r\nContent-ID: <a>\r\nX-Note: 1\r\nX-Note: 2\r\n\r\n1\r\n--b--"))
    }

    func testUnknownTransferEncoding() {
        expect("MIME part 2: unsupported Content-Transfer-Encoding \"quoted-printable\"") {
            try self.parse(self.root + "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3D\r\n--b--")
        }
        expect("MIME part 2: unsupported Content-Transfer-Encoding \"x-gzip\"") {
            try self.parse(self.root + "--b\r\nContent-Transfer-Encoding: x-gzip\r\n\r\n\r\n--b--")
        }
        expect("MIME part 2: invalid base64 content: character 0x2a outside the base64 alphabet") {
            try self.parse(self.root + "--b\r\nContent-Transfer-Encoding: base64\r\n\r\nTW*u\r\n--b--")
        }
        var limits = MIMELimits()
        limits.maxInMemoryDecodedSize = 4
        expect("MIME part 2: base64 part of 8 bytes is too large to decode in memory") {
            try self.parse(self.root + "--b\r\nContent-Transfer-Encoding: base64\r\n\r\nTWFuTWFu\r\n--b--", limits: limits)
        }
    }

    func testRootTypeMustMatchTheTypeParameterAndBeSOAP() {
        expect("root MIME part is text/xml but the type parameter says application/soap+xml") {
            try self.parse("--b\r\nContent-Type: text/xml\r\n\r\n<e/>\r\n--b--")
        }
        expect("root MIME part is application/octet-stream, not a SOAP envelope") {
            try self.parse("--b\r\nContent-Type: application/octet-stream\r\n\r\n<e/>\r\n--b--",
                           contentType: "multipart/related; boundary=b")
        }
        expect("root MIME part has no Content-Type") {
            try self.parse("--b\r\nContent-ID: <r>\r\n\r\n<e/>\r\n--b--")
        }
        // The root named by `start` is checked, not the first part.
        expect("root MIME part is application/gzip") {
            try self.parse(self.root + "--b\r\nContent-ID: <z>\r\nContent-Type: application/gzip\r\n\r\nx\r\n--b--",
                           contentType: self.type + "; start=\"<z>\"")
        }
    }

    func testTooManyPartsAndHeaders() {
        var limits = MIMELimits()
        limits.maxParts = 5
        let six = root + (1...5).map { "--b\r\nContent-ID: <p\($0)>\r\n\r\nx\r\n" }.joined() + "--b--"
        expect("more than 5 MIME parts") { try self.parse(six, limits: limits) }
        XCTAssertNoThrow(try parse(root + (1...4).map { "--b\r\nContent-ID: <p\($0)>\r\n\r\nx\r\n" }.joined() + "--b--",
                                   limits: limits))

        let manyHeaders = root + "--b\r\n" + (1...101).map { "X-H\($0): v\r\n" }.joined() + "\r\nx\r\n--b--"
        expect("MIME part 2: more than 100 header lines") { try self.parse(manyHeaders) }
        // Folding cannot be used to get around the limit: continuation lines count.
        let folded = root + "--b\r\nX-H: v\r\n" + String(repeating: " more\r\n", count: 100) + "\r\nx\r\n--b--"
        expect("MIME part 2: more than 100 header lines") { try self.parse(folded) }
        expect("MIME part 2: malformed header line 1 (expected name: value)") {
            try self.parse(self.root + "--b\r\nno colon here\r\n\r\nx\r\n--b--")
        }
        expect("MIME part 2: continuation line without a preceding header") {
            try self.parse(self.root + "--b\r\n folded\r\n\r\nx\r\n--b--")
        }
        expect("MIME part 2: control character in header line 1") {
            try self.parse(self.root + "--b\r\nX-A: a\u{0}b\r\n\r\nx\r\n--b--")
        }
    }

    func testRootAndTotalSizeLimits() {
        var limits = MIMELimits()
        limits.maxRootPartSize = 10
        expect("MIME part 1: root part exceeds 10 bytes") {
            try self.parse("--b\r\nContent-Type: application/soap+xml\r\n\r\n<e>0123456789</e>\r\n--b--", limits: limits)
        }
        XCTAssertNoThrow(try parse("--b\r\nContent-Type: application/soap+xml\r\n\r\n<e>456</e>\r\n--b--", limits: limits))
        limits = MIMELimits()
        limits.maxTotalSize = 20
        expect("message of 31 bytes exceeds the limit of 20 bytes") { try self.parse(String(repeating: "x", count: 31), limits: limits) }
    }

    /// A 200 MB header line is refused after reading about one window, without buffering it.
    func testHugeHeaderLineIsRefusedWithoutBufferingIt() throws {
        let dir = try MIMETemporaryDirectory()
        let path = dir.file("huge-header.mime")
        let size: UInt64 = 200 * 1024 * 1024
        // Real 'A's for the first MiB, then a sparse hole (zeros): no 200 MB in memory or on disk.
        let sink = try FileSink(path: path)
        try sink.write("--b\r\nContent-Type: application/soap+xml\r\nX-Long: ")
        try sink.write([UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20))
        try sink.close()
        XCTAssertEqual(truncate(path, off_t(size)), 0)
        let rssBefore = F.peakRSS()
        let started = Date()
        F.assertEbmsError(.mimeInconsistency, "MIME part 1: header line longer than 8192 bytes") {
            try MultipartRelated.parse(.file(path: path, offset: 0, length: size), contentType: self.type)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
        XCTAssertLessThan(F.peakRSS() - rssBefore, 16 << 20)
        // The same at the message level: a MIME entity whose own header block has the huge line.
        let entity = dir.file("huge-entity.mime")
        let entitySink = try FileSink(path: entity)
        try entitySink.write("MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=b\r\nX-Long: ")
        try entitySink.close()
        XCTAssertEqual(truncate(entity, off_t(size)), 0)
        F.assertEbmsError(.mimeInconsistency, "message headers: header line longer than 8192 bytes") {
            try MessageInput.load(path: entity)
        }
    }
}
