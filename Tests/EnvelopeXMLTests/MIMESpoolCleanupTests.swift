import EnvelopeXML
import Foundation
import XCTest

/// Spool files made while parsing (decoded base64 parts, de-chunked copies) are removed when the
/// parse fails later, and a de-chunked copy nobody refers to is removed on success too.
final class MIMESpoolCleanupTests: XCTestCase {
    private var spool: String!

    override func setUpWithError() throws {
        spool = NSTemporaryDirectory() + "/as4gw-spool-cleanup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: spool)
    }

    private var spoolFiles: [String] { (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? [] }

    /// Every decoded base64 part goes to a spool file.
    private var limits: MIMELimits {
        var l = MIMELimits()
        l.maxInMemoryDecodedSize = 4
        return l
    }

    private let root = "--b\r\nContent-Type: application/soap+xml\r\nContent-ID: <root>\r\n\r\n<e/>\r\n"
    private let decodedPart = "--b\r\nContent-Type: application/octet-stream\r\nContent-ID: <p1>\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n"

    private func parse(_ body: String, maxParts: Int? = nil) -> Error? {
        var l = limits
        if let maxParts { l.maxParts = maxParts }
        do {
            _ = try MultipartRelated.parse(.bytes(Array(body.utf8)), contentType: "multipart/related; boundary=b; type=\"application/soap+xml\"",
                                           limits: l, spoolDirectory: spool)
            return nil
        } catch {
            return error
        }
    }

    func testTheControlCaseKeepsItsDecodedFile() throws {
        XCTAssertNil(parse(root + decodedPart + "--b--\r\n"))
        XCTAssertEqual(spoolFiles.filter { $0.hasSuffix(".b64dec") }.count, 1, "the parse made a decoded spool file (the caller owns it)")
    }

    func testUnclosedBoundaryRemovesDecodedFiles() {
        XCTAssertNotNil(parse(root + decodedPart + "--b\r\nContent-ID: <p2>\r\n\r\nno end"))
        XCTAssertEqual(spoolFiles, [])
    }

    func testDuplicateContentIDRemovesDecodedFiles() {
        XCTAssertNotNil(parse(root + decodedPart + "--b\r\nContent-ID: <p1>\r\n\r\nagain\r\n--b--\r\n"))
        XCTAssertEqual(spoolFiles, [])
    }

    func testBadBase64InALaterPartRemovesDecodedFiles() {
        let bad = "--b\r\nContent-ID: <p2>\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
        XCTAssertNotNil(parse(root + decodedPart + bad + "--b--\r\n"))
        XCTAssertEqual(spoolFiles, [])
    }

    func testTooManyPartsRemovesDecodedFiles() {
        XCTAssertNotNil(parse(root + decodedPart + "--b\r\nContent-ID: <p2>\r\n\r\nx\r\n--b--\r\n", maxParts: 2))
        XCTAssertEqual(spoolFiles, [])
    }

    /// A chunked HTTP dump in a file is de-chunked into the spool.
    private func chunkedDump(_ body: String) throws -> String {
        let bytes = Array(body.utf8)
        let dump = "POST /as4 HTTP/1.1\r\nContent-Type: multipart/related; boundary=b; type=\"application/soap+xml\"\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + String(bytes.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
        let path = NSTemporaryDirectory() + "/as4gw-chunked-\(UUID().uuidString).http"
        try Data(dump.utf8).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { unlink(path) }
        return path
    }

    func testFailedLoadRemovesTheDechunkedCopy() throws {
        let path = try chunkedDump(root + decodedPart + "--b\r\nContent-ID: <p1>\r\n\r\nagain\r\n--b--\r\n")
        XCTAssertThrowsError(try MessageInput.load(path: path, limits: limits, spoolDirectory: spool))
        XCTAssertEqual(spoolFiles, [])
    }

    func testLoadWithoutAttachmentsInTheCopyRemovesIt() throws {
        let path = try chunkedDump(root + "--b--\r\n")
        let message = try MessageInput.load(path: path, limits: limits, spoolDirectory: spool)
        XCTAssertEqual(message.envelope, Array("<e/>".utf8))
        XCTAssertEqual(spoolFiles, [], "the envelope is in memory; the de-chunked copy is nobody's")
    }

    func testLoadWithAttachmentsKeepsTheCopyForThem() throws {
        let path = try chunkedDump(root + "--b\r\nContent-ID: <p2>\r\n\r\nplain\r\n--b--\r\n")
        let message = try MessageInput.load(path: path, limits: limits, spoolDirectory: spool)
        XCTAssertEqual(message.attachments.count, 1)
        XCTAssertEqual(spoolFiles.filter { $0.hasSuffix(".dechunked") }.count, 1, "the attachment is a range of it")
    }
}
